"""Mandates as a pure domain: the state machine, limits, validity, notice timing, retries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.mandate import (
    TRANSITIONS,
    Mandate,
    MandateStatus,
    Refusal,
    RetrySchedule,
    debit_time,
    month_start,
    notice_due,
)
from billfold.errors import InvalidInput, InvalidTransition

FROM, UNTIL = date(2026, 9, 1), date(2027, 8, 31)


def mandate(**kw: object) -> Mandate:
    values: dict[str, object] = {
        "mandate_no": "MD1",
        "biller_id": 1,
        "payer_id": 2,
        "account_masked": "************7890",
        "per_debit_limit_fen": 50_000,
        "monthly_limit_fen": 100_000,
        "valid_from": FROM,
        "valid_until": UNTIL,
    }
    return Mandate(**(values | kw))  # type: ignore[arg-type]


def active(**kw: object) -> Mandate:
    m = mandate(**kw)
    m.activate("AGR-1")
    return m


ACTIONS: dict[str, tuple[MandateStatus, Callable[[Mandate], None]]] = {
    "activate": (MandateStatus.ACTIVE, lambda m: m.activate()),
    "suspend": (MandateStatus.SUSPENDED, lambda m: m.suspend("payer asked")),
    "revoke": (MandateStatus.REVOKED, lambda m: m.revoke("payer asked")),
    "expire": (MandateStatus.EXPIRED, lambda m: m.expire()),
}


@given(st.lists(st.sampled_from(sorted(ACTIONS)), max_size=12))
def test_every_action_follows_the_transition_table_or_changes_nothing(actions: list[str]) -> None:
    m = mandate()
    for action in actions:
        target, do = ACTIONS[action]
        before = m.status
        if target in TRANSITIONS[before]:
            do(m)
            assert m.status is target
        else:
            with pytest.raises(InvalidTransition, match=f"is {before.value}; it cannot become"):
                do(m)
            assert m.status is before
        if before in (MandateStatus.REVOKED, MandateStatus.EXPIRED):
            assert m.status is before  # final states are final


@given(st.sampled_from(list(MandateStatus)))
def test_only_an_active_mandate_may_be_debited(status: MandateStatus) -> None:
    m = mandate(status=status)
    refusal = m.debit_refusal(100, 0, FROM)
    if status is MandateStatus.ACTIVE:
        assert refusal is None
    else:
        assert refusal is not None and refusal.code is Refusal.NOT_ACTIVE
        assert refusal.message == f"mandate MD1 is {status.value}"


@given(
    per_debit=st.integers(1, 10**7),
    extra=st.integers(0, 10**7),
    used=st.integers(0, 2 * 10**7),
    amount=st.integers(1, 2 * 10**7),
)
def test_a_debit_is_allowed_exactly_within_both_limits(
    per_debit: int, extra: int, used: int, amount: int
) -> None:
    m = active(per_debit_limit_fen=per_debit, monthly_limit_fen=per_debit + extra)
    refusal = m.debit_refusal(amount, used, date(2026, 10, 15))
    within = amount <= per_debit and used + amount <= per_debit + extra
    assert (refusal is None) == within
    if refusal is not None:
        expected = (
            Refusal.OVER_PER_DEBIT_LIMIT if amount > per_debit else Refusal.OVER_MONTHLY_LIMIT
        )
        assert refusal.code is expected


def test_limit_refusals_say_which_limit_and_how_much() -> None:
    m = active()
    over = m.debit_refusal(50_001, 0, FROM)
    assert over is not None
    assert over.message == "500.01 is over mandate MD1's per-debit limit of 500.00"
    month = m.debit_refusal(40_000, 70_000, date(2026, 9, 30))
    assert month is not None and month.message == (
        "400.00 would take mandate MD1 over its monthly limit of 1000.00 "
        "(700.00 already debited in 2026-09)"
    )


def test_a_mandate_is_only_debited_within_its_validity_period() -> None:
    m = active()
    early = m.debit_refusal(100, 0, FROM - timedelta(days=1))
    assert early is not None and early.code is Refusal.NOT_YET_VALID
    assert early.message == "mandate MD1 is valid from 2026-09-01, not on 2026-08-31"
    assert m.debit_refusal(100, 0, UNTIL) is None
    late = m.debit_refusal(100, 0, UNTIL + timedelta(days=1))
    assert late is not None and late.code is Refusal.PAST_VALIDITY
    assert late.message == "mandate MD1 was valid until 2027-08-31"
    assert m.expired_on(UNTIL + timedelta(days=1)) and not m.expired_on(UNTIL)
    assert not active(valid_until=None).expired_on(date(2099, 1, 1))


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_the_month_of_a_day_starts_on_its_first(day: date) -> None:
    start = month_start(day)
    assert start.day == 1 and (start.year, start.month) == (day.year, day.month)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"account_masked": "6222021234567890"}, "account: store the account number masked"),
        ({"account_masked": ""}, "account: store the account number masked"),
        ({"per_debit_limit_fen": 0}, "per_debit_limit_fen: a limit must be a positive amount"),
        ({"monthly_limit_fen": True}, "monthly_limit_fen: a limit must be a positive amount"),
        ({"per_debit_limit_fen": 100_001}, "per_debit_limit: 1000.01 is more than the monthly"),
        ({"valid_until": date(2026, 8, 31)}, "valid_until: 2026-08-31 is before valid_from"),
        ({"mandate_no": ""}, "mandate_no: 1-32 characters required"),
    ],
)
def test_a_bad_mandate_is_refused_naming_the_field(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        mandate(**changes)


def test_suspending_or_revoking_needs_a_reason() -> None:
    with pytest.raises(InvalidInput, match="suspend: a reason is required"):
        active().suspend("  ")
    with pytest.raises(InvalidInput, match="revoke: a reason is required"):
        active().revoke("")


AN_INSTANT = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
A_LEAD = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10))


@given(planned=AN_INSTANT, noticed=AN_INSTANT, lead=A_LEAD)
def test_a_debit_never_comes_sooner_than_the_lead_after_its_notice(
    planned: datetime, noticed: datetime, lead: timedelta
) -> None:
    at = debit_time(planned, noticed, lead)
    assert at >= noticed + lead and at >= planned
    assert at in (planned, noticed + lead)


@given(planned=AN_INSTANT, now=AN_INSTANT, lead=A_LEAD)
def test_the_notice_goes_out_once_the_lead_before_the_debit_is_reached(
    planned: datetime, now: datetime, lead: timedelta
) -> None:
    assert notice_due(planned, now, lead) == (planned - now <= lead)


@given(
    base=st.integers(1, 10_000),
    factor=st.integers(1, 5),
    cap_factor=st.integers(1, 100),
    max_attempts=st.integers(1, 10),
)
def test_retries_back_off_up_to_a_cap_and_stop_after_the_maximum(
    base: int, factor: int, cap_factor: int, max_attempts: int
) -> None:
    plan = RetrySchedule(
        timedelta(seconds=base), factor, timedelta(seconds=base * cap_factor), max_attempts
    )
    at = datetime(2026, 9, 1, tzinfo=UTC)
    delays = [plan.delay(n) for n in range(1, 30)]
    assert delays[0] == plan.base
    assert all(a <= b <= plan.cap for a, b in pairwise(delays))
    for failed in range(1, max_attempts + 3):
        retry = plan.next_attempt(failed, at)
        assert (retry is None) == (failed >= max_attempts)
        if retry is not None:
            assert retry == at + plan.delay(failed)


def test_the_default_retry_schedule_is_one_two_four_days_then_gives_up() -> None:
    plan = RetrySchedule()
    at = datetime(2026, 9, 1, tzinfo=UTC)
    assert [plan.next_attempt(n, at) for n in range(1, 5)] == [
        at + timedelta(days=1),
        at + timedelta(days=2),
        at + timedelta(days=4),
        None,
    ]
    assert plan.delay(10_000) == timedelta(days=7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": timedelta(0)}, "retry base: must be a positive duration"),
        ({"cap": timedelta(hours=1)}, "retry cap: must be at least the base delay"),
        ({"factor": 0}, "retry factor: must be 1 or more"),
        ({"max_attempts": 0}, "max_attempts: must be 1 or more"),
    ],
)
def test_a_bad_retry_schedule_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        RetrySchedule(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="failed_attempts: counts failed attempts"):
        RetrySchedule().delay(0)
