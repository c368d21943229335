"""Channel statements reconciled against the engine, on SQLite and PostgreSQL: every outcome,
from inline statements in the channels' real formats through the real parsers."""

from __future__ import annotations

import hashlib

from recon_fixtures import (  # type: ignore[import-not-found]
    CSV_MAP,
    DAY,
    Desk,
    ali_bill,
    ali_row,
    csv_bill,
    wx_bill,
    wx_payment,
    wx_refund,
)
from sqlalchemy import func, select

from billfold import OrderStatus
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import settlement as st
from billfold.settlement.discrepancy import Action, Code, DiscrepancyStatus
from billfold.settlement.run import RunStatus


def _count(desk: Desk, table: object) -> int:
    with desk.engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_wechat_bill_finds_every_kind_of_discrepancy(desk: Desk) -> None:
    desk.school()
    o = desk.orders("100.00", "100.00", "100.00", "100.00", "100.00", "100.00", "50.00")
    for i in (0, 1, 2, 3, 4, 6):
        desk.pay(o[i], f"W{i}")
    bill = wx_bill(
        wx_payment("W0", o[0].order_no, 10000, 60),  # line 2: matched
        wx_payment("W1", o[1].order_no, 9900, 59),  # line 3: amount differs
        wx_payment("W2", o[2].order_no, 10000, 100),  # line 4: fee differs from the schedule
        wx_payment("W3", o[3].order_no, 10000, 60),  # line 5
        wx_payment("W3", o[3].order_no, 10000, 60),  # line 6: the same line again
        wx_payment("W5", o[5].order_no, 10000, 60),  # line 7: the engine never heard of it
        # W4 missing: 短款; W6 listed as failed while the engine credited it:
        wx_payment("W6", o[6].order_no, 5000, 30).replace("`SUCCESS", "`REVOKED"),
    )
    result = desk.recon.reconcile(bill, format="wechatpay", business_date=DAY, file_name="wx.csv")
    run = result.run
    assert result.created and run.merchant_id == "1900000109" and run.revision == 1
    found = {(d.code, d.source): d for d in result.discrepancies}
    assert set(found) == {
        (Code.AMOUNT_MISMATCH, "wx.csv:3"),
        (Code.FEE_MISMATCH, "wx.csv:4"),
        (Code.DUPLICATE_LINE, "wx.csv:6"),
        (Code.CHANNEL_ONLY, "wx.csv:7"),
        (Code.ENGINE_ONLY, "engine"),
        (Code.STATUS_MISMATCH, "wx.csv:8"),
    }
    amount = found[(Code.AMOUNT_MISMATCH, "wx.csv:3")]
    assert amount.message == "the channel says W1 paid 99.00; the engine has 100.00"
    assert amount.difference_fen == -100
    assert found[(Code.FEE_MISMATCH, "wx.csv:4")].message == (
        "the channel charged a fee of 1.00 on W2; the fee schedule says 0.60"
    )
    assert found[(Code.DUPLICATE_LINE, "wx.csv:6")].message == (
        "payment W3 is listed again (first at line 5)"
    )
    missing = found[(Code.ENGINE_ONLY, "engine")]
    assert missing.channel_txn_id == "W4" and missing.difference_fen == -10000
    assert "短款" in missing.message
    assert found[(Code.STATUS_MISMATCH, "wx.csv:8")].message == (
        "the channel reversed W6; the engine still has it credited (50.00)"
    )
    assert run.matched_count == 3  # W0, W2 (fee aside) and W3 agree on the money
    assert run.totals.payment_count == 6 and run.engine_count == 6
    # The common case resolved itself: the lost notification's order is credited.
    (auto,) = result.auto_resolved
    assert auto.code is Code.CHANNEL_ONLY and auto.action is Action.CREDIT
    assert auto.resolved_by == "billfold" and auto.payment_id is not None
    assert desk.engine.order(o[5].order_no).status is OrderStatus.PAID
    assert desk.engine.check_books() == []


def test_the_same_file_again_changes_nothing(desk: Desk) -> None:
    desk.school()
    o = desk.orders("10.00", "20.00")
    desk.pay(o[0], "W0")
    bill = wx_bill(
        wx_payment("W0", o[0].order_no, 1000, 6), wx_payment("W1", o[1].order_no, 2000, 12)
    )
    first = desk.recon.reconcile(bill, format="wechatpay", business_date=DAY)
    # the day's first run: its fingerprint was computed on a thread while the file was read
    assert first.run.file_sha256 == hashlib.sha256(bill).hexdigest()
    before = [_count(desk, tbl) for tbl in (st.recon_runs, st.recon_discrepancies, t.payments)]
    journal = desk.engine.trial_balance()
    again = desk.recon.reconcile(bill, format="wechatpay", business_date=DAY)
    assert not again.created and again.run.id == first.run.id
    assert [d.id for d in again.discrepancies] == [d.id for d in first.discrepancies]
    assert again.auto_resolved == []
    after = [_count(desk, tbl) for tbl in (st.recon_runs, st.recon_discrepancies, t.payments)]
    assert after == before and desk.engine.trial_balance() == journal


def test_a_corrected_file_replaces_the_earlier_run_with_an_audit_record(desk: Desk) -> None:
    desk.school()
    o = desk.orders("10.00", "20.00")
    desk.pay(o[0], "W0")
    desk.pay(o[1], "W1")
    wrong = wx_bill(wx_payment("W0", o[0].order_no, 1000, 6))  # W1 left out by mistake
    right = wx_bill(
        wx_payment("W0", o[0].order_no, 1000, 6), wx_payment("W1", o[1].order_no, 2000, 12)
    )
    first = desk.recon.reconcile(wrong, format="wechatpay", business_date=DAY)
    assert [d.code for d in first.discrepancies] == [Code.ENGINE_ONLY]
    second = desk.recon.reconcile(
        right, format="wechatpay", business_date=DAY, actor="clerk-li", reason="WeChat re-issued"
    )
    assert second.created and second.run.revision == 2 and second.discrepancies == []
    assert second.replaced is not None and second.replaced.id == first.run.id
    old = desk.recon.run(first.run.id)
    assert old.status is RunStatus.SUPERSEDED and old.superseded_by == second.run.id
    (gone,) = desk.recon.discrepancies(run_id=first.run.id)
    assert gone.status is DiscrepancyStatus.SUPERSEDED
    (record,) = desk.engine.audit_log("recon_run")
    assert record["actor"] == "clerk-li" and record["reason"] == "WeChat re-issued"
    assert record["before"]["run_id"] == first.run.id and record["before"]["discrepancies"] == 1
    assert record["after"]["run_id"] == second.run.id and record["after"]["discrepancies"] == 0
    assert [r.id for r in desk.recon.runs(current_only=True)] == [second.run.id]


def test_an_alipay_bill_completes_a_refund_it_shows_paid_out(desk: Desk) -> None:
    desk.school()
    (order,) = desk.orders("120.00")
    paid = desk.pay(order, "2026090122001458860515315453", channel="alipay")
    refund = desk.engine.refund(
        paid.payment.id, 2000, request_id="r1", reason="overpaid", requested_by="clerk"
    )
    bill = ali_bill(
        ali_row("2026090122001458860515315453", order.order_no, 12000, 72),
        ali_row("2026090122001458860515315453", order.order_no, 2000, 12, "退款", refund.refund_no),
    )
    result = desk.recon.reconcile(bill, format="alipay", business_date=DAY, file_name="ali.csv")
    (found,) = result.discrepancies
    assert found.code is Code.STATUS_MISMATCH and found.source == "ali.csv:7"
    assert found.message == (
        f"the channel paid out refund {refund.refund_no}; the engine still has it pending"
    )
    (auto,) = result.auto_resolved
    assert auto.action is Action.COMPLETE_REFUND
    assert desk.engine.pending_refunds() == []
    assert result.run.totals.net_fen == 12000 - 2000 - 72 + 12
    assert desk.engine.check_books() == []


def test_a_wechat_refund_the_engine_paid_out_but_the_channel_never_did(desk: Desk) -> None:
    desk.school()
    a, b = desk.orders("100.00", "100.00")
    pa, pb = desk.pay(a, "W0"), desk.pay(b, "W1")
    ra = desk.engine.refund(pa.payment.id, 3000, request_id="a", reason="x", requested_by="c")
    rb = desk.engine.refund(pb.payment.id, 1000, request_id="b", reason="x", requested_by="c")
    desk.engine.complete_refund(ra.refund_no, channel_refund_id="WXRF-A")
    desk.engine.complete_refund(rb.refund_no, channel_refund_id="WXRF-B")
    bill = wx_bill(
        wx_payment("W0", a.order_no, 10000, 60),
        wx_payment("W1", b.order_no, 10000, 60),
        wx_refund("W0", a.order_no, "WXRF-A", ra.refund_no, 3000, 18),
        wx_refund("W9", "BF-ELSEWHERE", "WXRF-Z", "RF-UNKNOWN", 500, 3),
    )
    result = desk.recon.reconcile(bill, format="wechatpay", business_date=DAY, file_name="wx.csv")
    found = {(d.code, d.source) for d in result.discrepancies}
    assert found == {(Code.CHANNEL_ONLY, "wx.csv:5"), (Code.ENGINE_ONLY, "engine")}
    missing = next(d for d in result.discrepancies if d.code is Code.ENGINE_ONLY)
    assert missing.refund_no == rb.refund_no and missing.difference_fen == 1000
    assert result.run.matched_count == 3


def test_a_generic_csv_without_fees_checks_no_fees_and_ignores_failed_attempts(
    desk: Desk,
) -> None:
    desk.school()
    a, b = desk.orders("10.00", "20.00")
    desk.pay(a, "C1", channel="counter")
    bill = csv_bill(("C1", a.order_no, 1000, "成功"), ("C2", b.order_no, 2000, "失败"))
    result = desk.recon.reconcile(
        bill, format="generic-csv", channel="counter", column_map=CSV_MAP, business_date=DAY
    )
    assert result.discrepancies == [] and not result.run.check_fees
    assert result.run.matched_count == 1 and result.run.merchant_id == ""


def test_a_line_the_parser_cannot_read_is_kept_as_a_discrepancy(desk: Desk) -> None:
    desk.school()
    (a,) = desk.orders("10.00")
    desk.pay(a, "C1", channel="counter")
    bill = (
        csv_bill(("C1", a.order_no, 1000, "成功"))
        + "C2,BFX,12.345,2026-09-01 10:00:00,成功\n".encode()
    )
    result = desk.recon.reconcile(
        bill, format="generic-csv", channel="counter", column_map=CSV_MAP, business_date=DAY,
        file_name="counter.csv",
    )  # fmt: skip
    (bad,) = result.discrepancies
    assert bad.code is Code.UNREADABLE_LINE and bad.source == "counter.csv:3"
    assert bad.message == "金额: '12.345' has more than two decimals"
    assert result.run.quarantined == 1
