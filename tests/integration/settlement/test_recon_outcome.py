"""What a run came to, on SQLite and PostgreSQL: matched, the discrepancies by kind with
how many are still open, what billfold resolved alone, and money in transit by age."""

from __future__ import annotations

from datetime import timedelta

import pytest
from recon_fixtures import DAY, Desk, wx_bill, wx_payment  # type: ignore[import-not-found]

from billfold.errors import NotFound
from billfold.settlement.discrepancy import Code


def test_a_runs_outcome_counts_matched_lines_and_discrepancies_by_kind(desk: Desk) -> None:
    desk.school()
    a, b, c = desk.orders("100.00", "30.00", "50.00")
    desk.pay(a, "W0")
    desk.pay(b, "W1")  # the statement misses it: 短款
    statement = wx_bill(
        wx_payment("W0", a.order_no, 10000, 60), wx_payment("W2", c.order_no, 5000, 30)
    )
    result = desk.recon.reconcile(statement, format="wechatpay", business_date=DAY)
    outcome = desk.recon.outcome(result.run.id)
    assert (outcome.matched_count, outcome.matched_fen) == (1, 10000)
    tallies = {t.code: (t.count, t.open, t.difference_fen) for t in outcome.by_code}
    assert tallies == {
        Code.CHANNEL_ONLY: (1, 0, 5000),  # credited by billfold at once
        Code.ENGINE_ONLY: (1, 1, -3000),
    }
    assert (outcome.open_count, outcome.auto_resolved) == (1, 1)
    assert len(outcome.discrepancies) == 2
    (auto,) = [d for d in outcome.discrepancies if d.code is Code.CHANNEL_ONLY]
    assert auto.resolution is not None and auto.resolution.startswith(
        "系统自动处理："
    )  # read by people


def test_money_in_transit_is_tallied_in_every_age_bucket(desk: Desk) -> None:
    desk.school()
    (a,) = desk.orders("100.00")
    desk.pay(a, "W0")
    desk.recon.reconcile(
        wx_bill(wx_payment("W0", a.order_no, 10000, 60)), format="wechatpay", business_date=DAY
    )
    ages = desk.recon.transit_by_age(DAY + timedelta(days=5))
    assert [(t.bucket, t.count, t.net_fen) for t in ages] == [
        ("0-1 days", 0, 0),
        ("2-3 days", 0, 0),
        ("4-7 days", 1, 10000 - 60),
        ("over 7 days", 0, 0),
    ]


def test_the_outcome_of_an_unknown_run_is_refused_by_name(desk: Desk) -> None:
    with pytest.raises(NotFound) as refused:
        desk.recon.outcome(999)
    assert refused.value.message == "reconciliation run 999 does not exist"
