"""The bursar's console pages in process: bills searched and paged, a bill's timeline with
who and why after the page's waive and change, a bill file imported with its line errors in
Chinese and nothing written when one line is bad, the chase list exported masked (in full only
with a reason, audited), reminders to the selected bills, a class's notices as one PDF."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from console_world import Session, World, console_world  # type: ignore[import-not-found]
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db.schema import audit_log
from billfold.adapters.outbox.reminders.api import configure
from billfold.clock import FixedClock
from billfold.collection.reminder import ReminderChannel, ReminderSettings

CLASS_BILLS = """\
账单号,学号,姓名,电话,金额,截止日期,班级,学期
C1,2026101,张小明,13812345671,100.00,2026-08-01,七年级/1班,2026秋
C2,2026102,李小红,13812345672,200.00,2026-08-25,七年级/1班,2026秋
C3,2026103,王小刚,13812345673,300.00,2026-10-01,七年级/2班,2026秋
""".encode()


ACTOR = "出纳/收费员（s1） (console bursar-s1)"


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with console_world(engine) as made:
        made.engine.import_bills("s1", CLASS_BILLS)
        yield made


def _audits(engine: Engine) -> int:
    with engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(audit_log)).scalar())


def _cells(page: str, table: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, page[:2000]
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


def _post(world: World, me: Session, path: str, form: dict[str, object]) -> object:
    return world.request("POST", path, me, {**form, "csrf_token": me.csrf})


def test_bills_are_searched_by_number_payer_class_status_and_period_in_pages(
    world: World,
) -> None:
    me = world.login("bursar-s1")

    def nos(query: str) -> list[str]:
        answer = world.request("GET", f"/console/bills?{query}", me)
        assert answer.status_code == 200, answer.text[:500]
        return [row[0] for row in _cells(answer.text, "bills")]

    assert nos("sub_unit=七年级/1班&sort=bill_no") == ["C1", "C2"]
    assert sorted(nos("payer=李")) == ["C2", "T2"] and nos("bill_no=C3") == ["C3"]
    assert nos("status=overdue&sort=bill_no") == ["C1", "C2"]
    assert nos("period=2026秋&sub_unit=七年级/2班") == ["C3"]
    assert set(nos("biller=s1")) == {"T1", "T2", "C1", "C2", "C3"}
    first = world.request("GET", "/console/bills?limit=2&sort=bill_no", me).text
    following = re.search(r'href="([^"]+)" rel="next"', first)
    assert following and [r[0] for r in _cells(first, "bills")] == ["C1", "C2"]
    second = world.request("GET", html.unescape(following.group(1)), me).text
    assert [r[0] for r in _cells(second, "bills")] == ["C3", "T1"]
    refused = world.request("GET", "/console/bills?biller=s2", me)  # another biller's
    assert refused.status_code == 404 and "s2" in refused.text
    assert world.request("GET", "/console/billers/s2/bills/T1", me).status_code == 404


def test_the_bill_page_shows_its_timeline_with_who_and_why_after_waive_and_change(
    world: World, clock: FixedClock
) -> None:
    me = world.login("bursar-s1")
    page = "/console/billers/s1/bills/C2"
    waive = {"amount": "20.00", "request_id": "abc", "reason": "困难补助"}
    for _ in range(2):  # pressed twice: waived once
        clock.advance(timedelta(minutes=1))
        assert _post(world, me, f"{page}/waive", waive).status_code == 303  # type: ignore[attr-defined]
    clock.advance(timedelta(minutes=1))
    changed = _post(world, me, f"{page}/change", {"amount": "220.00", "reason": "补教材费"})
    assert changed.status_code == 303  # type: ignore[attr-defined]
    shown = world.request("GET", page, me)
    assert shown.status_code == 200 and "已修改账单 C2" in shown.text
    facts = dict(
        tuple(r) for r in re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', shown.text)
    )
    assert facts["联系电话"] == "138****5672" and facts["减免金额"] == "20.00"
    assert facts["应缴金额"] == "220.00" and facts["状态"] == "已逾期"
    timeline = _cells(shown.text, "timeline")
    assert [r[1] for r in timeline] == ["账单创建", "减免", "账单修改"]
    assert timeline[1][3:] == ["20.00", "", "", ACTOR, "困难补助"]
    assert timeline[2][3] == "200.00 → 220.00" and timeline[2][7] == "补教材费"
    assert world.engine.bill("s1", "C2").waived_fen == 2000


def test_an_action_without_a_reason_or_with_a_bad_amount_changes_nothing(world: World) -> None:
    me = world.login("bursar-s1")
    page = "/console/billers/s1/bills/C1"
    audits = _audits(world.engine)
    no_reason = _post(world, me, f"{page}/cancel", {"reason": " "})
    assert no_reason.status_code == 400 and "请填写原因" in no_reason.text  # type: ignore[attr-defined]
    bad = _post(world, me, f"{page}/waive", {"amount": "abc", "request_id": "x", "reason": "r"})
    assert bad.status_code == 400 and "不是有效金额" in bad.text  # type: ignore[attr-defined]
    too_much = _post(
        world, me, f"{page}/waive", {"amount": "500.00", "request_id": "y", "reason": "r"}
    )
    assert too_much.status_code >= 400 and "操作未完成" in too_much.text  # type: ignore[attr-defined]
    bill = world.engine.bill("s1", "C1")
    assert (bill.cancelled, bill.waived_fen, _audits(world.engine)) == (False, 0, audits)
    viewer = world.login("viewer-s1")
    assert _post(world, viewer, f"{page}/cancel", {"reason": "x"}).status_code == 403  # type: ignore[attr-defined]


BAD_FILE = (
    "账单号,学号,姓名,金额,截止日期\n"
    "N1,2026201,赵一,100.00,2026-09-30\n"
    "N2,2026202,钱二,abc,2026-09-30\n"
    "N3,,孙三,80.00,2026-09-30\n"
)
GOOD_FILE = (
    "账单号,学号,姓名,金额,截止日期\n"
    "N1,2026201,赵一,100.00,2026-09-30\n"
    "N2,2026202,钱二,80.00,2026-09-30\n"
)


def test_a_bill_file_with_a_bad_line_is_refused_whole_with_chinese_line_errors(
    world: World,
) -> None:
    me = world.login("bursar-s1")
    url = "/console/billers/s1/bills/import"
    assert "账单文件" in world.request("GET", url, me).text
    before, audits = len(world.engine.find("bills", {"biller": "s1"}).rows), _audits(world.engine)
    files = {"file": ("九月.csv", BAD_FILE.encode(), "text/csv")}
    refused = world.request("POST", url, me, {"csrf_token": me.csrf}, files)
    assert refused.status_code == 422
    assert "有 2 处错误，未导入任何账单" in refused.text
    assert _cells(refused.text, "line-errors") == [
        ["3", "金额", "'abc' 不是有效金额（应如 12.34）"],
        ["4", "缴费人编号", "不能为空"],
    ]
    assert len(world.engine.find("bills", {"biller": "s1"}).rows) == before
    assert _audits(world.engine) == audits
    files = {"file": ("九月.csv", GOOD_FILE.encode(), "text/csv")}
    imported = world.request("POST", url, me, {"csrf_token": me.csrf}, files)
    assert imported.status_code == 200 and "新建 2 张账单" in imported.text
    assert len(world.engine.find("bills", {"biller": "s1"}).rows) == before + 2
    (done,) = [
        a for a in world.engine.audit_log("biller", "s1") if a["action"] == "console.import_bills"
    ]
    assert (done["actor"], done["reason"]) == (ACTOR, "九月.csv")
    empty = world.request(
        "POST", url, me, {"csrf_token": me.csrf}, {"file": ("x.csv", b"", "text/csv")}
    )
    assert empty.status_code == 400 and "请选择" in empty.text


def test_the_chase_list_is_masked_on_screen_and_in_its_export_and_whole_only_with_a_reason(
    world: World,
) -> None:
    me = world.login("bursar-s1")
    page = world.request("GET", "/console/chase?overdue=true", me)
    rows = [r[1:] for r in _cells(page.text, "chase")]  # after the selection box
    assert [(r[0], r[5], r[6], r[12]) for r in rows] == [
        ("C1", "138****5671", "已逾期", "31"),
        ("C2", "138****5672", "已逾期", "7"),
    ]
    assert "13812345671" not in page.text
    exported = world.request("GET", "/console/chase/export?format=csv&sub_unit=七年级/1班", me)
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert lines[0][:6] == ["账单号", "班级/单位", "账期", "缴费人编号", "缴费人", "联系电话"]
    assert [(r[0], r[5]) for r in lines[1:]] == [("C1", "138****5671"), ("C2", "138****5672")]
    audits = _audits(world.engine)
    url = "/console/billers/s1/chase/export"
    refused = _post(world, me, url, {"format": "csv", "reason": ""})
    assert refused.status_code == 400 and _audits(world.engine) == audits  # type: ignore[attr-defined]
    whole = _post(world, me, url, {"format": "csv", "sub_unit": "七年级/1班", "reason": "电话催缴"})
    assert "13812345671" in whole.content.decode("utf-8-sig")  # type: ignore[attr-defined]
    (audit,) = [a for a in world.engine.audit_log("list") if a["action"] == "export_unmasked"]
    assert (audit["actor"], audit["reason"]) == (ACTOR, "电话催缴")
    assert audit["after"]["sub_unit"] == "七年级/1班"


def test_reminders_go_to_the_selected_bills_once_a_day(world: World) -> None:
    sms = ReminderSettings(
        ReminderChannel.SMS,
        {"issued": "SMS_1", "due_soon": "SMS_2", "overdue": "SMS_3", "paid": "SMS_4"},
        sign_name="第一实验中学",
        credentials={"access_key_id": "LTAI5tTest", "access_key_secret_env": "SMS_SECRET"},
    )
    configure(world.engine, "s1", sms, actor="admin")
    me = world.login("bursar-s1")
    url = "/console/billers/s1/remind"
    none = _post(world, me, url, {"reason": "催缴"})
    assert none.status_code == 400 and "请先勾选" in none.text  # type: ignore[attr-defined]
    form = {"bill_nos": ["C1", "C2"], "reason": "家长未回复", "back": "/console/chase?overdue=true"}
    sent = _post(world, me, url, form)
    assert sent.headers["location"] == "/console/chase?overdue=true"  # type: ignore[attr-defined]
    page = world.request("GET", "/console/chase?overdue=true", me)
    assert "催缴提醒：已加入发送 2 张" in page.text
    _post(world, me, url, form)
    again = world.request("GET", "/console/chase", me)
    assert "今日已提醒 2 张" in again.text
    elsewhere = _post(world, me, url, {**form, "back": "https://evil.example/"})
    assert elsewhere.headers["location"] == "/console/chase"  # type: ignore[attr-defined]


def test_a_classs_notices_come_as_one_pdf_and_not_for_a_utility(world: World) -> None:
    world.engine.create_biller(Biller(code="w1", name="城西水务", kind=BillerKind.UTILITY))
    me = world.login("bursar")
    query = "term=2026秋&grade=七年级&class_name=1班"
    made = world.request("GET", f"/console/billers/s1/notices?{query}&format=pdf", me)
    assert made.status_code == 200, made.text[:500]
    assert made.headers["content-type"] == "application/pdf" and made.content.startswith(b"%PDF")
    zipped = world.request("GET", f"/console/billers/s1/notices?{query}&format=zip", me)
    assert zipped.content.startswith(b"PK")
    utility = world.request("GET", f"/console/billers/w1/notices?{query}", me)
    assert utility.status_code == 400 and "不是学校" in utility.text
    page = world.request("GET", "/console/chase?biller=s1&sub_unit=七年级/1班&period=2026秋", me)
    assert 'id="notices-form"' in page.text and 'value="七年级"' in page.text
