"""Campus tuition: roster import, scholarships and hardship waivers, withdrawals, the bursar's
reports and per-student payment notices — over the host's unit of work, each write one transaction.

The pure parts live in :mod:`billfold.collection.roster` and :mod:`billfold.settlement.tuition`.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import structlog

from billfold.channels.pdf_render import DocumentPage, render_pdf
from billfold.channels.qr_render import render_counter_sign
from billfold.collection.bill import Bill
from billfold.collection.bill_actions import (
    BillCancellation,
    WaiverRequest,
    cancel_bill,
    waive_bill,
)
from billfold.collection.bill_csv import decode_bill_file
from billfold.collection.finding import record_unmasked_export
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
from billfold.money import format_yuan
from billfold.packs import host as core
from billfold.packs.campus_kinds import GrantKind, NoticeFormat
from billfold.packs.host import Host
from billfold.packs.ports import PacksUnitOfWork
from billfold.settlement.daybook import DayPayment
from billfold.settlement.tuition import Closed, StudentBill, write_bursar_reports

__all__ = ["Campus", "ClassNotices", "GrantKind", "NoticeFormat", "Withdrawal", "notice_url"]

log = structlog.get_logger("billfold.campus")


def notice_url(base_url: str, school: str, bill_no: str) -> str:
    """What the QR on a printed notice opens: the bill's page on the payer pages
    (``/pay/b/{biller}/bills/{bill_no}``) under the address the school serves them at."""
    return core.payer_url(
        base_url, f"/pay/b/{quote(school, safe='')}/bills/{quote(bill_no, safe='')}"
    )


def _closed(bill: Bill) -> Closed | None:
    if not bill.cancelled:
        return None
    reason = bill.cancel_reason or ""
    if reason.startswith(WITHDRAWN):
        return Closed.WITHDRAWN
    return Closed.REMOVED if reason == OFF_ROSTER else Closed.CANCELLED


def _days_overdue(bill: Bill, today: date) -> int:
    if bill.cancelled or bill.due_date is None or bill.outstanding_fen <= 0:
        return 0
    return max(0, (today - bill.due_date).days)


@dataclass(frozen=True, slots=True)
class ClassNotices:
    """The notices of one class: the file's bytes, its media type and a file name to offer,
    the students it has a notice for (by student number, in order) and those left out
    because nothing is due on their bill today (paid, waived or cancelled)."""

    content: bytes
    media_type: str
    file_name: str
    students: tuple[str, ...]
    skipped: tuple[str, ...]


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
        today = core.today(self.host, biller)
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
                    student.guardian_phone,
                    bill.due_date,
                    _days_overdue(bill, today),
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
        self,
        school: str,
        term: str,
        day: date,
        out_dir: Path,
        *,
        mask: bool = True,
        by: str = "",
        reason: str = "",
    ) -> list[Path]:
        """The bursar's CSV files and XLSX workbook for ``term`` and the collections of
        ``day``, written under ``out_dir``. Names and parents' phones are masked; in full
        (``mask=False``) only with who asks and why, written to the audit log first."""
        if not mask:
            record_unmasked_export(
                self.host.uow(),
                self.host.clock,
                "campus_reports",
                {"biller": school, "term": term, "date": day.isoformat()},
                by=by,
                reason=reason,
            )
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

    def class_notices(
        self,
        school: str,
        term: str,
        grade: str,
        class_name: str,
        *,
        base_url: str,
        fmt: NoticeFormat | str = NoticeFormat.PDF,
    ) -> ClassNotices:
        """Payment notices for every student of one class who owes something today.

        ``Campus(host).class_notices(school, term, grade, class_name, *, base_url, fmt="pdf")
        -> ClassNotices``

        * ``school`` — the school's biller code; ``term`` — e.g. ``"2026秋"``;
        * ``grade`` and ``class_name`` — as in the roster (``"七年级"``, ``"1班"``);
        * ``base_url`` — where the payer pages are served (``https://pay.example.edu.cn``):
          each notice's QR opens the student's bill there (:func:`notice_url`);
        * ``fmt`` — ``"pdf"``: one A5 PDF with a page per student (school, term, student
          number and masked name, class, bill number, items, amount due today in figures and
          in capitals, due date, the QR); ``"zip"``: a ZIP of the PNG notices of
          :meth:`notice_png`, named ``{student_no}.png``.

        Students are in student-number order; those with nothing due are listed in
        ``skipped`` (a cancelled bill, e.g. a withdrawn student, is not the class's).
        Raises :class:`~billfold.errors.InvalidInput` for a bad ``base_url`` or ``fmt`` or
        when nothing is due for anyone, and :class:`~billfold.errors.NotFound` when no
        student of the term is in the class; reads only (writes nothing)."""
        try:
            chosen = NoticeFormat(fmt)
        except ValueError:
            raise InvalidInput(f"fmt: {fmt!r}; use pdf or zip") from None
        notice_url(base_url, school, "-")  # a bad address is refused before any lookup
        biller = self._school(school)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        today = core.today(self.host, biller)
        with self.host.uow() as uow:
            stored = uow.daybook.term_students(biller.id, term)
        wanted = f"{grade}/{class_name}"
        in_class = [
            (number, student.name, student.current.bill)
            for number, student in sorted(stored.items())
            if student.current is not None and student.current.bill.sub_unit == wanted
        ]
        if not in_class:
            raise NotFound(f"no student of {term} at {school} is in {grade} {class_name}")
        due = [(n, name, bill) for n, name, bill in in_class if bill.amount_due_fen(today) > 0]
        skipped = tuple(n for n, _, bill in in_class if bill.amount_due_fen(today) <= 0)
        students = tuple(n for n, _, _ in due)
        if not due:
            raise InvalidInput(f"{grade} {class_name}: nothing is due for any student of {term}")
        stem = f"{school}-{term}-{grade}{class_name}-缴费通知"
        if chosen is NoticeFormat.ZIP:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for number in students:
                    png = self.notice_png(school, term, number, base_url=base_url)
                    archive.writestr(f"{number}.png", png)
            return ClassNotices(
                buffer.getvalue(), "application/zip", f"{stem}.zip", students, skipped
            )
        pages = [
            _notice_page(biller, term, number, name, bill, today, base_url)
            for number, name, bill in due
        ]
        pdf = render_pdf(
            pages,
            title=f"{biller.name} {term} {grade}{class_name} 缴费通知",
            created_at=self.host.clock.now(),
        )
        return ClassNotices(pdf, "application/pdf", f"{stem}.pdf", students, skipped)


def _notice_page(
    school: Biller,
    term: str,
    student_no: str,
    name: str | None,
    bill: Bill,
    today: date,
    base_url: str,
) -> DocumentPage:
    """One student's page of the class notices."""
    grade, _, class_name = (bill.sub_unit or "/").partition("/")
    facts = [
        ("学期", term),
        ("学号", student_no),
        ("学生", mask_name(name)),
        ("班级", f"{grade} {class_name}".strip()),
        ("账单号", bill.bill_no),
        ("缴费截止日", f"{bill.due_date:%Y-%m-%d}" if bill.due_date else "—"),
    ]
    if bill.waived_fen:
        facts.append(("已减免", f"¥{format_yuan(bill.waived_fen)}"))
    if bill.paid_fen:
        facts.append(("已缴", f"¥{format_yuan(bill.paid_fen)}"))
    late = bill.late_fee_fen(today)
    if late:
        facts.append(("滞纳金", f"¥{format_yuan(late)}"))
    return DocumentPage(
        title=f"{school.name} 缴费通知单",
        facts=tuple(facts),
        items=tuple((item.name, item.amount_fen) for item in bill.items),
        amount_fen=bill.amount_due_fen(today),
        amount_label="应缴金额",
        qr_payload=notice_url(base_url, school.code, bill.bill_no),
        caption="请用微信、支付宝或手机银行扫码缴费",
        footer=f"通知日期 {today:%Y-%m-%d}",
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
