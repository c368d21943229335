"""Importing a biller's bill file into the database: all-or-nothing or valid lines only.

Re-importing a file creates nothing twice: a bill already stored with the same content is
counted as unchanged; one stored with different content is an error on its line.

Large files: the file is checked in full first (nothing is written when a line is bad in
all-or-nothing mode), then written set-based (payers upserted, bills and items inserted
many rows per statement) in chunks of :data:`CHUNK` bills, one transaction each — so other
writers are never locked out for long, and an import stopped half-way is finished by
running it again (docs/bill-import.md).

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
from billfold.collection.import_mode import ImportMode
from billfold.collection.payer import IdentifierKind, Payer
from billfold.collection.ports import UnitOfWork
from billfold.errors import Conflict, ImportFailed, InvariantViolated
from billfold.merchants.biller import BillerKind
from billfold.merchants.services import require_biller

__all__ = ["ImportMode", "ImportReport", "add_bill", "import_bills"]

#: How many bills one transaction of an import writes.
CHUNK = 5000

DEFAULT_IDENTIFIER = {
    BillerKind.SCHOOL: IdentifierKind.STUDENT_NO,
    BillerKind.UTILITY: IdentifierKind.ACCOUNT_NO,
    BillerKind.GOVERNMENT: IdentifierKind.DECISION_NO,
    BillerKind.HOUSING_DEVELOPER: IdentifierKind.CONTRACT_NO,
    BillerKind.PROPERTY: IdentifierKind.ACCOUNT_NO,
}


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
    """Import a bill file (CSV or XLSX) for ``biller_code``. ``strict`` refuses columns
    billfold does not know instead of ignoring them with a warning.

    The whole file is read and checked first — every line parsed, every bill number looked
    up — before anything is written. In all-or-nothing mode any error raises
    :class:`ImportFailed` listing every problem, and nothing is written; in valid-lines mode
    the bad lines are reported and the others written. The new bills are then written
    :data:`CHUNK` at a time, each chunk its own transaction, so a long import never holds
    the database's write lock for long (other writers get in between chunks).
    ``progress(done_lines, total_lines)`` is called after each chunk is committed.

    An import stopped half-way (a crash, Ctrl-C) leaves its committed chunks; running it
    again counts them as unchanged and writes the rest, so the file's bills end up stored
    exactly once. The audit log records an import when its last chunk is written.
    """
    mode = ImportMode(mode)
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
    drafts = _sorted_rows(read_bill_rows(table, biller.id, default_kind, strict=strict), report)
    with uow:
        stored = uow.bills.content_hashes(biller.id, [d.bill.bill_no for d in drafts])
    new = [d for d in drafts if not _known(d, stored.get(d.bill.bill_no), report)]
    _refuse_if_wrong(report, file_name)
    total_lines = max(0, len(table.rows) - 1)
    for start in range(0, len(new), CHUNK):
        chunk = new[start : start + CHUNK]
        with uow:
            _write_chunk(uow, clock, biller.id, chunk, report)
            uow.commit()
        if progress:
            progress(chunk[-1].line - 1, total_lines)
    _refuse_if_wrong(report, file_name, written=True)
    with uow:
        _audit(uow, biller_code, file_name, data, report, clock.now())
        uow.commit()
    if progress:
        progress(total_lines, total_lines)
    return report


def _sorted_rows(
    rows: Iterable[BillDraft | LineError | LineWarning], report: ImportReport
) -> list[BillDraft]:
    """The drafts of the file; its errors and warnings go to ``report``."""
    drafts: list[BillDraft] = []
    for item in rows:
        if isinstance(item, BillDraft):
            drafts.append(item)
        elif isinstance(item, LineError):
            report.errors.append(item)
        else:
            report.warnings.append(item)
    return drafts


def _known(draft: BillDraft, stored_hash: str | None, report: ImportReport) -> bool:
    """Whether the draft's bill number is stored already: unchanged when the content is the
    same, an error on its line when it is not."""
    if stored_hash is None:
        return False
    if stored_hash == draft.content_hash:
        report.unchanged += 1
    else:
        report.errors.append(
            LineError(
                draft.line,
                "bill_no",
                f"{draft.bill.bill_no} already exists with different content; "
                "cancel or change it instead of importing it again",
            )
        )
    return True


def _refuse_if_wrong(report: ImportReport, file_name: str, *, written: bool = False) -> None:
    """In all-or-nothing mode, :class:`ImportFailed` naming every error. After writing
    (``written``), an error can only come from bills stored by someone else meanwhile."""
    report.errors.sort(key=lambda e: e.line)
    if not report.errors or report.mode is not ImportMode.ALL_OR_NOTHING:
        return
    outcome = (
        f"{report.created} bill(s) were imported before it was found; importing the file "
        "again skips them"
        if written and report.created
        else "nothing was imported"
    )
    raise ImportFailed(
        f"{file_name}: {report.rejected} line(s) rejected; {outcome}",
        [str(e) for e in report.errors],
    )


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


def _write_chunk(
    uow: UnitOfWork, clock: Clock, biller_id: int, chunk: list[BillDraft], report: ImportReport
) -> None:
    """Payers, bills and items of ``chunk``, set-based. A bill number stored by someone else
    since the file was checked is unchanged if its content is the same, an error if not."""
    now = clock.now()
    payers = uow.payers.ensure_many(biller_id, [d.payer for d in chunk], now)
    for draft in chunk:
        stored = payers[(draft.payer.kind, draft.payer.identifier)]
        if stored.id is None:
            raise InvariantViolated("payer.id is missing")
        draft.bill.payer_id = stored.id
        _report_renamed(draft, stored, report)
    taken = set(uow.bills.add_many([(d.bill, d.content_hash) for d in chunk], now))
    report.created += len(chunk) - len(taken)
    if taken:
        hashes = uow.bills.content_hashes(biller_id, taken)
        for draft in chunk:
            if draft.bill.bill_no in taken:
                _known(draft, hashes.get(draft.bill.bill_no), report)


def _report_renamed(draft: BillDraft, stored: Payer, report: ImportReport) -> None:
    new = draft.payer.name
    if new and stored.name and stored.name != new:
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
