"""Pieces every statement parser shares: options, field conversion, CSV rows with line numbers."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from billfold.errors import InvalidAmount
from billfold.money import parse_yuan
from billfold.settlement.statement import LineError, StatementError

__all__ = [
    "ISO_SECONDS",
    "FieldError",
    "ParseOptions",
    "comma_amount",
    "csv_rows",
    "exact_fen",
    "fatal",
    "local_time",
    "utc_or_none",
    "yuan",
    "yuan_padded",
]


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """What a parser needs to know besides the bytes."""

    format: str
    channel: str
    source_file: str
    tz: ZoneInfo
    encoding: str | None = None
    column_map: Mapping[str, Any] | None = None


class FieldError(Exception):
    """Raised while converting one row; the row loop turns it into a :class:`LineError`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def at(self, file: str, line: int) -> LineError:
        return LineError(file, line, self.field, self.message)


def fatal(file: str, line: int, field: str, message: str) -> StatementError:
    """An error that stops the whole file (no header, wrong kind of file, bad encoding)."""
    return StatementError([LineError(file, line, field, message)])


def _amount_error(exc: InvalidAmount, field: str) -> FieldError:
    return FieldError(field, exc.message.removeprefix(f"{field}: "))


# The shape nearly every amount in a statement has: plain ASCII digits, two decimals. It is
# converted here directly; anything else (a sign, one decimal, spaces, an error) goes through
# parse_yuan, so the result and every error message are parse_yuan's own. Thirteen whole
# digits at most: anything longer may be over MAX_FEN, which only parse_yuan refuses.
_PLAIN = re.compile(r"(\d{1,13})\.(\d\d)", re.ASCII)


def yuan(text: str, field: str, *, allow_negative: bool = False) -> int:
    """A yuan amount such as ``"12.34"`` in fen, through :func:`billfold.money.parse_yuan`."""
    plain = _PLAIN.fullmatch(text)
    if plain is not None:
        return int(plain[1]) * 100 + int(plain[2])
    try:
        return parse_yuan(text, field=field, allow_negative=allow_negative)
    except InvalidAmount as exc:
        raise _amount_error(exc, field) from None


_DECIMAL = re.compile(r"(\d{1,16})(?:\.(\d{1,5}))?", re.ASCII)


def exact_fen(text: str, field: str, *, max_decimals: int = 5) -> int:
    """A decimal amount with up to ``max_decimals`` fraction digits, if it is whole fen.

    ISO 20022 amounts may carry five fraction digits: ``8.850`` is exactly 8.85 and reads
    as 885 fen; ``8.855`` is not a whole number of fen and is refused, never rounded.
    """
    value = text.strip()
    match = _DECIMAL.fullmatch(value)
    if match is None or len(match[2] or "") > max_decimals:
        if match is None and value.startswith("-"):
            raise FieldError(field, f"{value!r} is negative")
        raise FieldError(field, f"{value!r} is not an amount with at most {max_decimals} decimals")
    frac = (match[2] or "").ljust(2, "0")
    if frac[2:].strip("0"):
        raise FieldError(field, f"{value!r} is not a whole number of fen; it is not rounded")
    return int(match[1]) * 100 + int(frac[:2])


_PADDED = re.compile(r"^([+-]?\d+\.\d{2})0+$")
_PLAIN_PADDED = re.compile(r"(-?)(\d{1,13})\.(\d\d)0*", re.ASCII)


def yuan_padded(text: str, field: str, *, allow_negative: bool = False) -> int:
    """Like :func:`yuan`, but zeros padded past the second decimal are fine.

    WeChat Pay prints fees with five decimals (``0.60000``); a digit other than zero
    past the second decimal is still refused.
    """
    plain = _PLAIN_PADDED.fullmatch(text)
    if plain is not None and (allow_negative or not plain[1]):
        fen = int(plain[2]) * 100 + int(plain[3])
        return -fen if plain[1] else fen
    match = _PADDED.match(text.strip())
    return yuan(match.group(1) if match else text, field, allow_negative=allow_negative)


_COMMA = re.compile(r"^(\d+)(?:,(\d*))?$")


def comma_amount(text: str, field: str) -> int:
    """A SWIFT amount with a comma decimal mark (``1234,5``, ``100,``) in fen.

    A whole amount written without the comma (``500``, which some banks send) is read as
    whole yuan; the caller decides whether to flag it. A ``.`` is never a decimal mark here.
    """
    match = _COMMA.match(text)
    if match is None:
        raise FieldError(field, f"{text!r} is not an amount like '1234,56'")
    whole, frac = match.groups()
    frac = frac or ""
    if len(frac) > 2:
        raise FieldError(field, f"{text!r} has more than two decimals")
    return yuan(f"{whole}.{frac}" if frac else whole, field)


#: The time format of the Alipay and WeChat Pay bills (and the usual one of generic CSVs).
ISO_SECONDS = "%Y-%m-%d %H:%M:%S"
_ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.ASCII)


def local_time(text: str, fmt: str, tz: ZoneInfo, field: str) -> datetime:
    """Parse ``text`` with ``fmt``; a time without zone is in ``tz``. Returns aware UTC."""
    value = text.strip()
    if not value:
        raise FieldError(field, "time is empty")
    parsed = utc_or_none(value, fmt, tz)
    if parsed is None:
        raise FieldError(field, f"{value!r} is not a time like {fmt!r}")
    return parsed


@lru_cache(maxsize=4096)
def utc_or_none(value: str, fmt: str, tz: ZoneInfo) -> datetime | None:
    """``value`` as aware UTC, ``None`` if it does not fit ``fmt``. Cached: a bill is sorted
    by time and a busy one has many lines in each second, so most lines repeat a time."""
    try:
        if fmt == ISO_SECONDS and _ISO_SECONDS.fullmatch(value):
            # strptime's result for this shape, without its per-call format machinery
            parsed = datetime.fromisoformat(value)
        else:
            parsed = datetime.strptime(value, fmt)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def csv_rows(
    lines: Iterator[tuple[int, str]], *, delimiter: str, source_file: str
) -> Iterator[tuple[int, list[str], str]]:
    """Yield ``(first_line_number, cells, raw_text)`` for each CSV record.

    A quoted value may span lines; the number is that of the line the record starts on.
    """
    taken: list[tuple[int, str]] = []

    def feed() -> Iterator[str]:
        for number, text in lines:
            taken.append((number, text))
            yield text

    reader = csv.reader(feed(), delimiter=delimiter)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = taken[0][0] if taken else 1
            raise fatal(source_file, line, "csv", f"unreadable CSV: {exc}") from None
        first = taken[0][0]
        raw = "\n".join(text for _, text in taken)
        taken.clear()
        yield first, cells, raw
