"""A bill file's line errors in Chinese: every error the real parser gives for a messy file is
said in Chinese with the field's Chinese name; an unknown shape keeps its words."""

from __future__ import annotations

from billfold.collection.bill_csv import LineError, read_bill_rows
from billfold.collection.bill_file import table_from_text
from billfold.collection.import_messages import ShownLineError, shown_line_error
from billfold.collection.payer import IdentifierKind

MESSY = """\
bill_no,payer_id,amount,due_date,allow_partial,kind,items
B0,1000,10.00,2026-09-01,no,,
B1,1001,abc,2026-09-01,no,,
B2,1002,12.345,2026-09-01,no,,
B3,1003,-5.00,2026-09-01,no,,
B4,1004,10.00,2026-13-01,no,,
B5,1005,10.00,2026-09-01,maybe,,
B6,1006,10.00,2026-09-01,no,weird,
B0,1007,10.00,2026-09-01,no,,
B8,,10.00,2026-09-01,no,,
B9,1009,1.2E+10,2026-09-01,no,,
B10,1010,,2026-09-01,no,,bad-item
B11,1011,10.00,2026-09-01,no
B12,1012,,2026-09-01,no,,
"""


def _errors(text: str) -> list[str]:
    rows = read_bill_rows(table_from_text(text), 1, IdentifierKind.STUDENT_NO)
    return [str(r) for r in rows if isinstance(r, LineError)]


def test_every_error_of_a_messy_file_is_said_in_chinese() -> None:
    shown = [shown_line_error(e) for e in _errors(MESSY)]
    assert [s.line for s in shown] == list(range(3, 15))
    assert all(not s.message.startswith("无法读取") for s in shown), shown
    assert shown[0] == ShownLineError(3, "金额", "'abc' 不是有效金额（应如 12.34）")
    assert shown[1].message == "'12.345' 超过两位小数"
    assert shown[3] == ShownLineError(
        6, "缴费截止日", "'2026-13-01' 不是有效日期（应如 2026-09-01）"
    )
    assert shown[4] == ShownLineError(7, "允许部分缴费", "'maybe' 应为“是”或“否”")
    assert shown[6] == ShownLineError(9, "账单号", "账单号 B0 与第 2 行重复")
    assert shown[7] == ShownLineError(10, "缴费人编号", "不能为空")
    assert shown[8].message.startswith("'1.2E+10' 是科学计数法")
    assert shown[10] == ShownLineError(13, "整行", "应有 7 列，实际 5 列")


def test_header_errors_and_unknown_shapes() -> None:
    (missing,) = _errors("bill_no,amount\nB1,10.00\n")
    assert shown_line_error(missing) == ShownLineError(1, "表头", "缺少列：payer_id")
    assert shown_line_error("line 4: amount: something new") == ShownLineError(
        4, "金额", "无法读取：something new"
    )
    assert shown_line_error("line 4: items tuition: 'x' is not an amount like '12.34'").field == (
        "明细 tuition"
    )
