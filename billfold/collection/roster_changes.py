"""What a roster import changes in a term: the planned bills compared with the stored ones.

Pure, like :mod:`billfold.collection.roster`: :func:`diff_roster` reads the stored students
and bills it is given and returns a :class:`RosterChanges`; the campus desk applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from billfold.collection.bill import Bill, BillItem
from billfold.collection.roster import (
    WITHDRAWN,
    PlannedBill,
    StoredStudent,
    Student,
    Term,
    bill_no_for,
)
from billfold.errors import InvariantViolated
from billfold.money import format_yuan

__all__ = ["RosterChanges", "diff_roster"]


@dataclass(slots=True)
class RosterChanges:
    """What a roster import does (or did): students and bills added, changed, unchanged,
    removed, and what it left alone because money was already paid or waived.

    Each student of the roster or of the stored term is in exactly one ``students_`` list,
    each bill in exactly one ``bills_`` list: a student whose bill is left alone is neither
    changed nor removed (a new name or phone of theirs is still applied)."""

    term: str
    students_added: list[str] = field(default_factory=list)
    students_changed: list[str] = field(default_factory=list)
    students_unchanged: list[str] = field(default_factory=list)
    students_removed: list[str] = field(default_factory=list)
    students_withdrawn: list[str] = field(default_factory=list)
    students_left_alone: list[str] = field(default_factory=list)
    bills_added: list[PlannedBill] = field(default_factory=list)
    bills_changed: list[tuple[Bill, PlannedBill]] = field(default_factory=list)
    bills_unchanged: list[str] = field(default_factory=list)
    bills_removed: list[Bill] = field(default_factory=list)
    bills_left_alone: list[Bill] = field(default_factory=list)
    contact_updates: list[Student] = field(default_factory=list)
    #: Why each of ``bills_left_alone`` was left alone (same order).
    left_alone: list[str] = field(default_factory=list)

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.bills_added or self.bills_changed or self.bills_removed or self.contact_updates
        )

    def counts(self) -> dict[str, int]:
        return {
            "students_added": len(self.students_added),
            "students_changed": len(self.students_changed),
            "students_unchanged": len(self.students_unchanged),
            "students_removed": len(self.students_removed),
            "students_withdrawn": len(self.students_withdrawn),
            "students_left_alone": len(self.students_left_alone),
            "bills_added": len(self.bills_added),
            "bills_changed": len(self.bills_changed),
            "bills_unchanged": len(self.bills_unchanged),
            "bills_removed": len(self.bills_removed),
            "bills_left_alone": len(self.bills_left_alone),
        }

    def lines(self) -> list[str]:
        """The report a bursar reads, one line per change."""
        out = [
            f"{self.term}: students {len(self.students_added)} added, "
            f"{len(self.students_changed)} changed, {len(self.students_unchanged)} unchanged, "
            f"{len(self.students_removed)} removed, {len(self.students_withdrawn)} withdrawn, "
            f"{len(self.students_left_alone)} left alone; "
            f"bills {len(self.bills_added)} added, "
            f"{len(self.bills_changed)} changed, {len(self.bills_unchanged)} unchanged, "
            f"{len(self.bills_removed)} removed, {len(self.bills_left_alone)} left alone"
        ]
        out += [f"+ {p.bill.bill_no} {format_yuan(p.bill.principal_fen)}" for p in self.bills_added]
        out += [
            f"~ {old.bill_no} -> {new.bill.bill_no} {format_yuan(old.principal_fen)} -> "
            f"{format_yuan(new.bill.principal_fen)}"
            for old, new in self.bills_changed
        ]
        out += [f"- {bill.bill_no} cancelled" for bill in self.bills_removed]
        out += [f"! {message}" for message in self.left_alone]
        return out

    def report_zh(self) -> list[str]:
        """:meth:`lines` in Chinese, for the report file a bursar keeps: the counts, then
        one line per bill added, changed, cancelled or left for a person to adjust."""
        out = [
            f"{self.term}：学生 新增{len(self.students_added)}、变更{len(self.students_changed)}、"
            f"未变{len(self.students_unchanged)}、移出{len(self.students_removed)}、"
            f"退学{len(self.students_withdrawn)}、待人工处理{len(self.students_left_alone)}；"
            f"账单 新增{len(self.bills_added)}、变更{len(self.bills_changed)}、"
            f"未变{len(self.bills_unchanged)}、作废{len(self.bills_removed)}、"
            f"待人工处理{len(self.bills_left_alone)}"
        ]
        out += [
            f"新增 {p.bill.bill_no} {format_yuan(p.bill.principal_fen)}" for p in self.bills_added
        ]
        out += [
            f"变更 {old.bill_no} → {new.bill.bill_no} {format_yuan(old.principal_fen)} → "
            f"{format_yuan(new.bill.principal_fen)}"
            for old, new in self.bills_changed
        ]
        out += [f"作废 {bill.bill_no}" for bill in self.bills_removed]
        out += [
            f"待人工处理 {bill.bill_no}：已缴{format_yuan(_paid(bill))}，请减免、退费或办理退学"
            for bill in self.bills_left_alone
        ]
        return out


def _withdrawn(bill: Bill) -> bool:
    return bill.cancelled and (bill.cancel_reason or "").startswith(WITHDRAWN)


def _paid(bill: Bill) -> int:
    return bill.paid_fen + bill.late_fee_paid_fen


def diff_roster(
    term: Term,
    planned: list[PlannedBill],
    stored: Mapping[str, StoredStudent],
    *,
    remove_missing: bool = True,
) -> RosterChanges:
    """Compare the planned bills with the stored ones. A changed bill with nothing paid is
    replaced by a new revision; a removed student's unpaid bill is cancelled; a changed or
    removed bill that has money paid is left alone and reported."""
    changes = RosterChanges(term.name)
    for plan in planned:
        known = stored.get(plan.student.student_no)
        if known is None or known.current is None:
            _new_bill(changes, term, plan, known)
        else:
            _compare(changes, term, plan, known)
    if remove_missing:
        on_roster = {plan.student.student_no for plan in planned}
        for number in sorted(set(stored) - on_roster):
            _remove(changes, number, stored[number])
    return changes


def _contact_changed(known: StoredStudent, student: Student) -> bool:
    return (known.name, known.guardian_phone) != (student.name, student.guardian_phone)


def _new_bill(
    changes: RosterChanges, term: Term, plan: PlannedBill, known: StoredStudent | None
) -> None:
    """A student with no live bill this term: billed, unless they withdrew."""
    student = plan.student
    latest = known.bills[-1].bill if known and known.bills else None
    if latest is not None and _withdrawn(latest):
        changes.students_withdrawn.append(student.student_no)
        return
    revision = len(known.bills) + 1 if known else 1
    changes.students_added.append(student.student_no)
    changes.bills_added.append(_revised(plan, term, revision))
    if known and _contact_changed(known, student):
        changes.contact_updates.append(student)


def _compare(changes: RosterChanges, term: Term, plan: PlannedBill, known: StoredStudent) -> None:
    """A student with a live bill: unchanged, replaced by a new revision, or left alone."""
    student, current = plan.student, known.current
    if current is None:
        raise InvariantViolated("current is missing")
    contact_changed = _contact_changed(known, student)
    if contact_changed:
        changes.contact_updates.append(student)
    if current.content_hash == plan.content_hash:
        changes.bills_unchanged.append(current.bill.bill_no)
    elif _paid(current.bill) or current.bill.waived_fen:
        changes.students_left_alone.append(student.student_no)
        changes.bills_left_alone.append(current.bill)
        changes.left_alone.append(
            f"{current.bill.bill_no}: the fees changed but {format_yuan(_paid(current.bill))}"
            f" is paid and {format_yuan(current.bill.waived_fen)} waived; "
            "adjust it by hand (waive or refund)"
        )
        return
    else:
        changes.bills_changed.append((current.bill, _revised(plan, term, len(known.bills) + 1)))
    if contact_changed or current.bill.sub_unit != student.sub_unit:
        changes.students_changed.append(student.student_no)
    else:
        changes.students_unchanged.append(student.student_no)


def _remove(changes: RosterChanges, number: str, known: StoredStudent) -> None:
    """A student no longer on the roster: their unpaid bill is cancelled, a paid one kept."""
    current = known.current
    if current is None:
        return
    if _paid(current.bill):
        changes.students_left_alone.append(number)
        changes.bills_left_alone.append(current.bill)
        changes.left_alone.append(
            f"{current.bill.bill_no}: {number} is no longer on the roster but "
            f"{format_yuan(_paid(current.bill))} is paid; withdraw the student to "
            "refund and close the bill"
        )
    else:
        changes.students_removed.append(number)
        changes.bills_removed.append(current.bill)


def _revised(plan: PlannedBill, term: Term, revision: int) -> PlannedBill:
    if revision == 1:
        return plan
    bill = plan.bill
    items = [BillItem(i.code, i.name, i.amount_fen, i.priority) for i in bill.items]
    again = Bill(
        biller_id=bill.biller_id,
        bill_no=bill_no_for(term, plan.student.student_no, revision),
        payer_id=bill.payer_id,
        items=items,
        due_date=bill.due_date,
        allow_partial=bill.allow_partial,
        min_part_fen=bill.min_part_fen,
        sub_unit=bill.sub_unit,
        period=bill.period,
        description=bill.description,
    )
    return PlannedBill(plan.student, again, plan.content_hash)
