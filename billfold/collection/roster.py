"""A school's student roster and fee items, turned into one bill per student per term.

Pure: parsing, bill planning and the change report against what is stored do no I/O.

Roster CSV (a header row; Chinese or English column names)::

    学号,姓名,年级,班级,家长电话,选报项目
    2026001,张小明,七年级,1班,13812345671,dorm;insurance

Fee items CSV: an item applies to a grade (``年级``; empty or ``*`` for every grade) and
optionally only to one class of it (``班级``); a class's item replaces the grade's item with
the same code. Optional items (``可选`` = yes) are billed only to students who chose them in
the roster's ``选报项目`` column (codes separated by ``;``)::

    年级,班级,项目代码,项目名称,金额,可选
    七年级,,tuition,学费,4500.00,no
    七年级,1班,books,教材费,380.00,no
    *,,dorm,住宿费,1200.00,yes
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from billfold.collection.bill import Bill, BillItem
from billfold.collection.bill_csv import LineError
from billfold.errors import ImportFailed, InvalidInput
from billfold.money import format_yuan, parse_yuan

__all__ = [
    "OFF_ROSTER",
    "WITHDRAWN",
    "FeeItem",
    "PlannedBill",
    "RosterChanges",
    "StoredBill",
    "StoredStudent",
    "Student",
    "Term",
    "diff_roster",
    "parse_fee_items",
    "parse_roster",
    "plan_bills",
]

ROSTER_ALIASES = {
    "学号": "student_no",
    "姓名": "name",
    "年级": "grade",
    "班级": "class",
    "家长电话": "guardian_phone",
    "监护人电话": "guardian_phone",
    "选报项目": "optional",
}
ROSTER_REQUIRED = ("student_no", "name", "grade", "class", "guardian_phone")
FEE_ALIASES = {
    "年级": "grade",
    "班级": "class",
    "项目代码": "item",
    "项目名称": "name",
    "金额": "amount",
    "可选": "optional",
}
FEE_REQUIRED = ("grade", "item", "name", "amount")
_PHONE = re.compile(r"1\d{10}")
_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_YES, _NO = {"yes", "y", "是", "1", "true"}, {"no", "n", "否", "0", "false", ""}
ALL_GRADES = "*"
#: How a withdrawal's cancellation reason starts: such a student is not billed again.
WITHDRAWN = "退学: "
#: The cancellation reason of an unpaid bill whose student is no longer on the roster.
OFF_ROSTER = "no longer on the roster"


@dataclass(frozen=True, slots=True)
class Student:
    student_no: str
    name: str
    grade: str
    class_name: str
    guardian_phone: str
    optional: frozenset[str] = frozenset()
    line: int = 0

    @property
    def sub_unit(self) -> str:
        """How a bill remembers the student's class: ``grade/class``."""
        return f"{self.grade}/{self.class_name}"


@dataclass(frozen=True, slots=True)
class FeeItem:
    grade: str  # ``*`` for every grade
    class_name: str | None  # None: every class of the grade
    code: str
    name: str
    amount_fen: int
    optional: bool = False
    line: int = 0


@dataclass(frozen=True, slots=True)
class Term:
    """What the school decides per term: its name, the due date and installments."""

    name: str
    due_date: date
    installments: bool = False
    min_part_fen: int = 0

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > 20 or "-" in self.name:
            raise InvalidInput("term: 1-20 characters without '-' required (e.g. 2026秋)")
        if self.min_part_fen < 0:
            raise InvalidInput("min_part: cannot be negative")
        if self.min_part_fen and not self.installments:
            raise InvalidInput("min_part: only with installments")


@dataclass(frozen=True, slots=True)
class PlannedBill:
    student: Student
    bill: Bill
    content_hash: str


@dataclass(frozen=True, slots=True)
class StoredBill:
    bill: Bill
    content_hash: str


@dataclass(frozen=True, slots=True)
class StoredStudent:
    """A student as stored: the payer row and every bill of the term (oldest first)."""

    student_no: str
    name: str | None
    guardian_phone: str | None
    bills: tuple[StoredBill, ...] = ()

    @property
    def current(self) -> StoredBill | None:
        live = [b for b in self.bills if not b.bill.cancelled]
        return live[-1] if live else None


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


# -- parsing ---------------------------------------------------------------------------------


def _rows(
    text: str, aliases: Mapping[str, str], required: Iterable[str], known: set[str]
) -> tuple[list[tuple[int, dict[str, str]]], list[LineError]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return [], [LineError(1, "header", "the file is empty")]
    except csv.Error as exc:
        return [], [LineError(1, "header", f"malformed CSV: {exc}")]
    columns = [aliases.get(h.strip(), h.strip().lower()) for h in header]
    unknown = [h.strip() for h, c in zip(header, columns, strict=True) if c not in known]
    if unknown:
        return [], [LineError(1, "header", f"unknown column(s): {', '.join(unknown)}")]
    missing = [c for c in required if c not in columns]
    if missing:
        return [], [LineError(1, "header", f"missing column(s): {', '.join(missing)}")]
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[LineError] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                found = f"expected {len(columns)} fields, found {len(row)}"
                errors.append(LineError(reader.line_num, "row", found))
                continue
            rows.append(
                (reader.line_num, {c: v.strip() for c, v in zip(columns, row, strict=True)})
            )
    except csv.Error as exc:
        errors.append(LineError(reader.line_num, "row", f"malformed CSV: {exc}"))
    return rows, errors


def _fail(what: str, errors: list[LineError]) -> ImportFailed:
    errors.sort(key=lambda e: (e.line, e.field))
    lines = len({e.line for e in errors})
    return ImportFailed(
        f"{what}: {lines} line(s) rejected; nothing was imported", [str(e) for e in errors]
    )


def _name_part(value: str, name: str) -> str:
    if not value:
        raise InvalidInput(f"{name}: is empty")
    if "/" in value or len(value) > 30:
        raise InvalidInput(f"{name}: {value!r} must be 1-30 characters without '/'")
    return value


def parse_roster(text: str, *, file_name: str = "roster.csv") -> list[Student]:
    """Every student of the roster, or :class:`ImportFailed` naming every bad line."""
    known = set(ROSTER_REQUIRED) | {"optional"}
    rows, errors = _rows(text, ROSTER_ALIASES, ROSTER_REQUIRED, known)
    students: list[Student] = []
    seen: dict[str, int] = {}
    for line, values in rows:
        try:
            number = values["student_no"]
            if not number or len(number) > 32 or "-" in number:
                raise InvalidInput(f"student_no: {number!r} must be 1-32 characters without '-'")
            if number in seen:
                raise InvalidInput(f"student_no: {number} repeats line {seen[number]}")
            phone = values["guardian_phone"]
            if not _PHONE.fullmatch(phone):
                raise InvalidInput(f"guardian_phone: {phone!r} is not an 11-digit mobile number")
            if not values["name"]:
                raise InvalidInput("name: is empty")
            chosen = frozenset(
                code.strip() for code in values.get("optional", "").split(";") if code.strip()
            )
            students.append(
                Student(
                    number,
                    values["name"],
                    _name_part(values["grade"], "grade"),
                    _name_part(values["class"], "class"),
                    phone,
                    chosen,
                    line,
                )
            )
            seen[number] = line
        except InvalidInput as exc:
            fld, _, msg = exc.message.partition(": ")
            errors.append(LineError(line, fld, msg))
    if not rows and not errors:
        errors.append(LineError(2, "row", "the roster has no students"))
    if errors:
        raise _fail(file_name, errors)
    return students


def parse_fee_items(text: str, *, file_name: str = "fees.csv") -> list[FeeItem]:
    """Every fee item, or :class:`ImportFailed` naming every bad line."""
    known = set(FEE_REQUIRED) | {"class", "optional"}
    rows, errors = _rows(text, FEE_ALIASES, FEE_REQUIRED, known)
    items: list[FeeItem] = []
    seen: dict[tuple[str, str | None, str], int] = {}
    for line, values in rows:
        try:
            grade = values["grade"] or ALL_GRADES
            if grade != ALL_GRADES:
                _name_part(grade, "grade")
            class_name = values.get("class") or None
            if class_name is not None:
                if grade == ALL_GRADES:
                    raise InvalidInput("class: a class-only item needs its grade")
                _name_part(class_name, "class")
            code = values["item"]
            if not _CODE.fullmatch(code):
                raise InvalidInput(f"item: {code!r} must be a lower-case code like tuition")
            key = (grade, class_name, code)
            if key in seen:
                raise InvalidInput(f"item: {code} for this grade/class repeats line {seen[key]}")
            if not values["name"]:
                raise InvalidInput("name: is empty")
            amount = parse_yuan(values["amount"], field="amount")
            if amount <= 0:
                raise InvalidInput("amount: must be more than 0.00")
            flag = values.get("optional", "").lower()
            if flag not in _YES | _NO:
                raise InvalidInput(f"optional: {values['optional']!r} is not yes/no")
            items.append(
                FeeItem(grade, class_name, code, values["name"], amount, flag in _YES, line)
            )
            seen[key] = line
        except InvalidInput as exc:
            fld, _, msg = exc.message.partition(": ")
            errors.append(LineError(line, fld, msg))
    if not rows and not errors:
        errors.append(LineError(2, "row", "the file has no fee items"))
    if errors:
        raise _fail(file_name, errors)
    return items


# -- planning --------------------------------------------------------------------------------


def _items_for(student: Student, fees: list[FeeItem]) -> dict[str, FeeItem]:
    """The items that apply to the student's class: every-grade, then grade, then class."""
    chosen: dict[str, FeeItem] = {}
    for rank in (0, 1, 2):
        for fee in fees:
            level = 0 if fee.grade == ALL_GRADES else (1 if fee.class_name is None else 2)
            if level != rank or (level and fee.grade != student.grade):
                continue
            if level == 2 and fee.class_name != student.class_name:
                continue
            chosen.pop(fee.code, None)
            chosen[fee.code] = fee
    return chosen


def bill_no_for(term: Term, student_no: str, revision: int = 1) -> str:
    base = f"{term.name}-{student_no}"
    return base if revision == 1 else f"{base}-r{revision}"


def plan_bills(
    students: list[Student], fees: list[FeeItem], term: Term, *, file_name: str = "roster.csv"
) -> list[PlannedBill]:
    """One bill per student: the mandatory items of the class, plus the optional items the
    student chose. Every student's problem is reported (by roster line) at once."""
    planned: list[PlannedBill] = []
    errors: list[LineError] = []
    for student in students:
        applicable = _items_for(student, fees)
        offered = {code for code, fee in applicable.items() if fee.optional}
        unknown = sorted(student.optional - offered)
        if unknown:
            where = f"grade {student.grade} class {student.class_name}"
            errors.append(
                LineError(
                    student.line,
                    "optional",
                    f"{', '.join(unknown)} is not an optional item of {where}",
                )
            )
            continue
        items = [
            BillItem(code, fee.name, fee.amount_fen, priority=position)
            for position, (code, fee) in enumerate(
                ((c, f) for c, f in applicable.items() if not f.optional or c in student.optional),
                start=1,
            )
        ]
        if not any(not applicable[item.code].optional for item in items):
            errors.append(
                LineError(
                    student.line,
                    "grade",
                    f"no fee items apply to grade {student.grade} class {student.class_name}",
                )
            )
            continue
        bill = Bill(
            biller_id=0,
            bill_no=bill_no_for(term, student.student_no),
            payer_id=0,
            items=items,
            due_date=term.due_date,
            allow_partial=term.installments,
            min_part_fen=term.min_part_fen,
            sub_unit=student.sub_unit,
            period=term.name,
            description=f"{term.name} 学杂费",
        )
        planned.append(PlannedBill(student, bill, content_hash(bill)))
    if errors:
        raise _fail(file_name, errors)
    return planned


def content_hash(bill: Bill) -> str:
    """What makes two term bills the same: items, due date, installments and class (not the
    bill number, which carries the revision)."""
    canonical = {
        "items": [[i.code, i.name, i.amount_fen, i.priority] for i in bill.items],
        "due_date": bill.due_date.isoformat() if bill.due_date else None,
        "allow_partial": bill.allow_partial,
        "min_part_fen": bill.min_part_fen,
        "sub_unit": bill.sub_unit,
        "period": bill.period,
    }
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True)
    return "roster:" + hashlib.sha256(text.encode()).hexdigest()[:57]


# -- the change report ------------------------------------------------------------------------


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
        student = plan.student
        known = stored.get(student.student_no)
        current = known.current if known else None
        latest = known.bills[-1].bill if known and known.bills else None
        if current is None and latest is not None and _withdrawn(latest):
            changes.students_withdrawn.append(student.student_no)
            continue
        if known is None or current is None:
            revision = len(known.bills) + 1 if known else 1
            changes.students_added.append(student.student_no)
            changes.bills_added.append(_revised(plan, term, revision))
            if known and (known.name, known.guardian_phone) != (
                student.name,
                student.guardian_phone,
            ):
                changes.contact_updates.append(student)
            continue
        contact_changed = (known.name, known.guardian_phone) != (
            student.name,
            student.guardian_phone,
        )
        class_changed = current.bill.sub_unit != student.sub_unit
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
            continue
        else:
            changes.bills_changed.append((current.bill, _revised(plan, term, len(known.bills) + 1)))
        if contact_changed or class_changed:
            changes.students_changed.append(student.student_no)
        else:
            changes.students_unchanged.append(student.student_no)
    on_roster = {plan.student.student_no for plan in planned}
    if remove_missing:
        for number in sorted(set(stored) - on_roster):
            current = stored[number].current
            if current is None:
                continue
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
    return changes


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
