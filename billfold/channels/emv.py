"""EMVCo Merchant-Presented Mode QR payloads (EMV QRCPS MPM), the text inside an aggregated QR.

A payload is a string of data objects, each an ID (2 digits), a length (2 decimal digits,
01-99) and a value. ID "00" (payload format indicator "01") comes first and ID "63" (the CRC)
last; everything else may come in any order, and :func:`decode` remembers the order it saw so
that :func:`encode` reproduces a scanned payload byte for byte.

Characters. Lengths count characters, not bytes: a value such as "最佳运输" has length "04".
Python's ``len`` counts code points, which is what is used (a character outside the Basic
Multilingual Plane counts as one). The CRC is computed over the UTF-8 bytes of the text.
Fields of format "ans" (merchant name, city, additional data...) must use the EMV common
character set, printable ASCII; a Chinese merchant name belongs in the merchant information
language template (ID "64"), whose name and city are of format "S" (any Unicode).

Amounts are integer fen. EMV writes them as digits with at most one "." ("98.73", "98",
"98."), never zero, at most 13 characters; :func:`encode` always writes two decimals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from billfold.channels.emv_fields import (
    MAX_AMOUNT_FEN,
    AdditionalData,
    MerchantLanguage,
    check_ans,
    check_digits,
    check_fen,
    check_fits,
    check_percentage,
    frozen_fields,
    parse_amount,
    template_value,
)
from billfold.channels.emv_format import (
    ADDITIONAL_FIELDS,
    MANDATORY_TAGS,
    NETWORK_TAGS,
    TEMPLATE_TAGS,
    TWO_DIGITS,
    UNKNOWN_TAGS,
    DataObject,
    Initiation,
    TipIndicator,
    check_crc,
    crc16_ccitt_false,
    parse_tlv,
    tag_range,
    tlv,
)
from billfold.errors import InvalidInput
from billfold.money import format_yuan

__all__ = [
    "MAX_AMOUNT_FEN",
    "AdditionalData",
    "DataObject",
    "EmvPayload",
    "Initiation",
    "MerchantLanguage",
    "TipIndicator",
    "crc16_ccitt_false",
    "decode",
    "encode",
    "parse_amount",
    "parse_tlv",
    "tlv",
]

MAX_PAYLOAD_CHARS = 512
_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class EmvPayload:
    """An EMV MPM payload. Building one validates it; invalid payloads cannot exist.

    ``network_accounts`` holds merchant account IDs 02-25 (primitive values defined by card
    networks, e.g. "15"/"16" UnionPay); ``account_templates`` holds IDs 26-51, each an ordered
    mapping of sub-ID to value with "00" the globally unique identifier (AID, UUID or reverse
    domain name). ``unknown`` keeps IDs 65-99 (RFU and unreserved templates) as raw values.
    ``tag_order`` is the order :func:`decode` found the root IDs in; tags not listed are
    written in ascending order. A dynamic code without an amount is valid: the app prompts.
    """

    merchant_name: str
    merchant_city: str
    merchant_category_code: str
    account_templates: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    network_accounts: Mapping[str, str] = field(default_factory=dict, hash=False)
    initiation: Initiation | None = Initiation.STATIC
    amount_fen: int | None = None
    currency: str = "156"
    country: str = "CN"
    tip: TipIndicator | None = None
    convenience_fee_fen: int | None = None
    convenience_fee_percentage: str | None = None
    postal_code: str | None = None
    additional_data: AdditionalData | None = None
    language: MerchantLanguage | None = None
    unknown: Mapping[str, str] = field(default_factory=dict, hash=False)
    tag_order: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        check_ans(self.merchant_name, "tag 59 (merchant name)", 25)
        check_ans(self.merchant_city, "tag 60 (merchant city)", 15)
        check_digits(self.merchant_category_code, "tag 52 (merchant category code)", 4, "4900")
        check_digits(self.currency, "tag 53 (transaction currency, ISO 4217 numeric)", 3, "156")
        if not (isinstance(self.country, str) and re.fullmatch(r"[A-Z]{2}", self.country)):
            raise InvalidInput(
                f"tag 58 (country code) must be two capital letters such as 'CN', "
                f"found {self.country!r}"
            )
        if self.postal_code is not None:
            check_ans(self.postal_code, "tag 61 (postal code)", 10)
        if self.initiation is not None:
            object.__setattr__(self, "initiation", _enum(Initiation, self.initiation, "01"))
        if self.tip is not None:
            object.__setattr__(self, "tip", _enum(TipIndicator, self.tip, "55"))
        check_fen(self.amount_fen, "tag 54 (transaction amount)")
        self._check_fees()
        self._freeze_accounts()
        unknown = frozen_fields(self.unknown, "unknown tags", UNKNOWN_TAGS)
        object.__setattr__(self, "unknown", unknown)
        self._check_order()

    def _check_fees(self) -> None:
        fixed, percentage = self.convenience_fee_fen, self.convenience_fee_percentage
        check_fen(fixed, "tag 56 (convenience fee fixed)")
        if percentage is not None:
            check_percentage(percentage)
        if (fixed is not None) != (self.tip is TipIndicator.FIXED_FEE):
            raise InvalidInput(
                "tag 56 (convenience fee fixed) must be present exactly when tag 55 is '02'"
            )
        if (percentage is not None) != (self.tip is TipIndicator.PERCENTAGE_FEE):
            raise InvalidInput(
                "tag 57 (convenience fee percentage) must be present exactly when tag 55 is '03'"
            )

    def _freeze_accounts(self) -> None:
        network = frozen_fields(self.network_accounts, "merchant account information", NETWORK_TAGS)
        for tag, value in network.items():
            check_ans(value, f"tag {tag} (merchant account information)", 99)
        templates: dict[str, Mapping[str, str]] = {}
        for tag, fields in self.account_templates.items():
            label = f"tag {tag} (merchant account information)"
            if tag not in TEMPLATE_TAGS:
                raise InvalidInput(f"{label}: templates use tags 26-51")
            frozen = frozen_fields(fields, label, tag_range(0, 99))
            if "00" not in frozen:
                raise InvalidInput(f"{label}: sub-tag 00 (globally unique identifier) is missing")
            check_ans(frozen["00"], f"tag {tag}.00 (globally unique identifier)", 32)
            for sub, value in frozen.items():
                check_ans(value, f"tag {tag}.{sub}", 99)
            check_fits(template_value(frozen), label)
            templates[tag] = frozen
        if not network and not templates:
            raise InvalidInput("a payload needs merchant account information (tags 02-51)")
        object.__setattr__(self, "network_accounts", network)
        object.__setattr__(self, "account_templates", MappingProxyType(templates))

    def _check_order(self) -> None:
        order = tuple(self.tag_order)
        if len(set(order)) != len(order) or any(
            not TWO_DIGITS.fullmatch(tag) or tag in ("00", "63") for tag in order
        ):
            raise InvalidInput(f"tag_order {order!r} must list distinct IDs other than 00 and 63")
        object.__setattr__(self, "tag_order", order)

    @property
    def is_dynamic(self) -> bool:
        return self.initiation is Initiation.DYNAMIC

    def root_values(self) -> dict[str, str]:
        """The root data objects (without 00 and 63) as ID -> value."""
        values: dict[str, str] = {}
        if self.initiation is not None:
            values["01"] = self.initiation.value
        values.update(self.network_accounts)
        for tag, fields in self.account_templates.items():
            values[tag] = template_value(fields)
        values["52"] = self.merchant_category_code
        values["53"] = self.currency
        if self.amount_fen is not None:
            values["54"] = format_yuan(self.amount_fen)
        if self.tip is not None:
            values["55"] = self.tip.value
        if self.convenience_fee_fen is not None:
            values["56"] = format_yuan(self.convenience_fee_fen)
        if self.convenience_fee_percentage is not None:
            values["57"] = self.convenience_fee_percentage
        values["58"] = self.country
        values["59"] = self.merchant_name
        values["60"] = self.merchant_city
        if self.postal_code is not None:
            values["61"] = self.postal_code
        if self.additional_data is not None:
            values["62"] = self.additional_data.value()
        if self.language is not None:
            values["64"] = self.language.value()
        values.update(self.unknown)
        return values


def _enum(kind: type[_E], value: str, tag: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in kind)
        raise InvalidInput(f"tag {tag} must be one of {allowed}, found {value!r}") from None


# -- encode / decode ---------------------------------------------------------------------------


def encode(payload: EmvPayload) -> str:
    """The payload as QR text, ending in tag 63 with its CRC (4 uppercase hex digits)."""
    values = payload.root_values()
    order = [tag for tag in payload.tag_order if tag in values]
    order += sorted(tag for tag in values if tag not in order)
    body = tlv("00", "01") + "".join(tlv(tag, values[tag]) for tag in order) + "6304"
    text = body + f"{crc16_ccitt_false(body.encode('utf-8')):04X}"
    if len(text) > MAX_PAYLOAD_CHARS:
        raise InvalidInput(
            f"EMV payload is {len(text)} characters, at most {MAX_PAYLOAD_CHARS} allowed"
        )
    return text


def decode(text: str) -> EmvPayload:
    """Parse and check QR text; any defect raises :class:`InvalidInput` naming tag/position."""
    objects = parse_tlv(_well_formed_text(text))
    check_crc(text, objects)
    found = {obj.tag: obj for obj in objects[1:-1]}
    for tag, title in MANDATORY_TAGS:
        if tag not in found:
            raise InvalidInput(f"EMV payload has no tag {tag} ({title})")

    def value(tag: str) -> str | None:
        obj = found.get(tag)
        return None if obj is None else obj.value

    amount, fee, initiation, tip = value("54"), value("56"), value("01"), value("55")
    return EmvPayload(
        merchant_name=found["59"].value,
        merchant_city=found["60"].value,
        merchant_category_code=found["52"].value,
        account_templates={
            tag: _sub_objects(obj, "merchant account information")
            for tag, obj in found.items()
            if tag in TEMPLATE_TAGS
        },
        network_accounts={tag: obj.value for tag, obj in found.items() if tag in NETWORK_TAGS},
        initiation=None if initiation is None else _enum(Initiation, initiation, "01"),
        amount_fen=None if amount is None else parse_amount(amount),
        currency=found["53"].value,
        country=found["58"].value,
        tip=None if tip is None else _enum(TipIndicator, tip, "55"),
        convenience_fee_fen=(
            None if fee is None else parse_amount(fee, "tag 56 (convenience fee fixed)")
        ),
        convenience_fee_percentage=value("57"),
        postal_code=value("61"),
        additional_data=None if "62" not in found else _additional_data(found["62"]),
        language=None if "64" not in found else _language(found["64"]),
        unknown={tag: obj.value for tag, obj in found.items() if tag in UNKNOWN_TAGS},
        tag_order=tuple(found),
    )


def _well_formed_text(text: str) -> str:
    """``text`` itself when it is a Unicode string starting with the payload format indicator."""
    if not isinstance(text, str):
        raise InvalidInput(f"EMV payload must be a string, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"EMV payload position {exc.start}: character {text[exc.start]!r} is not valid Unicode"
        ) from None
    if not text.startswith("000201"):
        raise InvalidInput(
            f"EMV payload must start with '000201' (payload format indicator 01), "
            f"found {text[:6]!r}"
        )
    return text


def _sub_objects(obj: DataObject, title: str) -> dict[str, str]:
    """A template's sub-objects as sub-ID -> value; errors name the tag and the position."""
    subs = parse_tlv(obj.value, where=f"tag {obj.tag} ({title})", base=obj.position + 4)
    return {sub.tag: sub.value for sub in subs}


def _additional_data(obj: DataObject) -> AdditionalData:
    fields = _sub_objects(obj, "additional data")
    names = {sub: name for sub, name, _, _ in ADDITIONAL_FIELDS}
    known = {names[sub]: val for sub, val in fields.items() if sub in names}
    extra = {sub: val for sub, val in fields.items() if sub not in names}
    return AdditionalData(**known, extra=extra)


def _language(obj: DataObject) -> MerchantLanguage:
    fields = _sub_objects(obj, "language template")
    for sub, title in (("00", "language preference"), ("01", "merchant name")):
        if sub not in fields:
            raise InvalidInput(f"tag 64 (language template) has no sub-tag {sub} ({title})")
    return MerchantLanguage(
        language=fields.pop("00"),
        name=fields.pop("01"),
        city=fields.pop("02", None),
        extra=fields,
    )
