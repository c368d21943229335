"""Money: an immutable amount of integer fen with a currency.

All conversion between "12.34" strings and fen lives here. Floats are refused,
and so is any string with more than two decimals, any digit that is not ASCII 0-9
(full-width ``１２``, Arabic-Indic ``١٢``) and any amount above :data:`MAX_FEN`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from billfold.errors import InvalidAmount

__all__ = ["CNY", "MAX_FEN", "MAX_YUAN", "Money", "format_yuan", "parse_yuan"]

CNY = "CNY"

#: The largest amount billfold takes: 10 000 000 000 000.00 yuan (10**15 fen). Money columns
#: are signed 64-bit (max 9 223 372 036 854 775 807 fen); this bound leaves room for sums of
#: thousands of such amounts, so no total can overflow the database.
MAX_FEN = 10**15
MAX_YUAN = "10000000000000.00"

_YUAN_RE = re.compile(r"^([+-]?)([0-9]+)(?:\.([0-9]{1,2}))?$", re.ASCII)


def parse_yuan(text: str, *, field: str = "amount", allow_negative: bool = False) -> int:
    """Parse a yuan string such as ``"12.34"`` into fen (``1234``).

    Accepts an optional sign (only when ``allow_negative``), digits, and at most two
    decimals. Thousands separators, exponents, floats and blank strings are refused with
    an :class:`InvalidAmount` naming ``field``.
    """
    if isinstance(text, float):  # defensive: callers at the edges sometimes pass floats
        raise InvalidAmount(f"{field}: a float is not a money amount; pass a string like '12.34'")
    if not isinstance(text, str):
        raise InvalidAmount(f"{field}: expected a string like '12.34', got {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise InvalidAmount(f"{field}: amount is empty")
    if not raw.isascii() or not raw.isprintable():
        other_digits = any(ch.isdigit() and not ch.isascii() for ch in raw)
        why = " (ASCII digits only)" if other_digits or not raw.isprintable() else ""
        raise InvalidAmount(f"{field}: {text!r} is not an amount like '12.34'{why}")
    match = _YUAN_RE.match(raw)
    if match is None:
        try:
            exponent = Decimal(raw).as_tuple().exponent
        except InvalidOperation:
            raise InvalidAmount(f"{field}: {text!r} is not an amount like '12.34'") from None
        if isinstance(exponent, int) and exponent < -2:
            raise InvalidAmount(f"{field}: {text!r} has more than two decimals") from None
        raise InvalidAmount(f"{field}: {text!r} is not an amount like '12.34'")
    sign, whole, frac = match.groups()
    if len(whole.lstrip("0")) > 14:  # never build a huge int from a hostile string
        raise InvalidAmount(f"{field}: {text!r} is over the largest amount, {MAX_YUAN}")
    fen = int(whole) * 100 + int((frac or "0").ljust(2, "0"))
    if fen > MAX_FEN:
        raise InvalidAmount(f"{field}: {text!r} is over the largest amount, {MAX_YUAN}")
    if sign == "-":
        fen = -fen
    if fen < 0 and not allow_negative:
        raise InvalidAmount(f"{field}: {text!r} is negative")
    return fen


def format_yuan(fen: int) -> str:
    """Format fen as a yuan string with exactly two decimals: ``1234`` → ``"12.34"``."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise InvalidAmount(f"fen must be an int, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(fen), 100)
    return f"{sign}{whole}.{frac:02d}"


@dataclass(frozen=True, slots=True)
class Money:
    """An immutable amount of integer fen in one currency."""

    fen: int
    currency: str = CNY

    def __post_init__(self) -> None:
        if isinstance(self.fen, bool) or not isinstance(self.fen, int):
            raise InvalidAmount(f"Money needs integer fen, got {type(self.fen).__name__}")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise InvalidAmount(
                f"currency must be an ISO 4217 code like 'CNY', got {self.currency!r}"
            )

    @classmethod
    def parse(cls, text: str, currency: str = CNY, *, field: str = "amount") -> Money:
        return cls(parse_yuan(text, field=field, allow_negative=True), currency)

    @classmethod
    def zero(cls, currency: str = CNY) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise InvalidAmount(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.fen + other.fen, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.fen - other.fen, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.fen, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.fen < other.fen

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.fen <= other.fen

    @property
    def yuan(self) -> str:
        return format_yuan(self.fen)

    def __str__(self) -> str:
        return f"{self.yuan} {self.currency}"
