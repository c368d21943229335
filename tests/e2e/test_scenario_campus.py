"""Campus tuition end to end, on SQLite and PostgreSQL: roster in → parents pay through the
mobile-banking adapter against the sandbox (the school's designated sole channel) → the bank's
statement reconciled → the day settled → the bursar's files, the payout file, the notice."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.chart import BarChart
from PIL import Image

from billfold.channels.collect import ChannelRefused
from billfold.channels.mobile_banking import PayCode, lookup
from billfold.clock import FixedClock
from billfold.demo.campus_utility import (
    CAMPUS,
    FEES_CSV,
    PUBLIC_URL,
    ROSTER_CSV,
    STATEMENT_MAPPING,
    TERM,
    ScenarioChannels,
    bank_config,
    run_campus,
)
from billfold.engine import Engine
from billfold.merchants.biller import Biller, BillerKind, SettlementAccount
from billfold.merchants.fees import FeeKind, FeeRule
from billfold.packs.campus import Campus, GrantKind
from billfold.settlement.batch import BatchStatus
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.settler import Settler

DAY = date(2026, 9, 1)


def _school(engine: Engine) -> Campus:
    engine.create_biller(
        Biller(
            code=CAMPUS,
            name="明德中学",
            kind=BillerKind.SCHOOL,
            settlement_account=SettlementAccount("示范银行", "明德中学", "6222020200765432101"),
            fee_rules=(FeeRule(channel="mobile_banking", kind=FeeKind.BPS, bps=20, min_fen=10),),
        )
    )
    engine.set_channel_config(
        CAMPUS, bank_config("BANK-MINGDE", sole=True), actor="ops", reason="学校指定手机银行"
    )
    return Campus(engine)


def test_campus_tuition_from_roster_to_settlement_and_the_bursars_files(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    campus = _school(engine)
    changes = campus.import_roster(
        CAMPUS, ROSTER_CSV.encode(), FEES_CSV.encode(), TERM, actor="bursar"
    )
    assert changes.counts()["bills_added"] == 5
    channels = ScenarioChannels(engine, clock)

    # a parent looks the bill up by 学号: mobile banking sees it, with what is due today
    found = lookup(engine, "2026301", CAMPUS)
    (bill,) = found.bills
    assert (bill.bill_no, bill.amount_due_fen, bill.allow_partial, bill.min_part_fen) == (
        "2026秋-2026301",
        608_000,
        True,
        100_000,
    )
    campus.grant(
        CAMPUS, TERM.name, "2026303", 100_000, kind=GrantKind.SCHOLARSHIP,
        approved_by="校长 陈", note="区三好学生", request_id="g-2026303",
    )  # fmt: skip
    paid_in_full = channels.bank_pay(CAMPUS, ["2026秋-2026301"], "MD-0301", 608_000)
    too_small = channels.bank_pay(CAMPUS, ["2026秋-2026302"], "MD-0302A", 50_000)
    assert too_small.code is PayCode.INVALID
    assert too_small.message == (
        "amount: 500.00 is below the minimum part payment 1000.00 for bill 2026秋-2026302"
    )
    installment = channels.bank_pay(CAMPUS, ["2026秋-2026302"], "MD-0302", 200_000)
    scholar = channels.bank_pay(CAMPUS, ["2026秋-2026303"], "MD-0303", 523_000)
    leaving = channels.bank_pay(CAMPUS, ["2026秋-2026305"], "MD-0305", 541_000)
    assert all(a.accepted for a in (paid_in_full, installment, scholar, leaving))
    # the confirmation of one payment is lost on the way: the statement will bring it
    lost = [d for d in channels.gateway.outbox if d.order_no == scholar.order_no]
    channels.gateway.outbox = [d for d in channels.gateway.outbox if d not in lost]
    while channels.gateway.outbox:
        channels.deliver()
    assert engine.bill(CAMPUS, "2026秋-2026301").stored_status.value == "paid"
    assert engine.bill(CAMPUS, "2026秋-2026302").paid_fen == 200_000
    assert engine.bill(CAMPUS, "2026秋-2026303").paid_fen == 0

    # the school takes mobile banking only: the counter is refused, and nothing changes
    order = engine.create_order(CAMPUS, ["2026秋-2026304"])
    with pytest.raises(ChannelRefused) as refused:
        channels.collector.start(order.order_no, "counter")
    assert refused.value.message == (
        "demo-campus collects only through mobile_banking (its designated sole channel); "
        "counter is not accepted"
    )
    assert engine.order(order.order_no).status.value == "created"

    # 冯雨桐 leaves: the bank refunds her family, the bill is closed
    withdrawal = campus.withdraw(CAMPUS, TERM.name, "2026305", by="bursar", reason="转学")
    (payout,) = channels.collector.pay_out_refunds()
    assert payout.succeeded and withdrawal.refunded_fen == 541_000
    (refund,) = withdrawal.refunds
    assert engine.pending_refunds() == []

    # next morning: the bank's statement of the day, reconciled
    rf_id = channels.gateway.query("mobile_banking", leaving.order_no or "")
    assert rf_id is not None and rf_id.refunds
    statement = (
        "流水号,订单号,金额,交易时间,类型,退款单号\n"
        f"MD-0301,{paid_in_full.order_no},6080.00,2026-09-01 10:00:00,支付,\n"
        f"MD-0302,{installment.order_no},2000.00,2026-09-01 10:00:00,支付,\n"
        f"MD-0303,{scholar.order_no},5230.00,2026-09-01 10:00:00,支付,\n"
        f"MD-0305,{leaving.order_no},5410.00,2026-09-01 10:00:00,支付,\n"
        f"{rf_id.refunds[0].refund_id},,5410.00,2026-09-01 18:00:00,退款,{refund.refund_no}\n"
    )
    run = Reconciler(engine).reconcile(
        statement.encode(),
        format="generic-csv",
        business_date=DAY,
        channel="mobile_banking",
        merchant_id="BANK-MINGDE",
        file_name="mingde-20260901.csv",
        column_map=STATEMENT_MAPPING,
        actor="clerk",
    )
    (lost_line,) = run.discrepancies
    assert (lost_line.code.value, lost_line.source) == ("channel_only", "mingde-20260901.csv:4")
    assert [d.id for d in run.auto_resolved] == [lost_line.id]
    assert engine.bill(CAMPUS, "2026秋-2026303").stored_status.value == "paid"

    # the day settled to the school: gross less the refund less the bank's fees
    settler = Settler(engine)
    batch = settler.draft(CAMPUS, DAY, by="clerk")
    assert (batch.totals.payment_count, batch.totals.gross_fen, batch.totals.refund_fen) == (
        4,
        1_872_000,
        541_000,
    )
    settler.approve(batch.batch_no, by="supervisor")
    settler.pay(batch.batch_no, by="cashier")
    done = settler.confirm(batch.batch_no, by="cashier")
    assert done.status is BatchStatus.CONFIRMED
    # fees: 20 bps (at least 0.10) of each payment, the refunded payment's fee given back
    assert (done.totals.fee_fen, done.net_fen) == (2_662, 1_328_338)
    assert settler.payout_file(batch.batch_no).decode("utf-8-sig").splitlines() == [
        "序号,收款账号,收款户名,收款银行,金额,用途,业务参考号",
        f"1,6222020200765432101,明德中学,示范银行,13283.38,20260901 代收款结算,{batch.batch_no}-1",
    ]
    assert engine.check_books() == []

    # the bursar's files
    files = campus.reports(CAMPUS, TERM.name, DAY, tmp_path)
    arrears, lists, daily, book = files
    assert arrears.read_bytes().startswith(b"\xef\xbb\xbf")
    assert arrears.read_text("utf-8-sig").splitlines() == [
        "年级,班级,学生数,应收金额,减免金额,已收金额,欠费金额,欠费人数,收缴率",
        "七年级,1班,2,10960.00,0.00,8080.00,2880.00,1,73.7%",
        "七年级,2班,2,11110.00,1000.00,5230.00,4880.00,1,51.7%",
    ]
    assert lists.read_text("utf-8-sig").splitlines() == [
        "年级,班级,学号,姓名,账单号,状态,应收金额,减免金额,已收金额,已退金额,欠费金额,"
        "家长电话,缴费截止日,逾期天数",
        "七年级,1班,2026302,吴**,2026秋-2026302,部分缴费,4880.00,0.00,2000.00,0.00,2880.00,"
        "139****0302,2026-09-10,0",
        "七年级,1班,2026301,周**,2026秋-2026301,已缴清,6080.00,0.00,6080.00,0.00,0.00,"
        "139****0301,2026-09-10,0",
        "七年级,2班,2026304,王**,2026秋-2026304,未缴费,4880.00,0.00,0.00,0.00,4880.00,"
        "139****0304,2026-09-10,0",
        "七年级,2班,2026303,郑**,2026秋-2026303,已缴清,6230.00,1000.00,5230.00,0.00,0.00,"
        "139****0303,2026-09-10,0",
        "八年级,1班,2026305,冯**,2026秋-2026305,已退学,5410.00,0.00,0.00,5410.00,0.00,"
        "139****0305,2026-09-10,0",
    ]
    assert daily.read_text("utf-8-sig").splitlines() == [
        "日期,年级,班级,渠道,笔数,收款金额",
        "2026-09-01,七年级,1班,手机银行,2,8080.00",
        "2026-09-01,七年级,2班,手机银行,1,5230.00",
        "2026-09-01,八年级,1班,手机银行,1,5410.00",
    ]
    workbook = load_workbook(book)
    assert workbook.sheetnames == ["欠费统计", "缴费名单", "当日收款", "收缴率"]
    assert workbook["欠费统计"]["F2"].value == 8080 and workbook["欠费统计"]["A4"].value == "合计"
    rates = workbook["收缴率"]
    assert [[c.value for c in row] for row in rates.iter_rows()] == [
        ["班级", "收缴率"],
        ["七年级1班", 0.7372],
        ["七年级2班", 0.5173],
    ]
    (chart,) = rates._charts
    assert isinstance(chart, BarChart) and chart.title is not None

    # and a payment notice for the family still paying in installments
    png = campus.notice_png(CAMPUS, TERM.name, "2026302", base_url=PUBLIC_URL)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width == 900 and image.height > 900
    link = campus.notice_link(CAMPUS, TERM.name, "2026302", base_url=PUBLIC_URL)
    assert link == "http://127.0.0.1:8000/pay/b/demo-campus/bills/2026%E7%A7%8B-2026302"


def test_the_campus_scenario_runs_twice_and_the_second_run_changes_nothing(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    start = clock.now()
    first = run_campus(engine, tmp_path / "one")
    balance = engine.trial_balance()
    audit = len(engine.audit_log())
    clock.set(start)
    second = run_campus(engine, tmp_path / "two")
    assert (second.bills, second.paid, second.collected_fen, second.settled_fen) == (
        first.bills,
        first.paid,
        first.collected_fen,
        first.settled_fen,
    )
    assert (first.name, first.billers, first.bills, first.paid, first.discrepancies) == (
        "campus tuition",
        1,
        5,
        2,
        0,
    )
    assert engine.trial_balance() == balance and len(engine.audit_log()) == audit
    assert engine.check_books() == []
    names = sorted(p.name for p in second.files)
    assert "demo-campus-notice-2026302.png" in names and all(p.exists() for p in second.files)
    for one, two in zip(sorted(first.files), sorted(second.files), strict=True):
        if one.suffix in (".csv", ".txt") and "roster-import" not in one.name:
            assert one.read_bytes() == two.read_bytes(), one.name
