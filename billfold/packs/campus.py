"""Campus tuition: roster import, scholarships and hardship waivers, withdrawals, the bursar's
reports and per-student payment notices — over the host's unit of work, each write one transaction.

The pure parts live in :mod:`billfold.collection.roster` and :mod:`billfold.settlement.tuition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote, urlsplit

import structlog

from billfold.channels.qr_render import render_counter_sign
from billfold.collection.bill import Bill
from billfold.collection.bill_actions import (
    BillCancellation,
    WaiverRequest,
    cancel_bill,
    waive_bill,
)
from billfold.collection.bill_csv import decode_bill_file
from billfold.collection.payer import IdentifierKind, Payer
from billfold.collection.refund import RefundRecord
from billfold.collection.refunding import RefundRequest, refund_payment
from billfold.collection.roster import (
    OFF_ROSTER,
    WITHDRAWN,
    Term,
    parse_fee_items,
    parse_roster,
    plan_bills,
)
from billfold.collection.roster_changes import RosterChanges, diff_roster
from billfold.errors import ConcurrencyConflict, InvalidInput, InvariantViolated, NotFound
from billfold.masking import mask_name
from billfold.merchants.biller import Biller, BillerKind
from billfold.packs import host as core
from billfold.packs.host import Host
from billfold.packs.ports import PacksUnitOfWork
from billfold.settlement.daybook import DayPayment
from billfold.settlement.tuition import Closed, StudentBill, write_bursar_reports

__all__ = ["Campus", "GrantKind", "Withdrawal", "notice_url"]

log = structlog.get_logger("billfold.campus")

_BASE_URL_EXAMPLE = "e.g. https://pay.example.edu.cn"


def notice_url(base_url: str, school: str, bill_no: str) -> str:
    """What the QR on a printed notice opens: the bill's page on the payer pages
    (``/pay/b/{biller}/bills/{bill_no}``) under the address the school serves them at."""
    base = base_url.strip()
    if not base:
        raise InvalidInput(
            f"base_url: the payer pages' address is needed for the QR, {_BASE_URL_EXAMPLE}"
        )
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidInput(
            f"base_url: {base!r} must be an http:// or https:// address without a query, "
            f"{_BASE_URL_EXAMPLE}"
        )
    return f"{base.rstrip('/')}/pay/b/{quote(school, safe='')}/bills/{quote(bill_no, safe='')}"


def _closed(bill: Bill) -> Closed | None:
    if not bill.cancelled:
        return None
    reason = bill.cancel_reason or ""
    if reason.startswith(WITHDRAWN):
        return Closed.WITHDRAWN
    return Closed.REMOVED if reason == OFF_ROSTER else Closed.CANCELLED


class GrantKind(StrEnum):
    SCHOLARSHIP = "scholarship"  # 奖学金
    HARDSHIP = "hardship"  # 困难减免

    @property
    def label(self) -> str:
        return "奖学金" if self is GrantKind.SCHOLARSHIP else "困难减免"


@dataclass(frozen=True, slots=True)
class Withdrawal:
    bill_no: str
    refunds: tuple[RefundRecord, ...]
    cancelled: bool

    @property
    def refunded_fen(self) -> int:
        return sum(r.amount_fen for r in self.refunds)


class Campus:
    def __init__(self, host: Host) -> None:
        self.host = host

    def _school(self, code: str) -> Biller:
        biller = core.biller(self.host, code)
        if biller.kind is not BillerKind.SCHOOL:
            raise InvalidInput(f"biller: {code} is a {biller.kind.value}, not a school")
        return biller

    # -- the roster ---------------------------------------------------------------------------
    def import_roster(
        self,
        school: str,
        roster: bytes,
        fees: bytes,
        term: Term,
        *,
        actor: str,
        dry_run: bool = False,
        remove_missing: bool = True,
        roster_name: str = "roster.csv",
        fees_name: str = "fees.csv",
    ) -> RosterChanges:
        """Bills for every student of the roster for ``term``; re-importing the same files
        changes nothing. Bad files raise :class:`~billfold.errors.ImportFailed` naming every
        line, and nothing is written. ``dry_run`` reports without writing."""
        biller = self._school(school)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        fee_items = parse_fee_items(decode_bill_file(fees), file_name=fees_name)
        students = parse_roster(decode_bill_file(roster), file_name=roster_name)
        planned = plan_bills(students, fee_items, term, file_name=roster_name)
        now = self.host.clock.now()
        with self.host.uow() as uow:
            stored = uow.daybook.term_students(biller.id, term.name)
            changes = diff_roster(term, planned, stored, remove_missing=remove_missing)
            if dry_run or not changes.changes_anything:
                return changes
            _write_changes(uow, biller, changes, now)
            uow.audit.append(
                actor=actor,
                action="import_roster",
                target_type="biller",
                target_id=school,
                reason=f"{term.name}: {roster_name}, {fees_name}",
                before=None,
                after=changes.counts(),
                now=now,
            )
            uow.commit()
        log.info("roster imported", biller=school, term=term.name, **changes.counts())
        return changes

    def current_bill(self, school: str, term: str, student_no: str) -> Bill:
        biller = self._school(school)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        with self.host.uow() as uow:
            known = uow.daybook.term_students(biller.id, term).get(student_no)
        current = known.current if known else None
        if current is None:
            raise NotFound(f"student {student_no} has no open {term} bill at {school}")
        return current.bill

    # -- waivers and withdrawals ----------------------------------------------------------------
    def grant(
        self,
        school: str,
        term: str,
        student_no: str,
        amount_fen: int,
        *,
        kind: GrantKind,
        approved_by: str,
        note: str,
        request_id: str,
        item_code: str | None = None,
    ) -> Bill:
        """A scholarship or hardship waiver, recorded with its approver (and audited); once
        per ``request_id`` (a repeat returns the bill, waiving nothing more)."""
        if not note.strip():
            raise InvalidInput(f"note: a {kind.label} needs a note saying why")
        bill = self.current_bill(school, term, student_no)
        return waive_bill(
            self.host.uow(),
            self.host.clock,
            WaiverRequest(
                biller_code=school,
                bill_no=bill.bill_no,
                amount_fen=amount_fen,
                reason=f"{kind.label}: {note.strip()}",
                granted_by=approved_by,
                request_id=request_id,
                item_code=item_code,
            ),
        )

    def withdraw(
        self, school: str, term: str, student_no: str, *, by: str, reason: str
    ) -> Withdrawal:
        """The student leaves: what was paid of the term's bill is refunded (each payment once,
        keyed by the bill, so a repeat refunds nothing more) and the bill is cancelled."""
        if not reason.strip():
            raise InvalidInput("reason: a withdrawal needs a reason")
        bill = self.current_bill(school, term, student_no)
        if bill.id is None:
            raise InvariantViolated("bill.id is missing")
        with self.host.uow() as uow:
            paid = uow.daybook.bill_payments(bill.id)
        refunds = tuple(
            refund_payment(
                self.host.uow(),
                self.host.clock,
                RefundRequest(
                    payment_id=payment_id,
                    amount_fen=amount,
                    request_id=f"withdraw-{bill.bill_no}-{payment_id}",
                    reason=f"{WITHDRAWN}{reason.strip()}",
                    requested_by=by,
                ),
            )
            for payment_id, amount in paid
            if amount > 0
        )
        cancel_bill(
            self.host.uow(),
            self.host.clock,
            BillCancellation(
                biller_code=school,
                bill_no=bill.bill_no,
                reason=f"{WITHDRAWN}{reason.strip()}",
                by=by,
            ),
        )
        return Withdrawal(bill.bill_no, refunds, True)

    # -- reports -------------------------------------------------------------------------------
    def student_bills(self, school: str, term: str) -> list[StudentBill]:
        biller = self._school(school)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        with self.host.uow() as uow:
            stored = uow.daybook.term_students(biller.id, term)
        rows: list[StudentBill] = []
        for number, student in sorted(stored.items()):
            shown = student.current or (student.bills[-1] if student.bills else None)
            if shown is None:
                continue
            bill = shown.bill
            grade, _, class_name = (bill.sub_unit or "/").partition("/")
            rows.append(
                StudentBill(
                    grade,
                    class_name,
                    number,
                    student.name or "",
                    bill.bill_no,
                    bill.principal_fen,
                    bill.waived_fen,
                    bill.paid_fen,
                    bill.refunded_fen,
                    bill.outstanding_fen,
                    _closed(bill),
                )
            )
        return rows

    def day_payments(self, school: str, day: date) -> list[DayPayment]:
        biller = self._school(school)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        with self.host.uow() as uow:
            return uow.daybook.day_payments(biller.id, day)

    def reports(
        self, school: str, term: str, day: date, out_dir: Path, *, mask: bool = True
    ) -> list[Path]:
        """The bursar's CSV files and XLSX workbook for ``term`` and the collections of
        ``day``, written under ``out_dir``."""
        return write_bursar_reports(
            self.student_bills(school, term),
            self.day_payments(school, day),
            day,
            out_dir,
            f"{school}-{term}",
            mask=mask,
        )

    def notice_link(self, school: str, term: str, student_no: str, *, base_url: str) -> str:
        """The address the notice's QR holds: the student's current bill of the term on the
        payer pages served at ``base_url`` (e.g. ``https://pay.example.edu.cn``)."""
        notice_url(base_url, school, "-")  # a bad address is refused before any lookup
        self._school(school)
        bill = self.current_bill(school, term, student_no)
        return notice_url(base_url, school, bill.bill_no)

    def notice_png(self, school: str, term: str, student_no: str, *, base_url: str) -> bytes:
        """A printable payment notice: the school, a QR code opening the bill on the payer
        pages under ``base_url`` (:meth:`notice_link`), the amount due today, and the student
        (name masked) and term."""
        payload = self.notice_link(school, term, student_no, base_url=base_url)
        biller = self._school(school)
        bill = self.current_bill(school, term, student_no)
        due = bill.amount_due_fen(core.today(self.host, biller))
        if due <= 0:
            raise InvalidInput(f"student {student_no}: nothing is due on {bill.bill_no}")
        with self.host.uow() as uow:
            payer = uow.payers.get(bill.payer_id)
        name = mask_name(payer.name if payer else None)
        caption = f"{term} 学杂费 {student_no} {name} 请用手机银行扫码缴费"
        return render_counter_sign(
            payload, f"{biller.name} 缴费通知", amount_fen=due, caption=caption
        )


def _write_changes(
    uow: PacksUnitOfWork, school: Biller, changes: RosterChanges, now: datetime
) -> None:
    """Contacts updated, changed and removed bills cancelled, new revisions added."""
    if school.id is None:
        raise InvariantViolated("school.id is missing")
    for student in changes.contact_updates:
        uow.daybook.update_contact(
            school.id, student.student_no, student.name, student.guardian_phone
        )
    for old, _ in changes.bills_changed:
        old.cancel("fees changed in a roster re-import; replaced by a new revision")
        uow.bills.save(old, now)
    for old in changes.bills_removed:
        old.cancel(OFF_ROSTER)
        uow.bills.save(old, now)
    plans = [*changes.bills_added, *(new for _, new in changes.bills_changed)]
    students = [
        Payer(IdentifierKind.STUDENT_NO, p.student.student_no, p.student.name,
              p.student.guardian_phone)
        for p in plans
    ]  # fmt: skip
    payers = uow.payers.ensure_many(school.id, students, now)  # set-based, as a bill file
    for plan in plans:
        payer_id = payers[(IdentifierKind.STUDENT_NO, plan.student.student_no)].id
        if payer_id is None:
            raise InvariantViolated("payer.id is missing")
        plan.bill.biller_id, plan.bill.payer_id = school.id, payer_id
    taken = uow.bills.add_many([(plan.bill, plan.content_hash) for plan in plans], now)
    if taken:  # written by another import of the same term meanwhile: this one changes nothing
        raise ConcurrencyConflict(
            f"bill(s) {', '.join(taken[:3])} were stored meanwhile; import the roster again"
        )
