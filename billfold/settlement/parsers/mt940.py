"""SWIFT MT940 customer statements.

A file holds one or more messages, each optionally wrapped in SWIFT blocks
(``{1:…}{2:…}{4:`` … ``-}``). Inside, fields start with a tag at the beginning of a line;
a line without a tag continues the field above it::

    :20:STATEMENT REF          transaction reference
    :25:ACCOUNT                account identification (becomes ``merchant_id``)
    :28C:00001/001             statement number / sequence number
    :60F:C240131CNY1000,00     opening balance (60M: intermediate)
    :61:…                      one statement line, see below
    :86:free text …            information for the line above (up to 6 lines)
    :62F:C240131CNY1200,00     closing balance (62M: intermediate)
    :64: / :65:                available balances (ignored)

``:61:`` is ``6!n[4!n]2a[1!a]15d1!a3!c16x[//16x]`` on its first line and ``[34x]`` on an
optional second one: value date YYMMDD, entry date MMDD, mark (C, D, RC = reversal of
credit, RD = reversal of debit), funds code letter, amount with a comma decimal mark,
transaction type (N, F or S and three characters), reference for the account owner
(``NONREF`` when there is none), ``//`` bank reference, supplementary details.

Each message is checked: opening balance + credits - debits must equal the closing
balance; a mismatch is an error on the closing balance line naming the statement
(``:20:`` and ``:28C:``). The check is skipped for a statement where a line was already
rejected. Dates are days: ``occurred_at`` is the start of the entry date (else the value
date) in the business time zone.

What real banks send around and inside that body is read too, and each departure from
the spec is listed in the line's ``deviations`` (the amount is never guessed):

* lines before the first tag of a message (a bank identifier such as ``ABNANL2A``, a
  ``940`` line, ``{1:}{2:}`` headers) and SOH/ETX control bytes are envelope, not data;
* ``:28:`` (the pre-2002 tag) is read like ``:28C:``;
* non-standard tags (``:NS:``) are kept as details of the statement line above them;
* a ``:61:`` without a customer reference, or with one longer than 16 characters, a bank
  reference longer than 16 or details longer than 34 characters;
* an amount written without its decimal comma (``C500``: 500.00). A ``.`` as the
  decimal mark is refused: the spec has none, and ``1.000`` could mean one thousand;
* a value date that does not exist (``240230``, some banks' end-of-month interest): the
  line is read on its entry date, which must then be present and valid.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from billfold.errors import InvariantViolated
from billfold.money import format_yuan
from billfold.settlement.encoding import ByteSource, iter_text_lines
from billfold.settlement.parsers._common import FieldError, ParseOptions, comma_amount, fatal
from billfold.settlement.statement import (
    Direction,
    LineError,
    LineType,
    StatementLine,
)

__all__ = ["StatementLine61", "parse", "parse_61"]

_TAG = re.compile(r"^:(\d{2}[A-Z]?|NS):(.*)$")
_CONTROL = str.maketrans("", "", "\x01\x03")
_BALANCE = re.compile(r"^([CD])(\d{6})([A-Z]{3})(\d[\d,]*)$")
_TYPE = re.compile(r"^[NFS][A-Z0-9]{3}")
_FEE_CODES = ("CHG", "COM")


@dataclass(frozen=True, slots=True)
class StatementLine61:
    """The subfields of one ``:61:`` field."""

    value_date: date | None  # None only when the bank wrote an impossible date
    mark: str
    funds_code: str | None
    amount_fen: int
    transaction_type: str
    customer_reference: str
    bank_reference: str | None
    supplementary: str | None
    entry_date: date | None = None
    deviations: tuple[str, ...] = ()

    @property
    def signed_fen(self) -> int:
        """The effect on the balance: C and RD add, D and RC subtract."""
        return self.amount_fen if self.mark in ("C", "RD") else -self.amount_fen


def _yymmdd(text: str, field_name: str) -> date:
    if not re.fullmatch(r"\d{6}", text):
        raise FieldError(field_name, f"{text!r} is not a date like YYMMDD")
    try:
        return datetime.strptime(text, "%y%m%d").date()
    except ValueError:
        raise FieldError(field_name, f"{text!r} is not a valid date") from None


def parse_61(first: str, supplementary: str | None = None) -> StatementLine61:
    """Parse the text of a ``:61:`` field (without the tag); raises :class:`FieldError`.

    Departures from the spec that leave the line unambiguous are accepted and listed in
    ``deviations`` (see the module docstring); anything else raises.
    """
    deviations: list[str] = []
    value_date, entry_date, rest = _dates_61(first, deviations)
    mark = next((m for m in ("RC", "RD", "C", "D") if rest.startswith(m)), None)
    if mark is None:
        raise FieldError(":61: debit/credit mark", f"expected C, D, RC or RD, got {rest[:2]!r}")
    rest = rest[len(mark) :]
    funds_code: str | None = None
    if rest[:1].isalpha():
        funds_code, rest = rest[0], rest[1:]
    amount_fen, rest = _amount_61(rest, deviations)
    if not _TYPE.match(rest):
        raise FieldError(
            ":61: transaction type", f"expected N, F or S and 3 characters, got {rest[:4]!r}"
        )
    transaction_type, rest = rest[:4], rest[4:]
    customer, _, bank = rest.partition("//")
    deviations += _reference_deviations(customer, bank, supplementary)
    return StatementLine61(
        value_date=value_date,
        entry_date=entry_date,
        mark=mark,
        funds_code=funds_code,
        amount_fen=amount_fen,
        transaction_type=transaction_type,
        customer_reference=customer or "NONREF",
        bank_reference=bank or None,
        supplementary=supplementary or None,
        deviations=tuple(deviations),
    )


def _dates_61(text: str, deviations: list[str]) -> tuple[date | None, date | None, str]:
    """The value date (YYMMDD), the optional entry date (MMDD) and the rest of the text."""
    if len(text) < 6:
        raise FieldError(":61: value date", f"{text!r} is too short: expected YYMMDD first")
    value_text, rest = text[:6], text[6:]
    value_date = _value_date(value_text)
    entry_date: date | None = None
    if re.match(r"^\d{4}", rest):
        entry_date = _entry_date(rest[:4], value_date or _month_of(value_text))
        rest = rest[4:]
    if value_date is None:
        if entry_date is None:
            raise FieldError(
                ":61: value date", f"{value_text!r} is not a valid date and no entry date is given"
            )
        deviations.append(f"value date {value_text} does not exist; the entry date is used")
    return value_date, entry_date, rest


def _reference_deviations(customer: str, bank: str, supplementary: str | None) -> list[str]:
    deviations = []
    if not customer:
        deviations.append("no customer reference (the spec asks for NONREF)")
    elif len(customer) > 16:
        deviations.append(f"customer reference {customer!r} is longer than 16 characters")
    if len(bank) > 16:
        deviations.append(f"bank reference {bank!r} is longer than 16 characters")
    if supplementary is not None and len(supplementary) > 34:
        deviations.append("supplementary details are longer than 34 characters")
    return deviations


def _value_date(text: str) -> date | None:
    """The value date, or ``None`` for a well-formed but impossible one (``240230``)."""
    if not re.fullmatch(r"\d{6}", text):
        raise FieldError(":61: value date", f"{text!r} is not a date like YYMMDD")
    try:
        return datetime.strptime(text, "%y%m%d").date()
    except ValueError:
        if not 1 <= int(text[2:4]) <= 12 or not 1 <= int(text[4:]) <= 31:
            raise FieldError(":61: value date", f"{text!r} is not a valid date") from None
        return None


def _month_of(text: str) -> date:
    """The first day of an impossible value date's month, to place the entry date's year."""
    return datetime.strptime(text[:4], "%y%m").date()


def _amount_61(rest: str, deviations: list[str]) -> tuple[int, str]:
    amount_match = re.match(r"^[\d,]+", rest)
    if amount_match is None:
        raise FieldError(":61: amount", f"amount missing before {rest[:4]!r}")
    amount_text = amount_match.group(0)
    if len(amount_text) > 15:
        raise FieldError(":61: amount", f"{amount_text!r} is longer than 15 characters")
    dotted = re.match(r"^[\d,]+\.\d+", rest)
    if dotted is not None:
        raise FieldError(
            ":61: amount",
            f"{dotted.group(0)!r} uses '.' as the decimal mark; MT940 amounts use ',' (1234,56)",
        )
    after = rest[len(amount_text) :]
    amount_fen = comma_amount(amount_text, ":61: amount")
    if "," not in amount_text:
        deviations.append(f"amount {amount_text!r} has no decimal comma; read as a whole amount")
    return amount_fen, after


def _entry_date(mmdd: str, value_date: date) -> date:
    month, day = int(mmdd[:2]), int(mmdd[2:])
    year = value_date.year
    if month - value_date.month > 6:
        year -= 1
    elif value_date.month - month > 6:
        year += 1
    try:
        return date(year, month, day)
    except ValueError:
        raise FieldError(":61: entry date", f"{mmdd!r} is not a valid MMDD date") from None


@dataclass(slots=True)
class _Field:
    tag: str
    line: int
    lines: list[str]


@dataclass(slots=True)
class _Statement:
    reference: str | None = None
    account: str | None = None
    number: str | None = None
    currency: str | None = None
    opening: int | None = None
    total: int = 0
    broken: bool = False
    entries: int = 0
    pending: _Pending | None = None

    @property
    def name(self) -> str:
        return f"{self.reference or '?'} ({self.number or 'no :28C:'})"


def _fields(source: ByteSource, options: ParseOptions) -> Iterator[_Field | None]:
    """Yield fields in order; ``None`` marks the end of a SWIFT message block.

    Lines before a message's first tag are its envelope (bank identifier, ``940``,
    ``{1:}{2:}`` blocks) and are passed over; SOH and ETX bytes are dropped.
    """
    current: _Field | None = None
    lines = iter_text_lines(source, encoding=options.encoding, source_file=options.source_file)
    for number, text in lines:
        text = text.translate(_CONTROL).rstrip()
        if text.startswith("{"):
            if "{4:" not in text:
                continue  # basic/application/user header or trailer block
            text = text.split("{4:", 1)[1]
            if not text:
                continue
        if text.startswith("-}") or text == "-":
            if current is not None:
                yield current
                current = None
            yield None
            continue
        if not text:
            continue
        tag = _TAG.match(text)
        if tag:
            if current is not None:
                yield current
            current = _Field(tag.group(1), number, [tag.group(2)])
        elif current is not None:
            current.lines.append(text)
    if current is not None:
        yield current


@dataclass(slots=True)
class _Pending:
    """A ``:61:`` waiting for the ``:86:`` / ``:NS:`` fields that follow it."""

    parsed: StatementLine61
    field: _Field
    info: list[str]


def parse(source: ByteSource, options: ParseOptions) -> Iterator[StatementLine | LineError]:
    """Yield one line per ``:61:`` of every statement in an MT940 file."""
    file = options.source_file
    stmt = _Statement()
    seen_any = False
    for fld in _fields(source, options):
        if stmt.pending is not None and (fld is None or fld.tag not in ("86", "NS")):
            yield _emit(stmt, options)
        if fld is None:
            continue
        seen_any = True
        try:
            if fld.tag == "20":
                stmt = _Statement(reference=fld.lines[0].strip())
            elif fld.tag == "25":
                stmt.account = fld.lines[0].strip()
            elif fld.tag in ("28C", "28"):
                stmt.number = fld.lines[0].strip()
            elif fld.tag in ("60F", "60M"):
                stmt.currency, stmt.opening = _balance(fld)
                stmt.total = 0
            elif fld.tag == "61":
                if len(fld.lines) > 2:
                    raise FieldError(":61:", "a statement line has at most two lines")
                parsed = parse_61(fld.lines[0], fld.lines[1] if len(fld.lines) > 1 else None)
                stmt.pending = _Pending(parsed, fld, [])
            elif fld.tag in ("86", "NS") and stmt.pending is not None:
                stmt.pending.info.append(" ".join(s.strip() for s in fld.lines if s.strip()))
            elif fld.tag in ("62F", "62M"):
                error = _check_closing(stmt, fld)
                if error is not None:
                    yield LineError(file, fld.line, f":{fld.tag}:", error)
        except FieldError as exc:
            if fld.tag in ("60F", "60M", "61"):
                stmt.broken = True
            yield exc.at(file, fld.line)
    if stmt.pending is not None:
        yield _emit(stmt, options)
    if not seen_any:
        raise fatal(file, 1, ":20:", "no MT940 statement found in the file")


def _balance(fld: _Field) -> tuple[str, int]:
    text = fld.lines[0].strip()
    match = _BALANCE.match(text)
    if match is None:
        raise FieldError(f":{fld.tag}:", f"{text!r} is not a balance like C240131CNY1000,00")
    mark, day, currency, amount = match.groups()
    _yymmdd(day, f":{fld.tag}: date")
    fen = comma_amount(amount, f":{fld.tag}: amount")
    return currency, fen if mark == "C" else -fen


def _check_closing(stmt: _Statement, fld: _Field) -> str | None:
    currency, closing = _balance(fld)
    if stmt.broken or stmt.opening is None:
        return None
    if currency != stmt.currency:
        return (
            f"statement {stmt.name}: closing currency {currency} "
            f"differs from opening {stmt.currency}"
        )
    expected = stmt.opening + stmt.total
    if expected != closing:
        return (
            f"statement {stmt.name}: opening balance {format_yuan(stmt.opening)} plus "
            f"{stmt.entries} entries ({format_yuan(stmt.total)}) is {format_yuan(expected)}, "
            f"but the closing balance is {format_yuan(closing)}"
        )
    return None


def _emit(stmt: _Statement, options: ParseOptions) -> StatementLine:
    if stmt.pending is None:
        raise InvariantViolated("stmt.pending is missing")
    parsed, fld, info = stmt.pending.parsed, stmt.pending.field, stmt.pending.info
    stmt.pending = None
    stmt.total += parsed.signed_fen
    stmt.entries += 1
    code = parsed.transaction_type[1:]
    if parsed.mark in ("RC", "RD"):
        line_type = LineType.REVERSAL
    elif parsed.mark == "C":
        line_type = LineType.SETTLEMENT
    elif code in _FEE_CODES:
        line_type = LineType.FEE
    else:
        line_type = LineType.OTHER
    customer = parsed.customer_reference
    order_no = None if customer == "NONREF" else customer
    txn_id = parsed.bank_reference or order_no or f"{stmt.reference}/{stmt.number}/{stmt.entries}"
    day = parsed.entry_date or parsed.value_date
    if day is None:
        raise InvariantViolated("day is missing")  # parse_61 refuses a line with neither
    occurred = datetime(day.year, day.month, day.day, tzinfo=options.tz).astimezone(UTC)
    description = " ".join(part for part in (parsed.supplementary, *info) if part) or None
    return StatementLine(
        channel=options.channel,
        channel_txn_id=txn_id,
        order_no=order_no,
        amount_fen=parsed.amount_fen,
        currency=stmt.currency or "CNY",
        occurred_at=occurred,
        type=line_type,
        direction=Direction.CREDIT if parsed.signed_fen >= 0 else Direction.DEBIT,
        merchant_id=stmt.account,
        description=description,
        source_file=options.source_file,
        source_line=fld.line,
        raw="\n".join(fld.lines),
        deviations=parsed.deviations,
    )
