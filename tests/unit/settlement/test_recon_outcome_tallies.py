"""Tallies of a run's discrepancies and of money in transit, as pure values."""

from __future__ import annotations

from datetime import date

from billfold.settlement.banking import InTransit
from billfold.settlement.discrepancy import Code, Discrepancy, DiscrepancyStatus
from billfold.settlement.outcome import tally_codes, transit_by_age


def found(code: Code, diff: int, status: DiscrepancyStatus = DiscrepancyStatus.OPEN) -> Discrepancy:
    return Discrepancy(code, "m", "wechatpay", difference_fen=diff, status=status)


def test_tallies_follow_the_order_of_the_codes_and_leave_superseded_ones_out() -> None:
    tallies = tally_codes(
        [
            found(Code.ENGINE_ONLY, -300),
            found(Code.AMOUNT_MISMATCH, 5, DiscrepancyStatus.RESOLVED),
            found(Code.ENGINE_ONLY, -200, DiscrepancyStatus.RESOLVED),
            found(Code.FEE_MISMATCH, 1, DiscrepancyStatus.SUPERSEDED),
        ]
    )
    assert [(t.code, t.count, t.open, t.difference_fen) for t in tallies] == [
        (Code.AMOUNT_MISMATCH, 1, 0, 5),
        (Code.ENGINE_ONLY, 2, 1, -500),
    ]


def test_nothing_in_transit_still_gives_every_bucket() -> None:
    assert [(t.bucket, t.count) for t in transit_by_age([])] == [
        ("0-1 days", 0), ("2-3 days", 0), ("4-7 days", 0), ("over 7 days", 0),
    ]  # fmt: skip
    old = InTransit("alipay", "M", date(2026, 8, 1), 700, 31, 1)
    assert transit_by_age([old])[-1].net_fen == 700
