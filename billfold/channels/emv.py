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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from billfold.errors import InvalidInput
from billfold.money import format_yuan, parse_yuan

__all__ = [
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
MAX_AMOUNT_FEN = 999_999_999_999  # "9999999999.99" is the longest amount that fits 13 chars
_TWO_DIGITS = re.compile(r"[0-9]{2}")
_AMOUNT = re.compile(r"([0-9]+)(?:\.([0-9]*))?")
_ANS = re.compile(r"[\x20-\x7e]*")
_E = TypeVar("_E", bound=StrEnum)


class Initiation(StrEnum):
    """Point of initiation method (ID "01")."""

    STATIC = "11"  # the same code is shown for many transactions
    DYNAMIC = "12"  # a new code is shown for each transaction


class TipIndicator(StrEnum):
    """Tip or convenience indicator (ID "55")."""

    PROMPT = "01"  # the app asks the payer for a tip
    FIXED_FEE = "02"  # a fixed convenience fee follows in ID "56"
    PERCENTAGE_FEE = "03"  # a percentage convenience fee follows in ID "57"


@dataclass(frozen=True, slots=True)
class DataObject:
    """One ID/length/value triple; ``position`` is where its ID starts in the decoded text."""

    tag: str
    value: str
    position: int = 0


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no xor-out."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def tlv(tag: str, value: str) -> str:
    """Write one data object: ``tlv("59", "BEST TRANSPORT")`` -> ``"5914BEST TRANSPORT"``."""
    if not _TWO_DIGITS.fullmatch(tag):
        raise InvalidInput(f"EMV data object ID must be two digits, got {tag!r}")
    if not 1 <= len(value) <= 99:
        raise InvalidInput(
            f"tag {tag}: value is {len(value)} characters; a data object holds 1 to 99"
        )
    return f"{tag}{len(value):02d}{value}"


def parse_tlv(text: str, *, where: str = "payload", base: int = 0) -> list[DataObject]:
    """Split ``text`` into data objects; errors name ``where`` and the position (+ ``base``)."""
    objects: list[DataObject] = []
    seen: dict[str, int] = {}
    i = 0
    while i < len(text):
        pos = base + i
        if len(text) - i < 4:
            raise InvalidInput(
                f"{where} position {pos}: truncated data object {text[i:]!r}: "
                "an ID and a length need 4 characters"
            )
        tag, length_text = text[i : i + 2], text[i + 2 : i + 4]
        if not _TWO_DIGITS.fullmatch(tag):
            raise InvalidInput(f"{where} position {pos}: ID {tag!r} is not two digits")
        if not _TWO_DIGITS.fullmatch(length_text):
            raise InvalidInput(
                f"{where} position {pos + 2}: length {length_text!r} of tag {tag} is not two digits"
            )
        length = int(length_text)
        if length == 0:
            raise InvalidInput(f"{where} position {pos + 2}: tag {tag} has length 00")
        if i + 4 + length > len(text):
            raise InvalidInput(
                f"{where} position {pos + 2}: tag {tag} declares length {length} but only "
                f"{len(text) - i - 4} characters remain"
            )
        if tag in seen:
            raise InvalidInput(
                f"{where} position {pos}: tag {tag} appears twice (first at position {seen[tag]})"
            )
        seen[tag] = pos
        objects.append(DataObject(tag, text[i + 4 : i + 4 + length], pos))
        i += 4 + length
    return objects


# -- field checks ------------------------------------------------------------------------------


def _ans(value: str, label: str, max_len: int, *, exact: bool = False) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{label} must be a non-empty string")
    if len(value) > max_len or (exact and len(value) != max_len):
        size = f"exactly {max_len}" if exact else f"at most {max_len}"
        raise InvalidInput(f"{label}: {value!r} is {len(value)} characters, {size} allowed")
    if not _ANS.fullmatch(value):
        raise InvalidInput(
            f"{label}: {value!r} must use the EMV common character set (printable ASCII); "
            "Chinese names belong in the merchant information language template (tag 64)"
        )


def _text(value: str, label: str, max_len: int) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{label} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidInput(
            f"{label}: {value!r} is {len(value)} characters, at most {max_len} allowed"
        )


def _digits(value: str, label: str, count: int, example: str) -> None:
    if (
        not isinstance(value, str)
        or len(value) != count
        or not value.isascii()
        or not value.isdigit()
    ):
        raise InvalidInput(f"{label} must be {count} digits (e.g. {example!r}), found {value!r}")


def _frozen(values: Mapping[str, str], label: str, allowed: Iterable[str]) -> Mapping[str, str]:
    allowed_tags = set(allowed)
    for tag, value in values.items():
        if tag not in allowed_tags:
            raise InvalidInput(f"{label}: tag {tag!r} is not allowed here")
        _text(value, f"{label} tag {tag}", 99)
    return MappingProxyType(dict(values))


def _tags(first: int, last: int) -> list[str]:
    return [f"{n:02d}" for n in range(first, last + 1)]


def parse_amount(text: str, label: str = "tag 54 (transaction amount)") -> int:
    """EMV amount text -> fen: digits with at most one ".", at most 2 decimals, not zero."""
    if len(text) > 13:
        raise InvalidInput(f"{label}: {text!r} is longer than 13 characters")
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise InvalidInput(
            f"{label}: {text!r} is not an EMV amount: only digits and at most one '.', "
            "with digits before it (e.g. '12.34', '12', '12.')"
        )
    whole, decimals = match.group(1), match.group(2) or ""
    if len(decimals) > 2:
        raise InvalidInput(f"{label}: {text!r} has more than 2 decimals")
    fen = parse_yuan(f"{whole}.{decimals}" if decimals else whole, field=label)
    if fen == 0:
        raise InvalidInput(f"{label}: {text!r} is zero; leave the amount out instead")
    return fen


def _check_fen(fen: int | None, label: str) -> None:
    if fen is None:
        return
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise InvalidInput(f"{label} must be integer fen, got {type(fen).__name__}")
    if not 0 < fen <= MAX_AMOUNT_FEN:
        raise InvalidInput(f"{label} must be between 1 and {MAX_AMOUNT_FEN} fen, got {fen}")


def _check_percentage(text: str) -> None:
    label = "tag 57 (convenience fee percentage)"
    if len(text) > 5 or not _AMOUNT.fullmatch(text):
        raise InvalidInput(
            f"{label}: {text!r} must be digits with at most one '.', up to 5 characters "
            "(no '%'), e.g. '3.5'"
        )
    if not Decimal("0.01") <= Decimal(text.rstrip(".")) <= Decimal("99.99"):
        raise InvalidInput(f"{label}: {text!r} must be between 00.01 and 99.99")


# -- templates ---------------------------------------------------------------------------------

_ADDITIONAL = (
    ("01", "bill_number", "bill number", 25),
    ("02", "mobile_number", "mobile number", 25),
    ("03", "store_label", "store label", 25),
    ("04", "loyalty_number", "loyalty number", 25),
    ("05", "reference_label", "reference label", 25),
    ("06", "customer_label", "customer label", 25),
    ("07", "terminal_label", "terminal label", 25),
    ("08", "purpose", "purpose of transaction", 25),
    ("09", "consumer_data_request", "additional consumer data request", 3),
)


@dataclass(frozen=True, slots=True)
class AdditionalData:
    """Additional data field template (ID "62"). "***" asks the app to prompt the payer.

    ``extra`` keeps the other sub-IDs (10-99: merchant tax ID, channel, payment system
    templates...) as raw values.
    """

    bill_number: str | None = None
    mobile_number: str | None = None
    store_label: str | None = None
    loyalty_number: str | None = None
    reference_label: str | None = None
    customer_label: str | None = None
    terminal_label: str | None = None
    purpose: str | None = None
    consumer_data_request: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for sub, name, title, max_len in _ADDITIONAL:
            value = getattr(self, name)
            if value is not None:
                _ans(value, f"tag 62.{sub} ({title})", max_len)
        request = self.consumer_data_request
        if request is not None and (set(request) - set("AME") or len(set(request)) != len(request)):
            raise InvalidInput(
                f"tag 62.09 (additional consumer data request): {request!r} may only hold "
                "'A' (address), 'M' (mobile) and 'E' (email), each at most once"
            )
        extra = _frozen(self.extra, "tag 62 (additional data)", _tags(10, 99))
        object.__setattr__(self, "extra", extra)
        if not self.items():
            raise InvalidInput("tag 62 (additional data): give at least one field or leave it out")
        _fits(self.value(), "tag 62 (additional data)")

    def items(self) -> list[tuple[str, str]]:
        pairs = [(sub, getattr(self, name)) for sub, name, _, _ in _ADDITIONAL]
        pairs += list(self.extra.items())
        return sorted((sub, value) for sub, value in pairs if value is not None)

    def value(self) -> str:
        return "".join(tlv(sub, value) for sub, value in self.items())


@dataclass(frozen=True, slots=True)
class MerchantLanguage:
    """Merchant information language template (ID "64"): the name in e.g. Chinese.

    ``language`` is an ISO 639 two-letter code ("ZH"); ``name`` (at most 25 characters) and
    ``city`` (at most 15) may use any Unicode characters. ``extra`` keeps sub-IDs 03-99.
    """

    language: str
    name: str
    city: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.language, str) and re.fullmatch(r"[A-Za-z]{2}", self.language)):
            raise InvalidInput(
                f"tag 64.00 (language preference) must be two letters such as 'ZH', "
                f"found {self.language!r}"
            )
        _text(self.name, "tag 64.01 (merchant name, alternate language)", 25)
        if self.city is not None:
            _text(self.city, "tag 64.02 (merchant city, alternate language)", 15)
        extra = _frozen(self.extra, "tag 64 (language template)", _tags(3, 99))
        object.__setattr__(self, "extra", extra)
        _fits(self.value(), "tag 64 (language template)")

    def value(self) -> str:
        pairs = [("00", self.language), ("01", self.name)]
        if self.city is not None:
            pairs.append(("02", self.city))
        pairs += sorted(self.extra.items())
        return "".join(tlv(sub, value) for sub, value in pairs)


def _fits(value: str, label: str) -> None:
    if len(value) > 99:
        raise InvalidInput(f"{label}: encoded value is {len(value)} characters, at most 99 fit")


def _template_value(fields: Mapping[str, str]) -> str:
    return "".join(tlv(sub, value) for sub, value in fields.items())


# -- the payload -------------------------------------------------------------------------------

_NETWORK_TAGS = _tags(2, 25)
_TEMPLATE_TAGS = _tags(26, 51)
_UNKNOWN_TAGS = _tags(65, 99)


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
        _ans(self.merchant_name, "tag 59 (merchant name)", 25)
        _ans(self.merchant_city, "tag 60 (merchant city)", 15)
        _digits(self.merchant_category_code, "tag 52 (merchant category code)", 4, "4900")
        _digits(self.currency, "tag 53 (transaction currency, ISO 4217 numeric)", 3, "156")
        if not (isinstance(self.country, str) and re.fullmatch(r"[A-Z]{2}", self.country)):
            raise InvalidInput(
                f"tag 58 (country code) must be two capital letters such as 'CN', "
                f"found {self.country!r}"
            )
        if self.postal_code is not None:
            _ans(self.postal_code, "tag 61 (postal code)", 10)
        if self.initiation is not None:
            object.__setattr__(self, "initiation", _enum(Initiation, self.initiation, "01"))
        if self.tip is not None:
            object.__setattr__(self, "tip", _enum(TipIndicator, self.tip, "55"))
        _check_fen(self.amount_fen, "tag 54 (transaction amount)")
        self._check_fees()
        self._freeze_accounts()
        unknown = _frozen(self.unknown, "unknown tags", _UNKNOWN_TAGS)
        object.__setattr__(self, "unknown", unknown)
        self._check_order()

    def _check_fees(self) -> None:
        fixed, percentage = self.convenience_fee_fen, self.convenience_fee_percentage
        _check_fen(fixed, "tag 56 (convenience fee fixed)")
        if percentage is not None:
            _check_percentage(percentage)
        if (fixed is not None) != (self.tip is TipIndicator.FIXED_FEE):
            raise InvalidInput(
                "tag 56 (convenience fee fixed) must be present exactly when tag 55 is '02'"
            )
        if (percentage is not None) != (self.tip is TipIndicator.PERCENTAGE_FEE):
            raise InvalidInput(
                "tag 57 (convenience fee percentage) must be present exactly when tag 55 is '03'"
            )

    def _freeze_accounts(self) -> None:
        network = _frozen(self.network_accounts, "merchant account information", _NETWORK_TAGS)
        for tag, value in network.items():
            _ans(value, f"tag {tag} (merchant account information)", 99)
        templates: dict[str, Mapping[str, str]] = {}
        for tag, fields in self.account_templates.items():
            label = f"tag {tag} (merchant account information)"
            if tag not in _TEMPLATE_TAGS:
                raise InvalidInput(f"{label}: templates use tags 26-51")
            frozen = _frozen(fields, label, _tags(0, 99))
            if "00" not in frozen:
                raise InvalidInput(f"{label}: sub-tag 00 (globally unique identifier) is missing")
            _ans(frozen["00"], f"tag {tag}.00 (globally unique identifier)", 32)
            for sub, value in frozen.items():
                _ans(value, f"tag {tag}.{sub}", 99)
            _fits(_template_value(frozen), label)
            templates[tag] = frozen
        if not network and not templates:
            raise InvalidInput("a payload needs merchant account information (tags 02-51)")
        object.__setattr__(self, "network_accounts", network)
        object.__setattr__(self, "account_templates", MappingProxyType(templates))

    def _check_order(self) -> None:
        order = tuple(self.tag_order)
        if len(set(order)) != len(order) or any(
            not _TWO_DIGITS.fullmatch(tag) or tag in ("00", "63") for tag in order
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
            values[tag] = _template_value(fields)
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


_MANDATORY = (
    ("52", "merchant category code"),
    ("53", "transaction currency"),
    ("58", "country code"),
    ("59", "merchant name"),
    ("60", "merchant city"),
)


def decode(text: str) -> EmvPayload:
    """Parse and check QR text; any defect raises :class:`InvalidInput` naming tag/position."""
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
    objects = parse_tlv(text)
    _check_crc(text, objects)
    found = {obj.tag: obj for obj in objects[1:-1]}
    for tag, title in _MANDATORY:
        if tag not in found:
            raise InvalidInput(f"EMV payload has no tag {tag} ({title})")

    def value(tag: str) -> str | None:
        obj = found.get(tag)
        return None if obj is None else obj.value

    def sub_objects(tag: str, title: str) -> dict[str, str]:
        obj = found[tag]
        objs = parse_tlv(obj.value, where=f"tag {tag} ({title})", base=obj.position + 4)
        return {sub.tag: sub.value for sub in objs}

    amount, fee = value("54"), value("56")
    additional = language = None
    if "62" in found:
        fields = sub_objects("62", "additional data")
        names = {sub: name for sub, name, _, _ in _ADDITIONAL}
        known = {names[sub]: val for sub, val in fields.items() if sub in names}
        extra = {sub: val for sub, val in fields.items() if sub not in names}
        additional = AdditionalData(**known, extra=extra)
    if "64" in found:
        fields = sub_objects("64", "language template")
        for sub, title in (("00", "language preference"), ("01", "merchant name")):
            if sub not in fields:
                raise InvalidInput(f"tag 64 (language template) has no sub-tag {sub} ({title})")
        language = MerchantLanguage(
            language=fields.pop("00"),
            name=fields.pop("01"),
            city=fields.pop("02", None),
            extra=fields,
        )
    initiation, tip = value("01"), value("55")
    return EmvPayload(
        merchant_name=found["59"].value,
        merchant_city=found["60"].value,
        merchant_category_code=found["52"].value,
        account_templates={
            tag: sub_objects(tag, "merchant account information")
            for tag in found
            if tag in _TEMPLATE_TAGS
        },
        network_accounts={tag: obj.value for tag, obj in found.items() if tag in _NETWORK_TAGS},
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
        additional_data=additional,
        language=language,
        unknown={tag: obj.value for tag, obj in found.items() if tag in _UNKNOWN_TAGS},
        tag_order=tuple(found),
    )


def _check_crc(text: str, objects: list[DataObject]) -> None:
    crc_objects = [obj for obj in objects if obj.tag == "63"]
    if not crc_objects:
        raise InvalidInput("EMV payload has no CRC (tag 63) at the end")
    crc = crc_objects[0]
    if crc is not objects[-1]:
        after = objects[objects.index(crc) + 1]
        raise InvalidInput(
            f"tag 63 (CRC) at position {crc.position} must be the last data object, "
            f"but tag {after.tag} follows at position {after.position}"
        )
    if not re.fullmatch(r"[0-9A-Fa-f]{4}", crc.value):
        raise InvalidInput(
            f"tag 63 (CRC) at position {crc.position} must be 4 hex digits, found {crc.value!r}"
        )
    expected = f"{crc16_ccitt_false(text[: crc.position + 4].encode('utf-8')):04X}"
    if crc.value.upper() != expected:
        raise InvalidInput(
            f"tag 63 (CRC) at position {crc.position}: expected {expected}, found {crc.value}"
        )
