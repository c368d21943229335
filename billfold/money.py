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

__all__ = [
    "CNY",
    "MAX_FEN",
    "MAX_YUAN",
    "Money",
    "format_yuan",
    "parse_yuan",
    "yuan_in_capitals",
]

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


_CAPITAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SECTION_UNITS = ("仟", "佰", "拾", "")


def _capital_section(number: int) -> str:
    """1..9999 in capitals: a run of zeros between digits is one 零, trailing zeros nothing."""
    words: list[str] = []
    pending_zero = False
    for power, unit in zip((3, 2, 1, 0), _SECTION_UNITS, strict=True):
        digit = number // 10**power % 10
        if digit == 0:
            pending_zero = pending_zero or bool(words)
            continue
        if pending_zero:
            words.append("零")
            pending_zero = False
        words.append(_CAPITAL_DIGITS[digit] + unit)
    return "".join(words)


def _capital_integer(number: int) -> str:
    """A positive whole number of yuan in capitals, in sections of 万 and 亿."""
    if number < 10**4:
        return _capital_section(number)
    width = 8 if number >= 10**8 else 4
    high, low = divmod(number, 10**width)
    head = _capital_integer(high) + ("亿" if width == 8 else "万")
    if low == 0:
        return head
    # zeros between the head and the next digit (the lower part's top digit is 0) read as 零
    return head + ("零" if low < 10 ** (width - 1) else "") + _capital_integer(low)


def yuan_in_capitals(fen: int) -> str:
    """The amount in Chinese capitals (大写金额) as written on receipts and notices:
    ``123456`` → ``"壹仟贰佰叁拾肆元伍角陆分"``.

    The rules of the People's Bank for filling in vouchers: a run of zeros inside the number
    is one 零 (``1001.00`` → 壹仟零壹元整, ``20300.00`` → 贰万零叁佰元整); 拾 always takes
    its digit (``10.00`` → 壹拾元整); 元 with no 角 or 分 is closed with 整, and so is 角 with
    no 分 (``100.10`` → 壹佰元壹角整) so nothing can be written after it; 分 with no 角 after
    元 takes 零 (``100000000.01`` → 壹亿元零壹分); where the rules leave the 零 optional (a
    zero 万 or 元 digit before a non-zero 仟 or 角) it is left out (``107000.53`` →
    壹拾万柒仟元伍角叁分, ``1680.32`` → 壹仟陆佰捌拾元叁角贰分); an amount under one yuan
    starts at its first digit (``0.05`` → 伍分); zero is 零元整. Negative amounts are
    refused."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise InvalidAmount(f"fen must be an int, got {type(fen).__name__}")
    if fen < 0:
        raise InvalidAmount(f"amount in capitals: {format_yuan(fen)} is negative")
    if fen > MAX_FEN:
        raise InvalidAmount(f"amount in capitals: over the largest amount, {MAX_YUAN}")
    whole, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    text = _capital_integer(whole) + "元" if whole else ""
    if jiao:
        text += _CAPITAL_DIGITS[jiao] + "角"
    elif fen_digit and whole:
        text += "零"
    if fen_digit:
        return text + _CAPITAL_DIGITS[fen_digit] + "分"
    return (text or "零元") + "整"


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
