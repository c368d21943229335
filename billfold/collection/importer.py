"""Importing a biller's bill file into the database: all-or-nothing or valid lines only.

Re-importing a file creates nothing twice: a bill already stored with the same content is
counted as unchanged; one stored with different content is an error on its line.

The file is CSV (comma, tab or semicolon separated; UTF-8 or GBK) or an XLSX workbook.
The report lists ``warnings`` (columns ignored, the delimiter used) and ``changes``: a
payer already stored under the file's identifier with another name is reported there;
the stored name is kept (a changed account holder is confirmed on the payer record, not by
a bill file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from billfold.clock import Clock
from billfold.collection.bill import Bill
from billfold.collection.bill_csv import (
    BillDraft,
    LineError,
    LineWarning,
    decode_bill_file,
    read_bill_rows,
)
from billfold.collection.bill_file import is_xlsx, table_from_text, table_from_xlsx
from billfold.collection.payer import IdentifierKind, Payer
from billfold.collection.ports import UnitOfWork
from billfold.errors import Conflict, ImportFailed, InvariantViolated
from billfold.merchants.biller import Biller, BillerKind
from billfold.merchants.services import require_biller

__all__ = ["ImportMode", "ImportReport", "add_bill", "import_bills"]

CHUNK = 500

DEFAULT_IDENTIFIER = {
    BillerKind.SCHOOL: IdentifierKind.STUDENT_NO,
    BillerKind.UTILITY: IdentifierKind.ACCOUNT_NO,
    BillerKind.GOVERNMENT: IdentifierKind.DECISION_NO,
    BillerKind.HOUSING_DEVELOPER: IdentifierKind.CONTRACT_NO,
    BillerKind.PROPERTY: IdentifierKind.ACCOUNT_NO,
}


class ImportMode(StrEnum):
    ALL_OR_NOTHING = "all-or-nothing"
    VALID_LINES = "valid-lines"


@dataclass(slots=True)
class ImportReport:
    file_name: str
    mode: ImportMode
    created: int = 0
    unchanged: int = 0
    errors: list[LineError] = field(default_factory=list)
    warnings: list[LineWarning] = field(default_factory=list)
    changes: list[LineWarning] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({e.line for e in self.errors})

    @property
    def ok(self) -> bool:
        return not self.errors


def import_bills(
    uow: UnitOfWork,
    clock: Clock,
    biller_code: str,
    data: bytes,
    *,
    file_name: str = "<upload>",
    encoding: str = "auto",
    mode: ImportMode | str = ImportMode.ALL_OR_NOTHING,
    progress: Callable[[int, int], None] | None = None,
    strict: bool = False,
) -> ImportReport:
    """Import a bill file (CSV or XLSX) for ``biller_code``. ``progress(done_lines,
    total_lines)`` is called as chunks are written. In all-or-nothing mode any error raises
    :class:`ImportFailed` listing every problem, and nothing is written. ``strict`` refuses
    columns billfold does not know instead of ignoring them with a warning."""
    mode = ImportMode(mode)
    now = clock.now()
    table = (
        table_from_xlsx(data)
        if is_xlsx(data)
        else table_from_text(decode_bill_file(data, encoding))
    )
    report = ImportReport(file_name, mode)
    with uow:
        biller = require_biller(uow, biller_code)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        default_kind = DEFAULT_IDENTIFIER.get(biller.kind, IdentifierKind.OTHER)
        rows = read_bill_rows(table, biller.id, default_kind, strict=strict)
        total_lines = max(0, len(table.rows) - 1)
        _write_in_chunks(uow, clock, biller, rows, report, progress, total_lines)
        report.errors.sort(key=lambda e: e.line)
        if report.errors and mode is ImportMode.ALL_OR_NOTHING:
            raise ImportFailed(
                f"{file_name}: {report.rejected} line(s) rejected; nothing was imported",
                [str(e) for e in report.errors],
            )
        _audit(uow, biller_code, file_name, data, report, now)
        uow.commit()
    return report


def _audit(
    uow: UnitOfWork,
    biller_code: str,
    file_name: str,
    data: bytes,
    report: ImportReport,
    now: datetime,
) -> None:
    uow.audit.append(
        actor="import",
        action="import_bills",
        target_type="biller",
        target_id=biller_code,
        reason=file_name,
        before=None,
        after={
            "sha256": hashlib.sha256(data).hexdigest(),
            "created": report.created,
            "unchanged": report.unchanged,
            "rejected": report.rejected,
        },
        now=now,
    )


def _write_in_chunks(
    uow: UnitOfWork,
    clock: Clock,
    biller: Biller,
    rows: Iterable[BillDraft | LineError | LineWarning],
    report: ImportReport,
    progress: Callable[[int, int], None] | None,
    total_lines: int,
) -> None:
    """Write the drafts CHUNK at a time, noting errors and warnings in ``report``."""
    chunk: list[BillDraft] = []
    for item in rows:
        if isinstance(item, LineError):
            report.errors.append(item)
            continue
        if isinstance(item, LineWarning):
            report.warnings.append(item)
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK:
            _write_chunk(uow, clock, biller, chunk, report)
            if progress:
                progress(chunk[-1].line - 1, total_lines)
            chunk = []
    if chunk:
        _write_chunk(uow, clock, biller, chunk, report)
    if progress:
        progress(total_lines, total_lines)


def _write_chunk(
    uow: UnitOfWork, clock: Clock, biller: Biller, chunk: list[BillDraft], report: ImportReport
) -> None:
    if biller.id is None:
        raise InvariantViolated("biller.id is missing")
    now = clock.now()
    stored = uow.bills.content_hashes(biller.id, [d.bill.bill_no for d in chunk])
    for draft in chunk:
        previous = stored.get(draft.bill.bill_no)
        if previous == draft.content_hash:
            report.unchanged += 1
            continue
        if previous is not None:
            report.errors.append(
                LineError(
                    draft.line,
                    "bill_no",
                    f"{draft.bill.bill_no} already exists with different content; "
                    "cancel or change it instead of importing it again",
                )
            )
            continue
        draft.bill.payer_id = uow.payers.ensure(biller.id, draft.payer, now)
        _report_renamed(uow, draft, report)
        uow.bills.add(draft.bill, draft.content_hash, now)
        report.created += 1


def _report_renamed(uow: UnitOfWork, draft: BillDraft, report: ImportReport) -> None:
    new = draft.payer.name
    if not new:
        return
    stored = uow.payers.get(draft.bill.payer_id)
    if stored is not None and stored.name and stored.name != new:
        report.changes.append(
            LineWarning(
                draft.line,
                "payer_name",
                f"{draft.payer.identifier}: the file says {new!r}, billfold has "
                f"{stored.name!r}; the stored name is kept",
            )
        )


def add_bill(uow: UnitOfWork, clock: Clock, biller_code: str, payer: Payer, bill: Bill) -> Bill:
    """Store a single bill created in code (or through the API)."""
    now = clock.now()
    with uow:
        biller = require_biller(uow, biller_code)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        if uow.bills.get_by_no(biller.id, bill.bill_no) is not None:
            raise Conflict(f"bill {bill.bill_no} already exists for biller {biller_code}")
        bill.biller_id = biller.id
        bill.payer_id = uow.payers.ensure(biller.id, payer, now)
        digest = hashlib.sha256(f"api:{bill.bill_no}:{now.isoformat()}".encode()).hexdigest()
        uow.bills.add(bill, digest, now)
        uow.outbox.add("bill.created", biller.id, {"bill_no": bill.bill_no}, now)
        uow.commit()
        return bill
