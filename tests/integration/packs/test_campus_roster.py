"""Campus roster import, waivers and withdrawals on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.cashier_sandbox import CashierSandbox
from billfold.channels.qr_render import render_counter_sign
from billfold.clock import FixedClock
from billfold.collection.roster import Term
from billfold.engine import Engine
from billfold.errors import ImportFailed, InvalidInput, NotFound
from billfold.merchants.biller import Biller, BillerKind
from billfold.packs.campus import Campus, GrantKind

TERM = Term("2026秋", date(2026, 9, 10), installments=True, min_part_fen=100_000)
ROSTER = """\
学号,姓名,年级,班级,家长电话,选报项目
2026001,张小明,七年级,1班,13812345671,dorm
2026002,李小红,七年级,2班,13812345672,
2026003,王小刚,八年级,1班,13812345673,
""".encode()
FEES = """\
年级,班级,项目代码,项目名称,金额,可选
*,,dorm,住宿费,1200.00,yes
七年级,,tuition,学费,4500.00,no
八年级,,tuition,学费,4800.00,no
""".encode()


@pytest.fixture
def campus(engine: Engine) -> Campus:
    engine.create_biller(Biller(code="s1", name="第一中学", kind=BillerKind.SCHOOL))
    return Campus(engine)


def _bills(engine: Engine) -> list[tuple[str, int, bool, str | None]]:
    with engine.uow() as uow:
        biller = uow.billers.get_by_code("s1")
        assert biller is not None and biller.id is not None
        return sorted(
            (b.bill_no, b.principal_fen, b.cancelled, b.sub_unit)
            for b in uow.bills.for_biller(biller.id)
        )


def test_the_roster_makes_one_bill_per_student_and_importing_it_again_changes_nothing(
    engine: Engine, campus: Campus
) -> None:
    first = campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    assert first.counts()["bills_added"] == 3
    assert _bills(engine) == [
        ("2026秋-2026001", 570_000, False, "七年级/1班"),
        ("2026秋-2026002", 450_000, False, "七年级/2班"),
        ("2026秋-2026003", 480_000, False, "八年级/1班"),
    ]
    [(_, payer, bill)] = engine.bills_for("2026001", "s1")
    assert (payer.name, payer.phone, bill.allow_partial, bill.min_part_fen) == (
        "张小明",
        "13812345671",
        True,
        100_000,
    )
    audit = len(engine.audit_log("biller", "s1"))
    again = campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    assert not again.changes_anything and again.counts()["bills_unchanged"] == 3
    assert len(engine.audit_log("biller", "s1")) == audit  # nothing written at all


def test_a_changed_roster_replaces_unpaid_bills_cancels_removed_ones_and_updates_contacts(
    engine: Engine, campus: Campus
) -> None:
    campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    changed = """\
学号,姓名,年级,班级,家长电话,选报项目
2026001,张小明,七年级,1班,13899999999,dorm
2026002,李小红,七年级,2班,13812345672,dorm
2026004,赵小丽,七年级,1班,13812345674,
""".encode()
    preview = campus.import_roster("s1", changed, FEES, TERM, actor="bursar", dry_run=True)
    assert preview.counts()["bills_changed"] == 1 and len(_bills(engine)) == 3
    done = campus.import_roster("s1", changed, FEES, TERM, actor="bursar")
    assert done.lines() == [
        "2026秋: students 1 added, 1 changed, 1 unchanged, 1 removed, 0 withdrawn, "
        "0 left alone; bills 1 added, 1 changed, 1 unchanged, 1 removed, 0 left alone",
        "+ 2026秋-2026004 4500.00",
        "~ 2026秋-2026002 -> 2026秋-2026002-r2 4500.00 -> 5700.00",
        "- 2026秋-2026003 cancelled",
    ]
    assert _bills(engine) == [
        ("2026秋-2026001", 570_000, False, "七年级/1班"),
        ("2026秋-2026002", 450_000, True, "七年级/2班"),
        ("2026秋-2026002-r2", 570_000, False, "七年级/2班"),
        ("2026秋-2026003", 480_000, True, "八年级/1班"),
        ("2026秋-2026004", 450_000, False, "七年级/1班"),
    ]
    [(_, payer, _)] = engine.bills_for("2026001", "s1")
    assert payer.phone == "13899999999"
    (last,) = [a for a in engine.audit_log("biller", "s1") if a["action"] == "import_roster"][-1:]
    assert last["actor"] == "bursar" and last["after"]["bills_changed"] == 1
    # and the changed roster again is unchanged
    assert not campus.import_roster("s1", changed, FEES, TERM, actor="bursar").changes_anything


def test_a_bad_roster_is_refused_whole_and_nothing_is_stored(
    engine: Engine, campus: Campus
) -> None:
    bad = ROSTER + "2026009,钱多多,九年级,1班,13812345679,\n".encode()
    with pytest.raises(ImportFailed) as exc:
        campus.import_roster("s1", bad, FEES, TERM, actor="bursar")
    assert exc.value.message == "roster.csv: 1 line(s) rejected; nothing was imported"
    assert exc.value.errors == ["line 5: grade: no fee items apply to grade 九年级 class 1班"]
    assert _bills(engine) == []
    assert not [a for a in engine.audit_log("biller", "s1") if a["action"] == "import_roster"]
    with pytest.raises(InvalidInput) as gbk:
        campus.import_roster("s1", ROSTER, b"\xff\xfe", TERM, actor="bursar")
    assert "line 1: the file is not valid UTF-8 or GBK" in gbk.value.message
    assert _bills(engine) == []


def test_only_a_school_takes_a_roster(engine: Engine, campus: Campus) -> None:
    engine.create_biller(Biller(code="w1", name="自来水", kind=BillerKind.UTILITY))
    with pytest.raises(InvalidInput) as exc:
        campus.import_roster("w1", ROSTER, FEES, TERM, actor="bursar")
    assert exc.value.message == "biller: w1 is a utility, not a school"


def test_a_scholarship_is_a_waiver_recorded_with_its_approver(
    engine: Engine, campus: Campus
) -> None:
    campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    with pytest.raises(InvalidInput) as exc:
        campus.grant(
            "s1",
            "2026秋",
            "2026002",
            50_000,
            kind=GrantKind.HARDSHIP,
            approved_by="陈",
            note=" ",
            request_id="g1",
        )
    assert exc.value.message == "note: a 困难减免 needs a note saying why"
    assert engine.bill("s1", "2026秋-2026002").waived_fen == 0
    bill = campus.grant(
        "s1",
        "2026秋",
        "2026002",
        50_000,
        kind=GrantKind.SCHOLARSHIP,
        approved_by="校长 陈",
        note="三好学生",
        request_id="g1",
    )
    assert (bill.waived_fen, bill.outstanding_fen) == (50_000, 400_000)
    (record,) = [a for a in engine.audit_log() if a["action"] == "waive"]
    assert (record["actor"], record["reason"]) == ("校长 陈", "奖学金: 三好学生")
    # a waiver on a bill changes it: a roster re-import with other fees leaves it alone
    fees = FEES.replace(b"4500.00", b"4600.00")
    changes = campus.import_roster("s1", ROSTER, fees, TERM, actor="bursar")
    assert changes.left_alone == [
        "2026秋-2026002: the fees changed but 0.00 is paid and 500.00 waived; "
        "adjust it by hand (waive or refund)"
    ]


def test_a_withdrawal_refunds_what_was_paid_and_closes_the_bill(
    engine: Engine, campus: Campus
) -> None:
    campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    order = engine.create_order("s1", ["2026秋-2026003"], amount_fen=200_000)
    paid = engine.confirm("counter", "CTR-1", order.order_no, order.total_fen)
    gone = campus.withdraw("s1", "2026秋", "2026003", by="bursar", reason="转学")
    assert gone.bill_no == "2026秋-2026003" and gone.refunded_fen == 200_000
    (refund,) = gone.refunds
    key = f"withdraw-{gone.bill_no}-{paid.payment.id}"
    assert (refund.payment_id, refund.request_id) == (paid.payment.id, key)
    bill = engine.bill("s1", "2026秋-2026003")
    assert bill.cancelled and bill.cancel_reason == "退学: 转学" and bill.paid_fen == 0
    with pytest.raises(NotFound) as again:
        campus.withdraw("s1", "2026秋", "2026003", by="bursar", reason="转学")
    assert again.value.message == "student 2026003 has no open 2026秋 bill at s1"
    assert engine.check_books() == []
    # still on the roster, the withdrawn student is not billed again
    changes = campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    assert changes.students_withdrawn == ["2026003"] and not changes.changes_anything
    rows = {r.student_no: r for r in campus.student_bills("s1", "2026秋")}
    assert rows["2026003"].withdrawn and rows["2026003"].state == "已退学"
    with pytest.raises(InvalidInput) as reason:
        campus.withdraw("s1", "2026秋", "2026001", by="bursar", reason="")
    assert reason.value.message == "reason: a withdrawal needs a reason"


def test_the_days_collections_carry_each_bills_class(engine: Engine, campus: Campus) -> None:
    campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    order = engine.create_order("s1", ["2026秋-2026001"])
    engine.confirm("mobile_banking", "MB-1", order.order_no, order.total_fen)
    (payment,) = campus.day_payments("s1", engine.today("s1"))
    assert (payment.channel, payment.channel_txn_id, payment.amount_fen) == (
        "mobile_banking",
        "MB-1",
        570_000,
    )
    (line,) = payment.lines
    assert (line.bill_no, line.payer_identifier, line.sub_unit, line.principal_fen) == (
        "2026秋-2026001",
        "2026001",
        "七年级/1班",
        570_000,
    )
    assert campus.day_payments("s1", date(2026, 9, 2)) == []


def test_a_student_taken_off_the_roster_shows_as_off_the_roster_not_as_withdrawn(
    engine: Engine, campus: Campus
) -> None:
    campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    campus.withdraw("s1", "2026秋", "2026002", by="bursar", reason="转学")
    without_2026003 = b"\n".join(ROSTER.splitlines()[:3]) + b"\n"
    changes = campus.import_roster("s1", without_2026003, FEES, TERM, actor="bursar")
    assert changes.students_removed == ["2026003"]
    rows = {r.student_no: r for r in campus.student_bills("s1", "2026秋")}
    assert [(n, r.state, r.withdrawn) for n, r in sorted(rows.items())] == [
        ("2026001", "未缴费", False),
        ("2026002", "已退学", True),
        ("2026003", "已移出名单", False),
    ]
    # neither is owed anything, so neither counts in 学生数 or 收缴率
    assert [(r.due_fen, r.arrears_fen) for r in rows.values()][1:] == [(0, 0), (0, 0)]
    # a bill cancelled for any other reason is neither
    engine.cancel_bill("s1", "2026秋-2026001", reason="录入错误", by="ops")
    (first, *_) = campus.student_bills("s1", "2026秋")
    assert (first.student_no, first.state, first.due_fen) == ("2026001", "已取消", 0)


def test_the_notice_qr_opens_the_bill_on_the_payer_pages_under_the_schools_address(
    engine: Engine, campus: Campus
) -> None:
    campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    link = campus.notice_link("s1", "2026秋", "2026001", base_url="https://pay.example.edu.cn/")
    assert link == ("https://pay.example.edu.cn/pay/b/s1/bills/2026%E7%A7%8B-2026001")
    png = campus.notice_png("s1", "2026秋", "2026001", base_url="https://pay.example.edu.cn")
    assert png == render_counter_sign(
        link,
        "第一中学 缴费通知",
        amount_fen=570_000,
        caption="2026秋 学杂费 2026001 张** 请用手机银行扫码缴费",
    )
    # the payer pages answer that address with the bill
    with asgi_client(create_app(engine, CashierSandbox(engine).channels)) as client:
        page = client.get(urlsplit(link).path)
    assert page.status_code == 200 and "2026秋-2026001" in page.text and "5700.00" in page.text
    for base, message in [
        ("", "base_url: the payer pages' address is needed for the QR, e.g. "
             "https://pay.example.edu.cn"),
        ("pay.example.edu.cn", "base_url: 'pay.example.edu.cn' must be an http:// or "
                               "https:// address without a query, e.g. https://pay.example.edu.cn"),
        ("https://pay.example.edu.cn/?a=1", "base_url: 'https://pay.example.edu.cn/?a=1' must "
         "be an http:// or https:// address without a query, e.g. https://pay.example.edu.cn"),
    ]:  # fmt: skip
        with pytest.raises(InvalidInput) as exc:
            campus.notice_png("s1", "2026秋", "2026001", base_url=base)
        assert exc.value.message == message


def test_the_class_lists_carry_the_parents_phone_due_date_and_days_overdue(
    engine: Engine, campus: Campus, clock: FixedClock, tmp_path: Path
) -> None:
    campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    order = engine.create_order("s1", ["2026秋-2026002"])
    engine.confirm("mobile_banking", "MB-1", order.order_no, order.total_fen)
    clock.advance(timedelta(days=14))  # 2026-09-15: five days past the 10th
    rows = {r.student_no: r for r in campus.student_bills("s1", "2026秋")}
    assert [(n, r.phone, r.due_date, r.overdue_days) for n, r in sorted(rows.items())] == [
        ("2026001", "13812345671", date(2026, 9, 10), 5),
        ("2026002", "13812345672", date(2026, 9, 10), 0),  # paid: not overdue
        ("2026003", "13812345673", date(2026, 9, 10), 5),
    ]
    _, lists, *_ = campus.reports("s1", "2026秋", date(2026, 9, 15), tmp_path)
    lines = lists.read_text("utf-8-sig").splitlines()
    assert lines[0].endswith(",家长电话,缴费截止日,逾期天数")
    assert lines[1].startswith("七年级,1班,2026001,张**,")
    assert lines[1].endswith(",138****5671,2026-09-10,5")
    assert "13812345671" not in lists.read_text("utf-8-sig")


def test_the_class_lists_in_full_need_who_and_why_and_are_audited(
    engine: Engine, campus: Campus, tmp_path: Path
) -> None:
    campus.import_roster("s1", ROSTER, FEES, TERM, actor="bursar")
    with pytest.raises(InvalidInput, match="a reason and who asks are required"):
        campus.reports("s1", "2026秋", date(2026, 9, 1), tmp_path / "a", mask=False, by="王老师")
    assert not (tmp_path / "a").exists()
    assert [a for a in engine.audit_log("list") if a["action"] == "export_unmasked"] == []
    _, lists, *_ = campus.reports(
        "s1", "2026秋", date(2026, 9, 1), tmp_path / "b", mask=False, by="王老师", reason="家访"
    )
    assert "13812345671" in lists.read_text("utf-8-sig")
    (audit,) = [a for a in engine.audit_log("list") if a["action"] == "export_unmasked"]
    assert (audit["actor"], audit["reason"], audit["target_id"]) == (
        "王老师",
        "家访",
        "campus_reports",
    )


CLASS_ROSTER = """\
学号,姓名,年级,班级,家长电话,选报项目
2026001,张小明,七年级,1班,13812345671,dorm
2026004,赵小丽,七年级,1班,13812345674,
2026005,孙小伟,七年级,1班,13812345675,
2026002,李小红,七年级,2班,13812345672,
""".encode()


def _pdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return ["".join(page.extract_text().replace("\x00", "").split()) for page in reader.pages]


def test_class_notices_make_one_pdf_page_per_student_who_owes_with_the_bills_qr(
    engine: Engine, campus: Campus
) -> None:
    campus.import_roster("s1", CLASS_ROSTER, FEES, TERM, actor="bursar")
    campus.grant(
        "s1", "2026秋", "2026005", 450_000, kind=GrantKind.HARDSHIP,
        approved_by="principal", note="家庭困难", request_id="g-5",
    )  # fmt: skip
    made = campus.class_notices(
        "s1", "2026秋", "七年级", "1班", base_url="https://pay.example.edu.cn"
    )
    assert made.media_type == "application/pdf" and made.content.startswith(b"%PDF-")
    assert made.students == ("2026001", "2026004") and made.skipped == ("2026005",)
    assert made.file_name == "s1-2026秋-七年级1班-缴费通知.pdf"
    pages = _pdf_pages(made.content)
    assert len(pages) == 2
    first, second = pages
    for text in ("第一中学缴费通知单", "学号2026001", "学生张**", "班级七年级1班",
                 "账单号2026秋-2026001", "缴费截止日2026-09-10", "学费4500.00",
                 "住宿费1200.00", "应缴金额（小写）¥5700.00", "应缴金额（大写）伍仟柒佰元整"):  # fmt: skip
        assert text in first, text
    assert "学号2026004" in second and "赵**" in second and "肆仟伍佰元整" in second
    assert "2026002" not in "".join(pages)  # another class
    # the Chinese font travels inside the PDF
    assert b"/FontFile3" in made.content or b"/FontFile2" in made.content


def test_class_notices_as_a_zip_hold_each_students_png_notice(
    engine: Engine, campus: Campus
) -> None:
    campus.import_roster("s1", CLASS_ROSTER, FEES, TERM, actor="bursar")
    made = campus.class_notices(
        "s1", "2026秋", "七年级", "1班", base_url="https://pay.example.edu.cn", fmt="zip"
    )
    assert made.media_type == "application/zip" and made.file_name.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(made.content)) as archive:
        assert archive.namelist() == ["2026001.png", "2026004.png", "2026005.png"]
        assert archive.read("2026004.png") == campus.notice_png(
            "s1", "2026秋", "2026004", base_url="https://pay.example.edu.cn"
        )


def test_class_notices_refuse_bad_input_naming_it_and_write_nothing(
    engine: Engine, campus: Campus
) -> None:
    campus.import_roster("s1", CLASS_ROSTER, FEES, TERM, actor="bursar")
    audit = len(engine.audit_log())
    base = "https://pay.example.edu.cn"
    cases: list[tuple[dict[str, str], type[Exception], str]] = [
        ({"fmt": "docx"}, InvalidInput, "fmt: 'docx'; use pdf or zip"),
        ({"base_url": "pay.example.edu.cn"}, InvalidInput,
         "base_url: 'pay.example.edu.cn' must be an http:// or https:// address without a "
         "query, e.g. https://pay.example.edu.cn"),
        ({"class_name": "9班"}, NotFound, "no student of 2026秋 at s1 is in 七年级 9班"),
    ]  # fmt: skip
    for change, error, message in cases:
        args = {"class_name": "1班", "base_url": base, "fmt": "pdf", **change}
        with pytest.raises(error) as exc:
            campus.class_notices(
                "s1", "2026秋", "七年级", args["class_name"],
                base_url=args["base_url"], fmt=args["fmt"],
            )  # fmt: skip
        assert exc.value.message == message  # type: ignore[attr-defined]
    for number in ("2026001", "2026004", "2026005"):
        campus.grant(
            "s1", "2026秋", number, 570_000 if number == "2026001" else 450_000,
            kind=GrantKind.SCHOLARSHIP, approved_by="p", note="全免", request_id=f"all-{number}",
        )  # fmt: skip
    audit = len(engine.audit_log())
    with pytest.raises(InvalidInput) as nothing:
        campus.class_notices("s1", "2026秋", "七年级", "1班", base_url=base)
    assert nothing.value.message == "七年级 1班: nothing is due for any student of 2026秋"
    assert len(engine.audit_log()) == audit
