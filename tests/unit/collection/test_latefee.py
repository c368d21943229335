from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.latefee import LateFeeRule, days_overdue
from billfold.errors import InvalidInput

FINE_RULE = LateFeeRule.daily(300, cap_bps=10_000)  # 3% a day, never more than the fine
DUE = date(2026, 9, 10)


@pytest.mark.parametrize(
    ("today", "fee"),
    [
        (date(2026, 9, 9), 0),  # before the deadline
        (date(2026, 9, 10), 0),  # on the deadline: on time
        (date(2026, 9, 11), 600),  # 1 day: 3% of 200.00
        (date(2026, 9, 20), 6000),  # 10 days: 30%
        (date(2026, 10, 12), 19_200),  # 32 days: 96%
        (date(2026, 10, 14), 20_000),  # 34 days: capped at the fine itself
        (date(2027, 9, 10), 20_000),
    ],
)
def test_statutory_fine_penalty(today: date, fee: int) -> None:
    assert FINE_RULE.compute(20_000, DUE, today) == fee


def test_fixed_late_fee_and_grace_days() -> None:
    rule = LateFeeRule.fixed(500, grace_days=3)
    assert rule.compute(10_000, DUE, date(2026, 9, 13)) == 0
    assert rule.compute(10_000, DUE, date(2026, 9, 14)) == 500


def test_nothing_owed_means_no_late_fee() -> None:
    assert FINE_RULE.compute(0, DUE, date(2027, 1, 1)) == 0
    assert days_overdue(None, date(2027, 1, 1)) == 0


def test_cap_in_fen() -> None:
    assert LateFeeRule.daily(5, cap_fen=100).compute(1_000_000, DUE, date(2026, 12, 1)) == 100


@pytest.mark.parametrize(
    "text",
    [
        "none",
        "daily:5bps",
        "daily:300bps:cap=100%",
        "daily:5bps:cap=50.00",
        "fixed:20.00:grace=3",
        "daily:7bps:capbps=1250",
    ],
)
def test_rules_round_trip_through_their_text_form(text: str) -> None:
    rule = LateFeeRule.parse(text)
    assert LateFeeRule.parse(rule.describe()) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("weekly:5bps", "late_fee: 'weekly:5bps' is not a late-fee rule"),
        ("daily:xbps", "late_fee: 'x' is not a whole number"),
        ("fixed:1.234", "late_fee: '1.234' has more than two decimals"),
    ],
)
def test_bad_rules_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        LateFeeRule.parse(text)
    assert str(caught.value).startswith(message)


@given(st.integers(1, 10**9), st.integers(1, 1000), st.integers(0, 4000), st.integers(0, 20_000))
def test_a_capped_fee_never_exceeds_its_cap_and_grows_with_time(
    principal: int, bps: int, days: int, cap_bps: int
) -> None:
    rule = LateFeeRule.daily(bps, cap_bps=cap_bps)
    today = date.fromordinal(DUE.toordinal() + days)
    fee = rule.compute(principal, DUE, today)
    assert 0 <= fee <= (principal * cap_bps + 5000) // 10_000
    tomorrow = date.fromordinal(today.toordinal() + 1)
    assert rule.compute(principal, DUE, tomorrow) >= fee
