"""What a person reads in the files ``billfold demo`` writes: every cell of its CSV and XLSX
files, the text of its pages, PDFs and text files — and the English codes that must not show
there (the values of the domain's enums and the channel names; JSON keeps them)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from enum import Enum
from html.parser import HTMLParser
from pathlib import Path

from billfold.collection.bill import BillStatus
from billfold.collection.order import OrderStatus
from billfold.collection.payment import PaymentStatus, SuspenseReason
from billfold.collection.refund import RefundStatus
from billfold.collection.refund_transfer import TransferStage
from billfold.labels import LABELS
from billfold.settlement.banking import MatchStatus
from billfold.settlement.batch import BatchStatus
from billfold.settlement.complaint import ComplaintKind, ComplaintStatus
from billfold.settlement.discrepancy import Action, Code, DiscrepancyStatus
from billfold.settlement.escrow import EntryKind

ENUMS: tuple[type[Enum], ...] = (
    BillStatus, OrderStatus, PaymentStatus, SuspenseReason, RefundStatus, TransferStage,
    MatchStatus, BatchStatus, ComplaintKind, ComplaintStatus, Action, Code, DiscrepancyStatus,
    EntryKind,
)  # fmt: skip
#: The codes: every value of those enums, and every channel's name.
CODES = frozenset(str(m.value) for enum in ENUMS for m in enum) | frozenset(LABELS["channel"])

#: Files for machines, not people: JSON (codes stay in JSON), the bank's camt.053 statement,
#: the power company's fixed-width mainframe file (its layout asks for channel codes).
MACHINE_SUFFIXES = (".json", ".xml", ".dat", ".png")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("style", "script", "svg")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script", "svg")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("neither UTF-8 nor GBK")


def read_cells(path: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for every piece of text a person reads in ``path``: a CSV or XLSX cell
    (where = sheet, row and column header), or a word of a page, PDF or text file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = list(csv.reader(io.StringIO(_decode(path.read_bytes()))))
        header = rows[0] if rows else []
        for number, row in enumerate(rows, start=1):
            for column, cell in enumerate(row):
                name = header[column] if column < len(header) else str(column)
                yield f"row {number} {name}", cell.strip()
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        for sheet in book.worksheets:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                for column, cell in enumerate(row):
                    if isinstance(cell, str):
                        yield f"{sheet.title} row {number} col {column + 1}", cell.strip()
        book.close()
    elif suffix in (".html", ".txt", ".pdf"):
        if suffix == ".html":
            parser = _Text()
            parser.feed(path.read_text(encoding="utf-8"))
            text = " ".join(parser.parts)
        elif suffix == ".pdf":
            from pypdf import PdfReader

            text = " ".join(p.extract_text() for p in PdfReader(path).pages).replace("\x00", "")
        else:
            text = _decode(path.read_bytes())
        for word in re.findall(r"[A-Za-z_]+", text):
            yield "text", word
    else:
        raise AssertionError(f"{path.name}: a file kind the scan does not know; add it")


def english_codes(out_dir: Path) -> dict[str, list[str]]:
    """Per file (relative to ``out_dir``): where an English code shows to a person."""
    found: dict[str, list[str]] = {}
    for path in sorted(out_dir.rglob("*")):
        if not path.is_file() or path.suffix.lower() in MACHINE_SUFFIXES:
            continue
        hits = [f"{where}: {text}" for where, text in read_cells(path) if text in CODES]
        if hits:
            found[path.relative_to(out_dir).as_posix()] = hits
    return found
