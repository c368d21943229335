"""The chase list (催缴名单) on SQLite and PostgreSQL: bills still owed with the payer's phone,
due date, days overdue and what is owed after part payments and waivers; filters by class,
overdue only and minimum days; exported in Chinese with phones masked, or in full only with
a reason that is audited."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from billfold import Biller, BillerKind, Engine
from billfold.errors import BadQuery, InvalidInput, NotFound

# today is 2026-09-01
CSV = """\
bill_no,payer_id,payer_name,payer_phone,amount,due_date,sub_unit,period,allow_partial
C1,1001,张三,13812345671,100.00,2026-08-01,七年级/1班,2026秋,no
C2,1002,李四,13812345672,200.00,2026-08-25,七年级/1班,2026秋,yes
C3,1003,王五,13812345673,300.00,2026-10-01,七年级/2班,2026秋,no
C4,1004,赵六,13812345674,400.00,,七年级/2班,2026秋,no
C5,1005,钱七,13812345675,500.00,2026-07-01,七年级/2班,2026秋,no
C6,1006,孙八,13812345676,600.00,2026-08-01,七年级/1班,2026秋,no
"""


@pytest.fixture
def school(engine: Engine) -> Engine:
    for code in ("s1", "s2"):
        engine.create_biller(Biller(code=code, name=code, kind=BillerKind.SCHOOL))
        engine.import_bills(code, CSV.encode())
    engine.waive("s1", "C2", 5000, reason="困难补助", granted_by="王老师", request_id="w-1")
    part = engine.create_order("s1", ["C2"], amount_fen=3000)
    engine.confirm("counter", "P-1", part.order_no, 3000)
    paid = engine.create_order("s1", ["C5"])
    engine.confirm("counter", "P-2", paid.order_no, paid.total_fen)
    engine.cancel_bill("s1", "C6", reason="已退学", by="王老师")
    return engine


def _rows(engine: Engine, **params: str) -> list[dict[str, Any]]:
    return engine.find("chase", {"biller": "s1", **params}).rows


def test_the_chase_list_holds_what_is_still_owed_most_overdue_first(school: Engine) -> None:
    rows = _rows(school)
    assert [r["bill_no"] for r in rows] == ["C1", "C2", "C3", "C4"]  # paid and cancelled: not
    c1, c2, c3, c4 = rows
    assert (c1["status"], c1["overdue_days"], c1["outstanding_fen"]) == ("overdue", 31, 10000)
    assert c1["payer_phone"] == "13812345671" and c1["sub_unit"] == "七年级/1班"
    # part paid and part waived: 200 − 50 waived − 30 paid
    assert (c2["waived_fen"], c2["paid_fen"], c2["outstanding_fen"]) == (5000, 3000, 12000)
    assert (c2["status"], c2["overdue_days"]) == ("overdue", 7)
    assert (c3["status"], c3["overdue_days"], str(c3["due_date"])) == ("open", 0, "2026-10-01")
    assert (c4["due_date"], c4["overdue_days"]) == (None, 0)


def test_filters_by_class_overdue_only_and_minimum_days(school: Engine) -> None:
    def nos(**params: str) -> list[str]:
        return [r["bill_no"] for r in _rows(school, **params)]

    assert nos(sub_unit="七年级/2班") == ["C3", "C4"]
    assert nos(overdue="true") == ["C1", "C2"]
    assert nos(overdue="false") == ["C3", "C4"]
    assert nos(min_days="10") == ["C1"]
    assert nos(min_days="40") == []
    assert nos(sub_unit="七年级/1班", overdue="true", sort="-due_date") == ["C2", "C1"]
    assert nos(payer="李") == ["C2"]
    s1 = school.biller("s1").id
    assert {r["bill_no"] for r in school.find("chase", {}, tenant=s1).rows} == {
        "C1",
        "C2",
        "C3",
        "C4",
    }
    with pytest.raises(NotFound, match="biller 's2' does not exist"):
        school.find("chase", {"biller": "s2"}, tenant=s1)
    with pytest.raises(BadQuery, match="filter overdue: 'yes' is not one of true, false"):
        school.find("chase", {"overdue": "yes"})
    with pytest.raises(BadQuery, match="unknown filter 'class' for chase"):
        school.find("chase", {"class": "1班"})


def test_pages_of_the_chase_list_are_keyset_pages(school: Engine) -> None:
    first = school.find("chase", {"biller": "s1", "limit": "3"})
    assert first.next_cursor is not None
    second = school.find("chase", {"biller": "s1", "limit": "3", "cursor": first.next_cursor})
    assert [r["bill_no"] for r in first.rows + second.rows] == ["C1", "C2", "C3", "C4"]
    assert second.next_cursor is None


def _audits(engine: Engine) -> list[dict[str, Any]]:
    return [a for a in engine.audit_log("list") if a["action"] == "export_unmasked"]


def test_the_export_is_chinese_with_phones_and_names_masked(school: Engine) -> None:
    data = school.export_list("chase", {"biller": "s1", "overdue": "true"}, "csv")
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[0] == [
        "账单号",
        "班级/单位",
        "账期",
        "缴费人编号",
        "缴费人",
        "联系电话",
        "状态",
        "应缴金额",
        "减免金额",
        "已缴金额",
        "欠缴金额",
        "缴费截止日",
        "逾期天数",
    ]
    assert lines[1] == [
        "C1",
        "七年级/1班",
        "2026秋",
        "1001",
        "张*",
        "138****5671",
        "已逾期",
        "100.00",
        "0.00",
        "0.00",
        "100.00",
        "2026-08-01",
        "31",
    ]
    assert len(lines) == 3
    assert _audits(school) == []
    book = load_workbook(io.BytesIO(school.export_list("chase", {"biller": "s1"}, "xlsx")))
    sheet = book.active
    assert sheet is not None and sheet.title == "催缴名单"
    assert [c.value for c in sheet[2]][4:7] == ["张*", "138****5671", "已逾期"]


def test_phones_in_full_only_with_a_reason_that_is_audited(school: Engine) -> None:
    with pytest.raises(InvalidInput, match="a reason and who asks are required"):
        school.export_list("chase", {"biller": "s1"}, "csv", unmasked=True, by="王老师")
    with pytest.raises(BadQuery, match="unknown filter"):
        school.export_list(
            "chase", {"colour": "red"}, "csv", unmasked=True, by="王老师", reason="电话催缴"
        )
    assert _audits(school) == []  # nothing refused was audited, nothing was read out
    data = school.export_list(
        "chase", {"biller": "s1"}, "csv", unmasked=True, by="王老师", reason="电话催缴"
    )
    assert "13812345671" in data.decode("utf-8-sig") and "张三" in data.decode("utf-8-sig")
    (audit,) = _audits(school)
    assert (audit["actor"], audit["reason"], audit["target_id"]) == ("王老师", "电话催缴", "chase")
    assert audit["after"]["biller"] == "s1"
