"""The fields of an EMV MPM payload: one value's checks, and the two sub-templates.

Field formats (EMV QRCPS MPM): "ans" fields (merchant name, city, additional data...) use the
EMV common character set, printable ASCII; "S" fields (the names in the merchant information
language template, ID "64") may use any Unicode. Amounts are integer fen; EMV writes them as
digits with at most one "." ("98.73", "98", "98."), never zero, at most 13 characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from billfold.channels.emv_format import ADDITIONAL_FIELDS, AMOUNT, ANS, tag_range, tlv
from billfold.errors import InvalidInput
from billfold.money import parse_yuan

__all__ = ["MAX_AMOUNT_FEN", "AdditionalData", "MerchantLanguage", "parse_amount"]

MAX_AMOUNT_FEN = 999_999_999_999  # "9999999999.99" is the longest amount that fits 13 chars


# -- field checks ------------------------------------------------------------------------------


def check_ans(value: str, label: str, max_len: int, *, exact: bool = False) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{label} must be a non-empty string")
    if len(value) > max_len or (exact and len(value) != max_len):
        size = f"exactly {max_len}" if exact else f"at most {max_len}"
        raise InvalidInput(f"{label}: {value!r} is {len(value)} characters, {size} allowed")
    if not ANS.fullmatch(value):
        raise InvalidInput(
            f"{label}: {value!r} must use the EMV common character set (printable ASCII); "
            "Chinese names belong in the merchant information language template (tag 64)"
        )


def check_text(value: str, label: str, max_len: int) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{label} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidInput(
            f"{label}: {value!r} is {len(value)} characters, at most {max_len} allowed"
        )


def check_digits(value: str, label: str, count: int, example: str) -> None:
    if (
        not isinstance(value, str)
        or len(value) != count
        or not value.isascii()
        or not value.isdigit()
    ):
        raise InvalidInput(f"{label} must be {count} digits (e.g. {example!r}), found {value!r}")


def frozen_fields(
    values: Mapping[str, str], label: str, allowed: Iterable[str]
) -> Mapping[str, str]:
    allowed_tags = set(allowed)
    for tag, value in values.items():
        if tag not in allowed_tags:
            raise InvalidInput(f"{label}: tag {tag!r} is not allowed here")
        check_text(value, f"{label} tag {tag}", 99)
    return MappingProxyType(dict(values))


def parse_amount(text: str, label: str = "tag 54 (transaction amount)") -> int:
    """EMV amount text -> fen: digits with at most one ".", at most 2 decimals, not zero."""
    if len(text) > 13:
        raise InvalidInput(f"{label}: {text!r} is longer than 13 characters")
    match = AMOUNT.fullmatch(text)
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


def check_fen(fen: int | None, label: str) -> None:
    if fen is None:
        return
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise InvalidInput(f"{label} must be integer fen, got {type(fen).__name__}")
    if not 0 < fen <= MAX_AMOUNT_FEN:
        raise InvalidInput(f"{label} must be between 1 and {MAX_AMOUNT_FEN} fen, got {fen}")


def check_percentage(text: str) -> None:
    label = "tag 57 (convenience fee percentage)"
    if len(text) > 5 or not AMOUNT.fullmatch(text):
        raise InvalidInput(
            f"{label}: {text!r} must be digits with at most one '.', up to 5 characters "
            "(no '%'), e.g. '3.5'"
        )
    if not Decimal("0.01") <= Decimal(text.rstrip(".")) <= Decimal("99.99"):
        raise InvalidInput(f"{label}: {text!r} must be between 00.01 and 99.99")


# -- templates ---------------------------------------------------------------------------------


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
        for sub, name, title, max_len in ADDITIONAL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                check_ans(value, f"tag 62.{sub} ({title})", max_len)
        request = self.consumer_data_request
        if request is not None and (set(request) - set("AME") or len(set(request)) != len(request)):
            raise InvalidInput(
                f"tag 62.09 (additional consumer data request): {request!r} may only hold "
                "'A' (address), 'M' (mobile) and 'E' (email), each at most once"
            )
        extra = frozen_fields(self.extra, "tag 62 (additional data)", tag_range(10, 99))
        object.__setattr__(self, "extra", extra)
        if not self.items():
            raise InvalidInput("tag 62 (additional data): give at least one field or leave it out")
        check_fits(self.value(), "tag 62 (additional data)")

    def items(self) -> list[tuple[str, str]]:
        pairs = [(sub, getattr(self, name)) for sub, name, _, _ in ADDITIONAL_FIELDS]
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
        check_text(self.name, "tag 64.01 (merchant name, alternate language)", 25)
        if self.city is not None:
            check_text(self.city, "tag 64.02 (merchant city, alternate language)", 15)
        extra = frozen_fields(self.extra, "tag 64 (language template)", tag_range(3, 99))
        object.__setattr__(self, "extra", extra)
        check_fits(self.value(), "tag 64 (language template)")

    def value(self) -> str:
        pairs = [("00", self.language), ("01", self.name)]
        if self.city is not None:
            pairs.append(("02", self.city))
        pairs += sorted(self.extra.items())
        return "".join(tlv(sub, value) for sub, value in pairs)


def check_fits(value: str, label: str) -> None:
    if len(value) > 99:
        raise InvalidInput(f"{label}: encoded value is {len(value)} characters, at most 99 fit")


def template_value(fields: Mapping[str, str]) -> str:
    return "".join(tlv(sub, value) for sub, value in fields.items())
