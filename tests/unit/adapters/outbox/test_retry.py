from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.adapters.outbox.retry import RetryPolicy
from billfold.errors import ConfigurationError


def test_without_jitter_the_delay_doubles_from_30_seconds_up_to_the_one_hour_cap() -> None:
    policy = RetryPolicy(jitter=0.0)
    delays = [policy.delay(n, delivery_id=7).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_huge_attempt_counts_stay_at_the_cap() -> None:
    assert RetryPolicy(jitter=0.0).delay(10_000, 1) == timedelta(hours=1)


def test_the_eighth_attempt_is_the_last_by_default() -> None:
    policy = RetryPolicy()
    assert not policy.gives_up(7)
    assert policy.gives_up(8)


def test_jitter_is_the_same_for_the_same_delivery_and_attempt() -> None:
    policy = RetryPolicy(jitter=0.5)
    assert policy.delay(3, 42) == policy.delay(3, 42)
    assert len({policy.delay(3, i) for i in range(20)}) > 1


@given(
    attempts=st.integers(min_value=1, max_value=60),
    delivery_id=st.integers(min_value=1, max_value=10**12),
    jitter=st.floats(min_value=0.0, max_value=1.0),
)
def test_jitter_only_shortens_the_delay_and_never_past_its_fraction(
    attempts: int, delivery_id: int, jitter: float
) -> None:
    plain = RetryPolicy(jitter=0.0).delay(attempts, delivery_id)
    jittered = RetryPolicy(jitter=jitter).delay(attempts, delivery_id)
    assert plain * (1 - jitter) - timedelta(microseconds=1) <= jittered <= plain


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="starting at 1"):
        RetryPolicy().delay(0, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": timedelta(0)}, "retry base delay must be positive"),
        ({"cap": timedelta(seconds=10)}, "retry cap must be at least the base delay"),
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"lease": timedelta(0)}, "the delivery lease must be positive"),
        ({"jitter": 1.5}, "jitter must be a fraction between 0 and 1"),
    ],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
