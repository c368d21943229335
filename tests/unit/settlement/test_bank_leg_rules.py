"""The bank leg's pure rules: which channel paid a credit, which date it settles, which promise
it meets; money in transit by age; and the settlement batch's steps and payout rows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from billfold.collection.journal import is_balanced
from billfold.errors import InvalidTransition
from billfold.settlement.banking import (
    DEFAULT_ROUTES,
    MatchStatus,
    Promise,
    date_hint,
    in_transit,
    match_credits,
    route_of,
    settlement_entry,
)
from billfold.settlement.batch import (
    BatchStatus,
    BatchTotals,
    SettlementBatch,
    next_status,
    payout_rows,
    step_entry,
)
from billfold.settlement.discrepancy import Code
from billfold.settlement.splits import Part, SplitKind, SplitRule
from billfold.settlement.statement import Direction, LineType, StatementLine

BOOKED = datetime(2026, 9, 2, 1, 0, tzinfo=UTC)


def credit(fen: int, payer: str, text: str = "", at: int = 1) -> StatementLine:
    return StatementLine(
        channel="bank",
        channel_txn_id=f"BK{at}",
        amount_fen=fen,
        occurred_at=BOOKED,
        type=LineType.SETTLEMENT,
        source_file="bank.xml",
        source_line=at,
        direction=Direction.CREDIT,
        counterparty=payer,
        description=text,
    )


def promise(run: int, channel: str, day: int, net: int) -> Promise:
    return Promise(run, channel, "", date(2026, 9, day), net, 60)


def test_routes_read_the_payer_and_dates_read_the_references() -> None:
    assert route_of(credit(1, "财付通支付科技有限公司"), DEFAULT_ROUTES) == "wechatpay"
    assert route_of(credit(1, "Alipay.com Co"), DEFAULT_ROUTES) == "alipay"
    assert route_of(credit(1, "某某公司"), DEFAULT_ROUTES) is None
    assert date_hint(credit(1, "x", "SETTLE 20260831 BATCH 7")) == date(2026, 8, 31)
    assert date_hint(credit(1, "x", "T+1 2026-08-30")) == date(2026, 8, 30)
    assert date_hint(credit(1, "x", "REF 20261399")) is None


def test_a_credit_settles_the_oldest_open_promise_of_its_amount() -> None:
    promises = [promise(1, "wechatpay", 31 - 30, 500), promise(2, "wechatpay", 1, 700)]
    matches, found = match_credits(
        [credit(700, "TENPAY", at=1), credit(500, "TENPAY", at=2)],
        promises,
        DEFAULT_ROUTES,
        tz="Asia/Shanghai",
    )
    assert found == []
    assert [(m.status, m.promise.run_id if m.promise else None) for m in matches] == [
        (MatchStatus.SETTLED, 2),
        (MatchStatus.SETTLED, 1),
    ]
    entry = settlement_entry(matches[0])
    assert entry is not None and is_balanced(entry.postings)


def test_a_named_date_with_a_different_amount_is_a_mismatch() -> None:
    promises = [promise(1, "alipay", 1, 4970), promise(2, "alipay", 2, 100)]
    matches, (found,) = match_credits(
        [credit(4900, "支付宝", "20260901")], promises, DEFAULT_ROUTES, tz="Asia/Shanghai"
    )
    assert matches[0].status is MatchStatus.MISMATCH and matches[0].promise == promises[0]
    assert (found.code, found.difference_fen, found.source) == (
        Code.SETTLEMENT_MISMATCH,
        -70,
        "bank.xml:1",
    )


def test_credits_nothing_explains_say_why() -> None:
    promises = [promise(1, "alipay", 1, 4970), promise(2, "alipay", 2, 100)]
    _, found = match_credits(
        [credit(1, "支付宝"), credit(2, "财付通", at=2), credit(3, "某公司", at=3)],
        promises,
        DEFAULT_ROUTES,
        tz="Asia/Shanghai",
    )
    assert [d.message for d in found] == [
        "a credit of 0.01 CNY from 支付宝: none of alipay's open statements has this amount "
        "(2026-09-01 49.70, 2026-09-02 1.00)",
        "a credit of 0.02 CNY from 财付通: wechatpay has no reconciled statement waiting to be "
        "settled",
        "a credit of 0.03 CNY from 某公司: no route names its payer; add one (CHANNEL=TEXT)",
    ]
    assert all(d.code is Code.UNEXPLAINED_CREDIT for d in found)


def test_money_in_transit_is_aged_in_buckets() -> None:
    promises = [promise(1, "alipay", 1, 100), promise(2, "wechatpay", 2, 0)]
    (waiting,) = in_transit(promises, date(2026, 9, 10))
    assert (waiting.channel, waiting.age_days, waiting.bucket) == ("alipay", 9, "over 7 days")
    assert in_transit(promises, date(2026, 8, 31)) == []


def batch(net: int, status: BatchStatus = BatchStatus.DRAFT) -> SettlementBatch:
    account = SplitRule("6222020200112233", "第一中学", "工商银行", SplitKind.REST)
    return SettlementBatch(
        batch_no="ST20260901-s1-1",
        biller_id=1,
        biller_code="s1",
        business_date=date(2026, 9, 1),
        status=status,
        totals=BatchTotals(payment_count=1, gross_fen=net),
        settle_unreconciled=False,
        created_by="clerk",
        created_at=BOOKED,
        parts=[Part(account, net), Part(account, 0)],
    )


def test_batch_steps_go_one_way_and_each_posts_a_balanced_entry() -> None:
    assert next_status(BatchStatus.DRAFT, BatchStatus.APPROVED, "B") is BatchStatus.APPROVED
    with pytest.raises(InvalidTransition) as skipped:
        next_status(BatchStatus.DRAFT, BatchStatus.CONFIRMED, "B")
    assert skipped.value.message == (
        "batch B is draft; it cannot become confirmed; the next step is approved"
    )
    with pytest.raises(InvalidTransition, match="it is finished"):
        next_status(BatchStatus.CONFIRMED, BatchStatus.DRAFT, "B")
    accounts = []
    for step in (BatchStatus.APPROVED, BatchStatus.PAID, BatchStatus.CONFIRMED):
        entry = step_entry(batch(2500), step)
        assert entry is not None and is_balanced(entry.postings)
        accounts.append([(p.account, p.amount_fen) for p in entry.postings])
    assert accounts == [
        [("payable:s1", 2500), ("settlement_payable:s1", -2500)],
        [("settlement_payable:s1", 2500), ("payouts_in_transit", -2500)],
        [("payouts_in_transit", 2500), ("bank:collection", -2500)],
    ]
    assert step_entry(batch(0), BatchStatus.APPROVED) is None


def test_the_payout_lists_only_parts_with_money_and_accounts_in_full() -> None:
    assert payout_rows(batch(2500)) == [
        (
            "1",
            "6222020200112233",
            "第一中学",
            "工商银行",
            "25.00",
            "20260901 代收款结算",
            "ST20260901-s1-1-1",
        )
    ]
