"""A CSV or XLSX statement whose layout the user describes with a column mapping.

The mapping format is :mod:`billfold.settlement.parsers.mapping`'s (documented with
examples in docs/settlement.md); ready-made mappings for Chinese banks' online-banking
exports are in :mod:`billfold.settlement.parsers.presets`. Values are stripped of spaces
and tabs, and of one leading backtick (the spreadsheet guard some banks add).

An XLSX workbook (recognised by its zip signature) is read from its first sheet with
openpyxl in read-only mode, row by row; a line number is the sheet's row number. Dates
and times of the sheet are written with the mapping's ``time_format`` before they are
read back, numbers become text exactly as Excel stored them (a sum that left binary
noise, ``0.30000000000000004``, is refused like any amount with too many decimals).

Rows above the header (``skip_lines``, or the title lines ``header_search`` passes over)
and below a ``stop_at`` row (the bank's 合计 lines, then 打印时间 and the like) are not
statement lines, until the header row comes again (the next page of a paged export);
every other row is a line or a line error.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from billfold.collection.bill_file import cell_text
from billfold.errors import ConfigurationError
from billfold.settlement.encoding import ByteSource, iter_byte_chunks, iter_text_lines
from billfold.settlement.parsers._common import (
    FieldError,
    ParseOptions,
    csv_rows,
    fatal,
    local_time,
    yuan,
)
from billfold.settlement.parsers.mapping import CsvMapping
from billfold.settlement.statement import (
    Direction,
    LineError,
    LineStatus,
    LineType,
    StatementLine,
)

__all__ = ["CsvMapping", "parse"]

E = TypeVar("E", LineType, LineStatus, Direction)
_ZIP_MAGIC = b"PK\x03\x04"
Rows = Iterator[tuple[int, list[str], str]]


def _clean(value: str) -> str:
    value = value.strip(" \t")
    return value[1:].strip(" \t") if value.startswith("`") else value


def parse(source: ByteSource, options: ParseOptions) -> Iterator[StatementLine | LineError]:
    """Yield the lines of a mapped CSV or XLSX file (see the module docstring)."""
    mapping = _mapping(options)
    file = options.source_file
    rows = _rows(source, mapping, options)
    index: dict[str, int] | None = None
    header: list[str] = []
    stopped = False
    for number, cells, raw in rows:
        if not any(c.strip() for c in cells):
            continue
        if stopped:
            # below a total row only a repeated header (the next page) resumes the table;
            # a row that reads as a statement line there is an error, never passed over
            stopped = [_clean(c) for c in cells][: len(header)] != header
            if (
                stopped
                and index is not None
                and _reads_as_line(cells, raw, number, header, index, mapping, options)
            ):
                yield LineError(file, number, "row", _BELOW_TOTAL)
            continue
        if index is None:
            header = [_clean(c) for c in cells]
            searching = (
                mapping.header_search and number <= mapping.skip_lines + mapping.header_search
            )
            if searching and not mapping.wanted_columns() <= set(header):
                continue  # a title line above the header
            index = _locate(header, mapping, file, number)
            continue
        first_cell = next((_clean(c) for c in cells if c.strip()), "")
        if mapping.stop_at and first_cell.startswith(mapping.stop_at):
            stopped = True
            continue
        try:
            yield _line(cells, raw, number, header, index, mapping, options)
        except FieldError as exc:
            yield exc.at(file, number)
    if index is None:
        raise fatal(file, max(mapping.skip_lines, 1), "header", "no header row found")


def _mapping(options: ParseOptions) -> CsvMapping:
    if options.column_map is None:
        raise ConfigurationError("generic-csv needs a column mapping (--mapping or --preset)")
    if isinstance(options.column_map, CsvMapping):
        return options.column_map
    return CsvMapping.from_mapping(options.column_map)


def _rows(source: ByteSource, mapping: CsvMapping, options: ParseOptions) -> Rows:
    """The file's rows, from an XLSX workbook (by its zip signature) or from CSV text."""
    chunks = iter_byte_chunks(source)
    first = next(chunks, b"")
    if first.startswith(_ZIP_MAGIC):
        return _xlsx_rows(first + b"".join(chunks), mapping, options.source_file)
    return _csv_rows(_chain(first, chunks), mapping, options)


_BELOW_TOTAL = (
    "a statement line below the total (合计) row and no repeated header above it: "
    "the export continues after its total; check the file"
)


def _reads_as_line(
    cells: list[str],
    raw: str,
    number: int,
    header: list[str],
    index: dict[str, int],
    mapping: CsvMapping,
    options: ParseOptions,
) -> bool:
    """Whether a row below a total row is a statement line (footer text such as 打印时间 is not)."""
    try:
        _line(cells, raw, number, header, index, mapping, options)
    except FieldError:
        return False
    return True


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _csv_rows(chunks: Any, mapping: CsvMapping, options: ParseOptions) -> Rows:
    lines = iter_text_lines(chunks, encoding=options.encoding, source_file=options.source_file)

    def wanted() -> Iterator[tuple[int, str]]:
        for number, text in lines:
            if number <= mapping.skip_lines:
                continue
            if mapping.comment_prefix and text.lstrip().startswith(mapping.comment_prefix):
                continue
            yield number, text

    return csv_rows(wanted(), delimiter=mapping.delimiter, source_file=options.source_file)


def _xlsx_rows(data: bytes, mapping: CsvMapping, file: str) -> Rows:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors
        raise fatal(file, 1, "xlsx", f"not a readable XLSX workbook: {exc}") from None
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number <= mapping.skip_lines:
                continue
            cells = [_xlsx_text(v, mapping.time_format) for v in values]
            while cells and not cells[-1]:
                cells.pop()
            if mapping.comment_prefix and cells and cells[0].startswith(mapping.comment_prefix):
                continue
            yield number, cells, "\t".join(cells)
    finally:
        book.close()


def _xlsx_text(value: Any, time_format: str) -> str:
    if isinstance(value, datetime | date):
        return str(value.strftime(time_format))
    return cell_text(value)


def _locate(header: list[str], mapping: CsvMapping, file: str, number: int) -> dict[str, int]:
    index: dict[str, int] = {}
    named = [*mapping.columns.items()]
    named += [(f"occurred_at[{i}]", c) for i, c in enumerate(mapping.time_columns)]
    for ours, theirs in named:
        if theirs not in header:
            ours = ours.split("[", 1)[0]
            raise fatal(file, number, theirs, f"column for {ours} not found in the header row")
        index[ours] = header.index(theirs)
    return index


@dataclass(frozen=True, slots=True)
class _Row:
    """One row read through the mapping: values by billfold's field names, errors by theirs."""

    cells: list[str]
    header: list[str]
    index: dict[str, int]
    mapping: CsvMapping

    def column(self, ours: str) -> str:
        return self.header[self.index[ours]]

    def get(self, ours: str) -> str | None:
        position = self.index.get(ours)
        if position is None:
            return None
        if position >= len(self.cells):
            raise FieldError(
                self.header[position],
                f"missing: the line has {len(self.cells)} values, the header {len(self.header)}",
            )
        return _clean(self.cells[position]) or None

    def required(self, ours: str) -> str:
        value = self.get(ours)
        if value is None:
            raise FieldError(self.column(ours), "value is empty")
        return value

    def amount(self, ours: str, *, allow_negative: bool) -> int:
        column = self.column(ours)
        text = _ungrouped(self.required(ours), self.mapping.thousands_separator, column)
        if self.mapping.amount_unit == "yuan":
            return yuan(text, column, allow_negative=allow_negative)
        digits = text[1:] if allow_negative and text.startswith("-") else text
        if not digits.isdigit():
            raise FieldError(column, f"{text!r} is not a whole number of fen")
        return int(text)

    def coded(self, ours: str, table: dict[str, E], enum: type[E]) -> E | None:
        """A code column read through the mapping's table, else as the enum's own value."""
        value = self.get(ours)
        if value is None:
            return None
        if value in table:
            return table[value]
        try:
            return enum(value.upper())
        except ValueError:
            pass
        allowed = ", ".join(sorted(table)) or ", ".join(e.value for e in enum)
        raise FieldError(self.column(ours), f"unknown value {value!r}; expected one of {allowed}")


def _line(
    cells: list[str],
    raw: str,
    number: int,
    header: list[str],
    index: dict[str, int],
    mapping: CsvMapping,
    options: ParseOptions,
) -> StatementLine:
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
        raise FieldError("columns", f"the line has {len(cells)} values, the header {len(header)}")
    row = _Row(cells, header, index, mapping)
    txn_id = row.required("channel_txn_id")
    amount_fen, split = _amount(row)
    fee_fen = row.amount("fee", allow_negative=True) if row.get("fee") is not None else 0
    when = " ".join(
        row.required(f"occurred_at[{i}]") if i else row.required("occurred_at")
        for i in range(max(1, len(mapping.time_columns)))
    )
    occurred_at = local_time(when, mapping.time_format, options.tz, row.column("occurred_at"))
    line_type = row.coded("type", mapping.type_map, LineType)
    status = row.coded("status", mapping.status_map, LineStatus)
    direction = split or row.coded("direction", mapping.direction_map, Direction)
    if line_type is None and split is Direction.DEBIT:
        line_type = LineType.OTHER
    currency = (row.get("currency") or "CNY").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise FieldError(row.column("currency"), f"{currency!r} is not a currency code")
    return StatementLine(
        channel=options.channel,
        channel_txn_id=txn_id,
        order_no=row.get("order_no"),
        amount_fen=amount_fen,
        fee_fen=fee_fen,
        currency=currency,
        occurred_at=occurred_at,
        type=line_type or mapping.default_type,
        status=status or mapping.default_status,
        direction=direction,
        merchant_id=row.get("merchant_id"),
        refund_id=row.get("refund_id"),
        counterparty=row.get("counterparty"),
        description=row.get("description"),
        source_file=options.source_file,
        source_line=number,
        raw=raw,
    )


def _amount(row: _Row) -> tuple[int, Direction | None]:
    """The amount, from one column, or from a credit/debit pair that also gives the direction."""
    if "amount" in row.index:
        return row.amount("amount", allow_negative=False), None
    credit = row.amount("credit_amount", allow_negative=False) if row.get("credit_amount") else 0
    debit = abs(row.amount("debit_amount", allow_negative=True)) if row.get("debit_amount") else 0
    if bool(credit) == bool(debit):
        columns = f"{row.column('credit_amount')}/{row.column('debit_amount')}"
        which = "both hold an amount" if credit else "neither holds an amount"
        raise FieldError(columns, f"{which}; exactly one of them must")
    return (credit, Direction.CREDIT) if credit else (debit, Direction.DEBIT)


def _ungrouped(text: str, separator: str, column: str) -> str:
    """``1,234.56`` -> ``1234.56`` when the mapping names ``,`` as thousands separator.

    Only correct grouping (threes) is taken apart; ``1,23`` is refused, not read as 123.
    """
    if not separator or separator not in text:
        return text
    sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    whole, dot, frac = digits.partition(".")
    groups = whole.split(separator)
    if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
        raise FieldError(column, f"{text!r} is not grouped in thousands with {separator!r}")
    return sign + "".join(groups) + dot + frac
