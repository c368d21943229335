"""Roster and fee items → one bill per student per term, and the change report (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from billfold.collection.bill import Bill
from billfold.collection.roster import (
    WITHDRAWN,
    PlannedBill,
    StoredBill,
    StoredStudent,
    Term,
    parse_fee_items,
    parse_roster,
    plan_bills,
)
from billfold.collection.roster_changes import diff_roster
from billfold.errors import ImportFailed, InvalidInput

TERM = Term("2026秋", date(2026, 9, 10), installments=True, min_part_fen=100_000)
ROSTER = """\
学号,姓名,年级,班级,家长电话,选报项目
2026001,张小明,七年级,1班,13812345671,dorm
2026002,李小红,七年级,2班,13812345672,
2026003,王小刚,八年级,1班,13812345673,insurance
"""
FEES = """\
年级,班级,项目代码,项目名称,金额,可选
*,,dorm,住宿费,1200.00,yes
*,,insurance,保险,150.00,yes
七年级,,tuition,学费,4500.00,no
七年级,,books,教材费,380.00,no
七年级,2班,books,教材费(双语),420.00,no
八年级,,tuition,学费,4800.00,no
"""


def _plan(roster: str = ROSTER, fees: str = FEES) -> list[PlannedBill]:
    return plan_bills(parse_roster(roster), parse_fee_items(fees), TERM)


def _stored(plans: list[PlannedBill], **paid: int) -> dict[str, StoredStudent]:
    """The planned bills as if imported, with ``paid`` fen on some students' first item."""
    out = {}
    for index, plan in enumerate(plans, start=1):
        bill = plan.bill
        bill.id, bill.payer_id, bill.biller_id = index, index, 1
        bill.items[0].paid_fen = paid.get(f"s{plan.student.student_no}", 0)
        out[plan.student.student_no] = StoredStudent(
            plan.student.student_no,
            plan.student.name,
            plan.student.guardian_phone,
            (StoredBill(bill, plan.content_hash),),
        )
    return out


def _items(bill: Bill) -> list[tuple[str, int]]:
    return [(i.code, i.amount_fen) for i in bill.items]


def test_each_student_gets_the_items_of_their_grade_and_class_and_the_options_they_chose() -> None:
    first, second, third = _plan()
    assert first.bill.bill_no == "2026秋-2026001"
    assert _items(first.bill) == [("dorm", 120_000), ("tuition", 450_000), ("books", 38_000)]
    # the class's own books item replaces the grade's; no options chosen
    assert _items(second.bill) == [("tuition", 450_000), ("books", 42_000)]
    assert _items(third.bill) == [("insurance", 15_000), ("tuition", 480_000)]
    assert (first.bill.sub_unit, first.bill.period, first.bill.due_date) == (
        "七年级/1班",
        "2026秋",
        date(2026, 9, 10),
    )
    assert first.bill.allow_partial and first.bill.min_part_fen == 100_000
    assert [i.priority for i in first.bill.items] == [1, 2, 3]


def test_the_same_files_plan_the_same_bills_and_nothing_changes() -> None:
    stored = _stored(_plan())
    changes = diff_roster(TERM, _plan(), stored)
    assert not changes.changes_anything
    assert changes.counts() == {
        "students_added": 0,
        "students_changed": 0,
        "students_unchanged": 3,
        "students_removed": 0,
        "students_withdrawn": 0,
        "bills_added": 0,
        "bills_changed": 0,
        "bills_unchanged": 3,
        "bills_removed": 0,
        "students_left_alone": 0,
        "bills_left_alone": 0,
    }


def test_the_change_report_names_added_changed_and_removed_students_and_bills() -> None:
    stored = _stored(_plan())
    roster = """\
学号,姓名,年级,班级,家长电话,选报项目
2026001,张小明,七年级,1班,13899999999,dorm
2026002,李小红,七年级,2班,13812345672,dorm
2026004,赵小丽,七年级,1班,13812345674,
"""
    changes = diff_roster(TERM, _plan(roster), stored)
    assert changes.students_added == ["2026004"]
    assert changes.students_changed == ["2026001"]  # a new guardian phone
    assert changes.students_unchanged == ["2026002"]
    assert changes.students_removed == ["2026003"]
    assert [p.bill.bill_no for p in changes.bills_added] == ["2026秋-2026004"]
    assert changes.bills_unchanged == ["2026秋-2026001"]  # the phone is not on the bill
    [(old, new)] = changes.bills_changed  # 李小红 chose the dormitory
    assert (old.bill_no, new.bill.bill_no) == ("2026秋-2026002", "2026秋-2026002-r2")
    assert _items(new.bill)[0] == ("dorm", 120_000)
    assert [b.bill_no for b in changes.bills_removed] == ["2026秋-2026003"]
    assert [s.student_no for s in changes.contact_updates] == ["2026001"]
    assert changes.lines() == [
        "2026秋: students 1 added, 1 changed, 1 unchanged, 1 removed, 0 withdrawn, "
        "0 left alone; bills 1 added, 1 changed, 1 unchanged, 1 removed, 0 left alone",
        "+ 2026秋-2026004 4880.00",
        "~ 2026秋-2026002 -> 2026秋-2026002-r2 4920.00 -> 6120.00",
        "- 2026秋-2026003 cancelled",
    ]
    assert changes.report_zh() == [  # the report file a bursar keeps
        "2026秋：学生 新增1、变更1、未变1、移出1、退学0、待人工处理0；"
        "账单 新增1、变更1、未变1、作废1、待人工处理0",
        "新增 2026秋-2026004 4880.00",
        "变更 2026秋-2026002 → 2026秋-2026002-r2 4920.00 → 6120.00",
        "作废 2026秋-2026003",
    ]


def test_a_class_change_is_a_student_change_and_a_new_bill_revision() -> None:
    stored = _stored(_plan())
    roster = ROSTER.replace("2026002,李小红,七年级,2班", "2026002,李小红,七年级,1班")
    changes = diff_roster(TERM, _plan(roster), stored)
    assert changes.students_changed == ["2026002"]
    [(_, new)] = changes.bills_changed
    assert new.bill.sub_unit == "七年级/1班" and _items(new.bill)[1] == ("books", 38_000)


def test_bills_with_money_paid_are_left_alone_and_reported() -> None:
    stored = _stored(_plan(), s2026002=10_000, s2026003=480_000)
    roster = """\
学号,姓名,年级,班级,家长电话,选报项目
2026001,张小明,七年级,1班,13812345671,dorm
2026002,李小红,七年级,2班,13812345672,dorm
"""
    changes = diff_roster(TERM, _plan(roster), stored)
    assert not changes.bills_changed and not changes.bills_removed
    assert changes.left_alone == [
        "2026秋-2026002: the fees changed but 100.00 is paid and 0.00 waived; "
        "adjust it by hand (waive or refund)",
        "2026秋-2026003: 2026003 is no longer on the roster but 4800.00 is paid; "
        "withdraw the student to refund and close the bill",
    ]
    assert changes.report_zh()[1:] == [
        "待人工处理 2026秋-2026002：已缴100.00，请减免、退费或办理退学",
        "待人工处理 2026秋-2026003：已缴4800.00，请减免、退费或办理退学",
    ]


def test_each_student_and_each_bill_is_counted_in_exactly_one_category() -> None:
    # 2026001 is unchanged; 2026002 paid 100.00 and now chose the dormitory, and moved class;
    # 2026003 paid 4800.00 and left the roster; 2026004 joined
    stored = _stored(_plan(), s2026002=10_000, s2026003=480_000)
    roster = """\
学号,姓名,年级,班级,家长电话,选报项目
2026001,张小明,七年级,1班,13812345671,dorm
2026002,李小红,七年级,1班,13812345672,dorm
2026004,赵小丽,七年级,1班,13812345674,
"""
    changes = diff_roster(TERM, _plan(roster), stored)
    assert changes.counts() == {
        "students_added": 1,
        "students_changed": 0,
        "students_unchanged": 1,
        "students_removed": 0,
        "students_withdrawn": 0,
        "students_left_alone": 2,
        "bills_added": 1,
        "bills_changed": 0,
        "bills_unchanged": 1,
        "bills_removed": 0,
        "bills_left_alone": 2,
    }
    assert changes.students_left_alone == ["2026002", "2026003"]
    assert [b.bill_no for b in changes.bills_left_alone] == ["2026秋-2026002", "2026秋-2026003"]
    counts = changes.counts()
    students = sum(v for k, v in counts.items() if k.startswith("students_"))
    bills = sum(v for k, v in counts.items() if k.startswith("bills_"))
    assert (students, bills) == (4, 4)  # three stored and one new, each once
    assert changes.lines()[0] == (
        "2026秋: students 1 added, 0 changed, 1 unchanged, 0 removed, 0 withdrawn, "
        "2 left alone; bills 1 added, 0 changed, 1 unchanged, 0 removed, 2 left alone"
    )


def test_a_withdrawn_student_still_on_the_roster_is_not_billed_again() -> None:
    stored = _stored(_plan())
    withdrawn = stored["2026003"].bills[0].bill
    withdrawn.cancel(f"{WITHDRAWN}转学")
    changes = diff_roster(TERM, _plan(), stored)
    assert changes.students_withdrawn == ["2026003"] and not changes.bills_added
    # a bill cancelled for another reason (left the roster) is billed again when they return
    withdrawn.cancel_reason = "no longer on the roster"
    again = diff_roster(TERM, _plan(), stored)
    assert [p.bill.bill_no for p in again.bills_added] == ["2026秋-2026003-r2"]


def test_without_remove_missing_a_partial_roster_cancels_nothing() -> None:
    stored = _stored(_plan())
    first_class = "\n".join(ROSTER.splitlines()[:2]) + "\n"
    changes = diff_roster(TERM, _plan(first_class), stored, remove_missing=False)
    assert not changes.bills_removed and not changes.students_removed


def _errors(exc: pytest.ExceptionInfo[ImportFailed]) -> list[str]:
    return exc.value.errors


def test_every_bad_roster_line_is_named_at_once() -> None:
    roster = """\
学号,姓名,年级,班级,家长电话
2026001,张小明,七年级,1班,13812345671
2026001,张小明,七年级,1班,13812345671
,李小红,七年级,2班,13812345672
2026004,,七年级,2班,13812345672
2026005,赵,七/八,2班,1381234567
2026006,钱,七年级,2班
"""
    with pytest.raises(ImportFailed) as exc:
        parse_roster(roster, file_name="g7.csv")
    assert exc.value.message == "g7.csv: 5 line(s) rejected; nothing was imported"
    assert _errors(exc) == [
        "line 3: student_no: 2026001 repeats line 2",
        "line 4: student_no: '' must be 1-32 characters without '-'",
        "line 5: name: is empty",
        "line 6: guardian_phone: '1381234567' is not an 11-digit mobile number",
        "line 7: row: expected 5 fields, found 4",
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "line 1: header: the file is empty"),
        ("学号,姓名,年级,班级\n", "line 1: header: missing column(s): guardian_phone"),
        ("学号,姓名,年级,班级,家长电话,爱好\n", "line 1: header: unknown column(s): 爱好"),
        ("学号,姓名,年级,班级,家长电话\n", "line 2: row: the roster has no students"),
    ],
)
def test_a_roster_without_a_usable_header_is_refused(text: str, error: str) -> None:
    with pytest.raises(ImportFailed) as exc:
        parse_roster(text)
    assert _errors(exc) == [error]


def test_every_bad_fee_line_is_named_at_once() -> None:
    fees = """\
年级,班级,项目代码,项目名称,金额,可选
七年级,,Tuition,学费,4500.00,no
七年级,,books,教材费,38.001,no
七年级,,dorm,住宿费,1200.00,maybe
*,1班,lab,实验费,10.00,no
七年级,,trip,研学,0.00,no
七年级,,dorm2,住宿费,1200.00,yes
七年级,,dorm2,住宿费,1300.00,yes
"""
    with pytest.raises(ImportFailed) as exc:
        parse_fee_items(fees)
    assert exc.value.message == "fees.csv: 6 line(s) rejected; nothing was imported"
    assert _errors(exc) == [
        "line 2: item: 'Tuition' must be a lower-case code like tuition",
        "line 3: amount: '38.001' has more than two decimals",
        "line 4: optional: 'maybe' is not yes/no",
        "line 5: class: a class-only item needs its grade",
        "line 6: amount: must be more than 0.00",
        "line 8: item: dorm2 for this grade/class repeats line 7",
    ]


def test_an_unknown_option_or_a_class_without_fees_rejects_the_roster() -> None:
    roster = """\
学号,姓名,年级,班级,家长电话,选报项目
2026001,张小明,七年级,1班,13812345671,piano
2026002,李小红,九年级,1班,13812345672,
2026003,王小刚,九年级,1班,13812345673,dorm
"""
    with pytest.raises(ImportFailed) as exc:
        _plan(roster)
    assert _errors(exc) == [
        "line 2: optional: piano is not an optional item of grade 七年级 class 1班",
        "line 3: grade: no fee items apply to grade 九年级 class 1班",
        "line 4: grade: no fee items apply to grade 九年级 class 1班",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "2026-秋"}, "term: 1-20 characters without '-' required (e.g. 2026秋)"),
        ({"name": "2026秋", "min_part_fen": 100}, "min_part: only with installments"),
        (
            {"name": "2026秋", "installments": True, "min_part_fen": -1},
            "min_part: cannot be negative",
        ),
    ],
)
def test_a_bad_term_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Term(due_date=date(2026, 9, 10), **kwargs)  # type: ignore[arg-type]
    assert exc.value.message == message


def test_the_content_hash_ignores_the_revision_suffix() -> None:
    stored = _stored(_plan())
    bill = stored["2026002"].bills[0].bill
    bill.cancel("fees changed in a roster re-import; replaced by a new revision")
    revised = _plan()[1]
    revised.bill.bill_no = "2026秋-2026002-r2"
    again = StoredStudent(
        "2026002",
        "李小红",
        "13812345672",
        (stored["2026002"].bills[0], StoredBill(revised.bill, revised.content_hash)),
    )
    changes = diff_roster(TERM, _plan(), {**stored, "2026002": again})
    assert changes.bills_unchanged == ["2026秋-2026001", "2026秋-2026002-r2", "2026秋-2026003"]
