"""A school's student roster and fee items, turned into one bill per student per term.

Pure: parsing and bill planning do no I/O. The change report against what is stored is
:mod:`billfold.collection.roster_changes`.

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
from dataclasses import dataclass
from datetime import date

from billfold.collection.bill import Bill, BillItem
from billfold.collection.bill_csv import LineError
from billfold.errors import ImportFailed, InvalidInput
from billfold.money import parse_yuan

__all__ = [
    "OFF_ROSTER",
    "WITHDRAWN",
    "FeeItem",
    "PlannedBill",
    "StoredBill",
    "StoredStudent",
    "Student",
    "Term",
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
        items = _bill_items(student, fees)
        if isinstance(items, LineError):
            errors.append(items)
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


def _bill_items(student: Student, fees: list[FeeItem]) -> list[BillItem] | LineError:
    """The items of a student's bill in priority order, or what is wrong with the student."""
    applicable = _items_for(student, fees)
    where = f"grade {student.grade} class {student.class_name}"
    offered = {code for code, fee in applicable.items() if fee.optional}
    unknown = sorted(student.optional - offered)
    if unknown:
        message = f"{', '.join(unknown)} is not an optional item of {where}"
        return LineError(student.line, "optional", message)
    chosen = [(c, f) for c, f in applicable.items() if not f.optional or c in student.optional]
    if all(fee.optional for _, fee in chosen):
        return LineError(student.line, "grade", f"no fee items apply to {where}")
    return [
        BillItem(code, fee.name, fee.amount_fen, priority=position)
        for position, (code, fee) in enumerate(chosen, start=1)
    ]


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
