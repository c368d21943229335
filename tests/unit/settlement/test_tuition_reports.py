"""The bursar's sheets and workbook from plain values (pure)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.chart import BarChart

from billfold.settlement.daybook import DayLine, DayPayment
from billfold.settlement.exports import write_csv
from billfold.settlement.tuition import (
    Closed,
    StudentBill,
    arrears_sheet,
    class_list_sheet,
    collection_rates,
    daily_sheet,
    write_bursar_reports,
)

DUE = date(2026, 9, 10)
BILLS = [
    StudentBill("七年级", "1班", "001", "张小明", "T-001", 500_000, 0, 500_000, 0, 0),
    StudentBill(
        "七年级",
        "1班",
        "002",
        "李小红",
        "T-002",
        500_000,
        100_000,
        100_000,
        0,
        300_000,
        phone="13812345672",
        due_date=DUE,
        overdue_days=5,
    ),
    StudentBill(
        "七年级",
        "2班",
        "003",
        "王小刚",
        "T-003",
        400_000,
        0,
        0,
        0,
        400_000,
        phone="13812345673",
        due_date=DUE,
    ),
    StudentBill(
        "八年级", "1班", "004", "赵小丽", "T-004", 300_000, 0, 0, 300_000, 0, Closed.WITHDRAWN
    ),
]


def _csv(sheet: object) -> list[str]:
    out = io.BytesIO()
    write_csv(sheet, out)  # type: ignore[arg-type]
    return out.getvalue().decode("utf-8-sig").splitlines()


def test_arrears_by_class_leave_withdrawn_students_out() -> None:
    assert _csv(arrears_sheet(BILLS)) == [
        "年级,班级,学生数,应收金额,减免金额,已收金额,欠费金额,欠费人数,收缴率",
        "七年级,1班,2,10000.00,1000.00,6000.00,3000.00,1,66.7%",
        "七年级,2班,1,4000.00,0.00,0.00,4000.00,1,0.0%",
    ]
    assert collection_rates(BILLS) == [("七年级1班", 6 / 9), ("七年级2班", 0.0)]


def test_class_lists_put_the_unpaid_first_and_mask_names_unless_asked() -> None:
    rows = _csv(class_list_sheet(BILLS))
    assert [r.split(",")[2:6] for r in rows[1:]] == [
        ["002", "李**", "T-002", "部分缴费"],
        ["001", "张**", "T-001", "已缴清"],
        ["003", "王**", "T-003", "未缴费"],
        ["004", "赵**", "T-004", "已退学"],
    ]
    assert _csv(class_list_sheet(BILLS, mask=False))[1].split(",")[3] == "李小红"


def test_class_lists_carry_the_parents_phone_masked_the_due_date_and_days_overdue() -> None:
    rows = _csv(class_list_sheet(BILLS))
    assert rows[0] == (
        "年级,班级,学号,姓名,账单号,状态,应收金额,减免金额,已收金额,已退金额,欠费金额,"
        "家长电话,缴费截止日,逾期天数"
    )
    assert rows[1].split(",")[-3:] == ["138****5672", "2026-09-10", "5"]
    assert rows[3].split(",")[-3:] == ["138****5673", "2026-09-10", "0"]
    assert rows[2].split(",")[-3:] == ["", "", "0"]  # no phone or due date given: empty
    assert _csv(class_list_sheet(BILLS, mask=False))[1].split(",")[-3] == "13812345672"


def test_the_days_collections_are_counted_per_class_and_channel() -> None:
    paid_at = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    payments = [
        DayPayment("mobile_banking", "M1", "O1", 500_000, 0, paid_at,
                   (DayLine("T-001", "001", "七年级/1班", 500_000, 0),)),
        DayPayment("mobile_banking", "M2", "O2", 100_000, 0, paid_at,
                   (DayLine("T-002", "002", "七年级/1班", 100_000, 0),)),
    ]  # fmt: skip
    assert _csv(daily_sheet(date(2026, 9, 1), payments)) == [
        "日期,年级,班级,渠道,笔数,收款金额",
        "2026-09-01,七年级,1班,手机银行,2,6000.00",
    ]
    assert _csv(daily_sheet(date(2026, 9, 1), [])) == ["日期,年级,班级,渠道,笔数,收款金额"]


def test_the_workbook_has_the_three_sheets_and_a_bar_chart_of_the_rates(tmp_path: Path) -> None:
    files = write_bursar_reports(BILLS, [], date(2026, 9, 1), tmp_path, "s1-2026秋")
    assert [p.name for p in files] == [
        "s1-2026秋-arrears.csv",
        "s1-2026秋-class-lists.csv",
        "s1-2026秋-daily-2026-09-01.csv",
        "s1-2026秋-bursar-2026-09-01.xlsx",
    ]
    book = load_workbook(files[-1])
    arrears = book["欠费统计"]
    assert arrears.freeze_panes == "A2" and arrears["A1"].font.b
    assert arrears["D2"].number_format == "#,##0.00" and arrears["A4"].value == "合计"
    assert arrears["G4"].value == 7000
    rates = book["收缴率"]
    assert [c.value for c in rates["B"]] == ["收缴率", 0.6667, 0.0]
    assert rates["B2"].number_format == "0.0%"
    (chart,) = rates._charts
    assert isinstance(chart, BarChart) and chart.type == "col"
    assert chart.y_axis.scaling.max == 1


def test_a_student_taken_off_the_roster_is_not_shown_as_withdrawn_and_is_left_out_of_the_rate() -> (
    None
):
    off = StudentBill(
        "七年级", "2班", "005", "孙小美", "T-005", 400_000, 0, 0, 0, 0, Closed.REMOVED
    )
    bills = [*BILLS, off]
    assert off.state == "已移出名单" and not off.withdrawn
    assert (off.due_fen, off.arrears_fen) == (0, 0)
    rows = _csv(class_list_sheet(bills))
    assert [r.split(",")[2:6] for r in rows[1:] if r.startswith("七年级,2班")] == [
        ["003", "王**", "T-003", "未缴费"],
        ["005", "孙**", "T-005", "已移出名单"],
    ]
    assert _csv(arrears_sheet(bills))[2] == "七年级,2班,1,4000.00,0.00,0.00,4000.00,1,0.0%"
    assert collection_rates(bills) == collection_rates(BILLS)


def _in(grade: str, class_name: str, number: str) -> StudentBill:
    return StudentBill(grade, class_name, number, "学生", f"T-{number}", 100, 0, 0, 0, 100)


def test_grades_and_classes_sort_by_their_numbers_not_as_text() -> None:
    bills = [
        _in("九年级", "1班", "901"),
        _in("七年级", "10班", "710"),
        _in("七年级", "2班", "702"),
        _in("八年级", "1班", "801"),
        _in("七年级", "1班", "701"),
        _in("高十二", "1班", "121"),
        _in("高二", "1班", "021"),
    ]
    expected = [
        "七年级1班",
        "七年级2班",
        "七年级10班",
        "八年级1班",
        "九年级1班",
        "高二1班",
        "高十二1班",
    ]
    assert [label for label, _ in collection_rates(bills)] == expected
    assert [r.split(",")[0] + r.split(",")[1] for r in _csv(arrears_sheet(bills))[1:]] == expected
    listed = [r.split(",")[2] for r in _csv(class_list_sheet(bills))[1:]]
    assert listed == ["701", "702", "710", "801", "901", "021", "121"]
    paid_at = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    payments = [
        DayPayment("mobile_banking", f"M{b.student_no}", f"O{b.student_no}", 100, 0, paid_at,
                   (DayLine(b.bill_no, b.student_no, f"{b.grade}/{b.class_name}", 100, 0),))
        for b in bills
    ]  # fmt: skip
    daily = _csv(daily_sheet(date(2026, 9, 1), payments))[1:]
    assert [r.split(",")[1] + r.split(",")[2] for r in daily] == expected
