"""Settlement batches on SQLite and PostgreSQL: only reconciled money, refunds and reversals
netted, splits that add up, every step journalled, and a payout file for the bank."""

from __future__ import annotations

from datetime import timedelta

import pytest
from recon_fixtures import DAY, Desk, wx_bill, wx_payment  # type: ignore[import-not-found]

from billfold.errors import Conflict, InvalidTransition
from billfold.settlement.batch import BatchStatus
from billfold.settlement.settler import Profile, Settler
from billfold.settlement.splits import Remainder, SplitKind, SplitRule


def _day_with_one_missing(desk: Desk) -> list[str]:
    """Three payments; the statement shows two (one 短款 stays open)."""
    desk.school()
    a, b, c = desk.orders("100.00", "200.00", "50.00")
    for order, txn in ((a, "W0"), (b, "W1"), (c, "W2")):
        desk.pay(order, txn)
    desk.recon.reconcile(
        wx_bill(wx_payment("W0", a.order_no, 10000, 60), wx_payment("W1", b.order_no, 20000, 120)),
        format="wechatpay",
        business_date=DAY,
    )
    return [a.order_no, b.order_no, c.order_no]


def test_only_reconciled_money_is_settled_and_every_step_is_journalled(desk: Desk) -> None:
    _day_with_one_missing(desk)
    settler = Settler(desk.engine)
    batch = settler.draft("s1", DAY, by="clerk")
    totals = batch.totals
    assert batch.status is BatchStatus.DRAFT and batch.batch_no == "ST20260901-s1-1"
    assert (totals.payment_count, totals.gross_fen, totals.fee_fen) == (2, 30000, 180)
    assert (totals.held_back_count, totals.held_back_fen) == (1, 5000)
    assert batch.net_fen == 29820
    (part,) = batch.parts
    assert (part.rule.account_no, part.amount_fen) == ("6222020200112233", 29820)
    with pytest.raises(InvalidTransition) as early:
        settler.pay(batch.batch_no, by="clerk")
    assert early.value.message == (
        f"batch {batch.batch_no} is draft; it cannot become paid; the next step is approved"
    )
    settler.approve(batch.batch_no, by="supervisor")
    assert desk.engine.trial_balance()["settlement_payable:s1"] == -29820
    payout = settler.payout_file(batch.batch_no).decode("utf-8-sig").splitlines()
    assert payout == [
        "序号,收款账号,收款户名,收款银行,金额,用途,业务参考号",
        f"1,6222020200112233,第一中学,工商银行,298.20,20260901 代收款结算,{batch.batch_no}-1",
    ]
    settler.pay(batch.batch_no, by="cashier")
    done = settler.confirm(batch.batch_no, by="cashier")
    assert done.status is BatchStatus.CONFIRMED and done.approved_by == "supervisor"
    balance = desk.engine.trial_balance()
    assert balance["settlement_payable:s1"] == 0 and balance["payouts_in_transit"] == 0
    assert balance["bank:collection"] == -29820
    assert balance["payable:s1"] == -4970  # the unreconciled payment is still owed
    actions = [r["action"] for r in desk.engine.audit_log("settlement")]
    assert actions == ["settlement_approved", "settlement_paid", "settlement_confirmed"]
    assert desk.engine.check_books() == []
    assert settler.confirm(batch.batch_no, by="cashier").status is BatchStatus.CONFIRMED


def test_a_biller_may_be_settled_before_reconciliation(desk: Desk) -> None:
    _day_with_one_missing(desk)
    settler = Settler(desk.engine)
    settler.set_profile("s1", Profile(settle_unreconciled=True), actor="ops", reason="T+0 deal")
    batch = settler.draft("s1", DAY, by="clerk")
    assert batch.totals.gross_fen == 35000 and batch.totals.held_back_count == 0


def test_refunds_and_late_reversals_are_netted_in_the_next_batch(desk: Desk) -> None:
    desk.school()
    settler = Settler(desk.engine)
    settler.set_profile("s1", Profile(settle_unreconciled=True), actor="ops", reason="test")
    a, b = desk.orders("100.00", "80.00")
    pa = desk.pay(a, "W0")
    desk.pay(b, "W1")
    first = settler.draft("s1", DAY, by="clerk")
    settler.approve(first.batch_no, by="boss")
    desk.clock.advance(days=1)
    desk.engine.refund(pa.payment.id, 4000, request_id="r", reason="x", requested_by="c")
    desk.engine.reverse("wechatpay", "W1", reason="terminal", requested_by="pos")
    second = settler.draft("s1", DAY + timedelta(days=1), by="clerk")
    totals = second.totals
    assert (totals.payment_count, totals.gross_fen) == (0, 0)
    assert (totals.refund_count, totals.refund_fen) == (2, 4000 + 8000)
    assert totals.fee_fen == -(24 + 48)  # the fee share given back
    assert second.net_fen == -(4000 + 8000) + 72
    assert second.parts == []
    with pytest.raises(InvalidTransition, match="refunds exceed collections"):
        settler.approve(second.batch_no, by="boss")
    settler.discard(second.batch_no, by="clerk", reason="nothing to pay")
    assert settler.batches(business_date=DAY + timedelta(days=1)) == []
    assert desk.engine.check_books() == []


def test_a_draft_is_redrafted_but_an_approved_batch_is_not(desk: Desk) -> None:
    _day_with_one_missing(desk)
    settler = Settler(desk.engine)
    first = settler.draft("s1", DAY, by="clerk")
    again = settler.draft("s1", DAY, by="clerk")
    assert again.batch_no == first.batch_no and again.totals == first.totals
    assert len(settler.items(first.batch_no)) == 2
    settler.approve(first.batch_no, by="boss")
    with pytest.raises(Conflict) as refused:
        settler.draft("s1", DAY, by="clerk")
    assert refused.value.message == (
        f"batch {first.batch_no} is approved; an approved batch is not redrafted"
    )


def test_split_rules_share_the_net_and_the_payout_lists_every_part(desk: Desk) -> None:
    _day_with_one_missing(desk)
    settler = Settler(desk.engine)
    rules = [
        SplitRule("6222000011112222", "教育局", "建设银行", SplitKind.FIXED, 1000, "管理费"),
        SplitRule("6222000033334444", "食堂", "农业银行", SplitKind.PERCENT, 3333),
        SplitRule("6222020200112233", "第一中学", "工商银行", SplitKind.REST),
    ]
    settler.set_profile("s1", Profile(splits=rules), actor="ops", reason="分账 agreement")
    batch = settler.draft("s1", DAY, by="clerk")
    amounts = [p.amount_fen for p in batch.parts]
    assert amounts == [1000, (29820 - 1000) * 3333 // 10000, 29820 - 1000 - 9605]
    assert sum(amounts) == batch.net_fen
    settler.approve(batch.batch_no, by="boss")
    rows = settler.payout_file(batch.batch_no, encoding="gbk").decode("gbk").splitlines()
    assert [r.split(",")[4] for r in rows[1:]] == ["10.00", "96.05", "192.15"]
    assert rows[1].split(",")[5] == "管理费"
    assert settler.profile("s1").remainder is Remainder.REST
