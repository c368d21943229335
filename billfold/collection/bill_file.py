"""A clerk's bill file as rows of text cells, whatever it was saved as.

Bill files come from spreadsheets. Three things happen to them on the way:

* they are saved as CSV with commas, but also with tabs or semicolons (Excel's "text" and
  some regional settings). The header row decides: the delimiter that splits it into the
  most columns wins, and the reader says which one it used when it is not a comma;
* they are not saved as CSV at all: an XLSX workbook is read directly (its first sheet,
  with openpyxl in read-only mode, row by row). Numbers become text without a float
  round trip (``1234.5`` stays ``1234.5``, ``13812345678`` keeps every digit), dates
  become ``YYYY-MM-DD``;
* CSV text is UTF-8 (with or without BOM) or GBK, see :func:`decode_bill_file`.

Each row keeps its line number (the physical line of a CSV file where the row starts,
the row number of a sheet), so every error names the line a clerk sees.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billfold.errors import InvalidInput

__all__ = [
    "DELIMITER_NAMES",
    "BillTable",
    "cell_text",
    "is_xlsx",
    "table_from_text",
    "table_from_xlsx",
]

DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical bar"}
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(slots=True)
class BillTable:
    """The rows of a bill file: ``(line, cells)``, the header first.

    ``notes`` say how the file was read (delimiter, sheet); ``error`` is set when the
    file stopped being readable at some line (a broken CSV quote), after the good rows.
    """

    rows: list[tuple[int, list[str]]]
    notes: list[str] = field(default_factory=list)
    error: tuple[int, str] | None = None


def is_xlsx(data: bytes) -> bool:
    """An XLSX workbook is a zip archive; a CSV never starts with its magic bytes."""
    return data.startswith(_ZIP_MAGIC)


def _delimiter(header: str) -> str:
    """The delimiter that splits the header into the most columns (comma on a tie)."""
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in DELIMITER_NAMES}
    best = max(counts.values())
    return "," if counts[","] == best else max(counts, key=lambda d: counts[d])


def table_from_text(text: str) -> BillTable:
    """Rows of CSV ``text``, its delimiter detected from the header row."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = _delimiter(first)
    table = BillTable([])
    if delimiter != ",":
        table.notes.append(f"read as {DELIMITER_NAMES[delimiter]}-separated (found in the header)")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return table
        except csv.Error as exc:
            table.error = (reader.line_num, f"malformed CSV: {exc}")
            return table
        table.rows.append((start, row))
        start = reader.line_num + 1


def table_from_xlsx(data: bytes) -> BillTable:
    """Rows of the first sheet of an XLSX workbook (read-only, streamed row by row)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors
        raise InvalidInput(f"the file is not a readable XLSX workbook: {exc}") from None
    try:
        sheet = book.worksheets[0]
        table = BillTable([], notes=[f"read from sheet {sheet.title!r} of an XLSX workbook"])
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            table.rows.append((number, [cell_text(v) for v in values]))
        return table
    finally:
        book.close()


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a clerk sees (numbers exactly, dates ISO)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 1234.5, not 1234.4999…
        return format(Decimal(repr(value)).normalize(), "f")
    return str(value)
