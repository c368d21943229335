"""The statutory late penalty of administrative fines (行政处罚法 第72条), as a table."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from billfold.collection.fines import FINE_PENALTY_RULE, fine_penalty, quote_fine
from billfold.errors import InvalidInput

DEADLINE = date(2026, 9, 10)


def utc(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 9) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("case", "fine_fen", "at", "penalty_fen"),
    [
        ("a day before the deadline", 20_000, utc(9, 2), 0),
        ("on the deadline, morning", 20_000, utc(10, 1), 0),
        ("23:59:59 on the deadline in Shanghai", 20_000, utc(10, 15, 59, 59), 0),
        ("00:00:00 the next day in Shanghai", 20_000, utc(10, 16, 0, 0), 600),
        ("still the deadline in UTC, the next day in Shanghai", 20_000, utc(10, 20), 600),
        ("two days late", 20_000, utc(12, 2), 1_200),
        ("ten days late", 20_000, utc(20, 2), 6_000),
        ("33 days: 99% of the fine", 20_000, utc(13, 2, month=10), 19_800),
        ("34 days: 102% capped at the fine", 20_000, utc(14, 2, month=10), 20_000),
        (
            "a year late: still the fine itself",
            20_000,
            datetime(2027, 9, 10, 2, tzinfo=UTC),
            20_000,
        ),
        ("0.99 fen rounds half up to 1", 33, utc(11, 2), 1),
        ("1.5 fen rounds half up to 2", 50, utc(11, 2), 2),
        ("1.47 fen rounds down to 1", 49, utc(11, 2), 1),
    ],
)
def test_penalty_is_three_percent_a_day_capped_at_the_fine(
    case: str, fine_fen: int, at: datetime, penalty_fen: int
) -> None:
    assert fine_penalty(fine_fen, DEADLINE, at) == penalty_fen, case


def test_the_rule_is_the_late_fee_rule_daily_300bps_capped_at_100_percent() -> None:
    assert FINE_PENALTY_RULE.describe() == "daily:300bps:cap=100%"


def test_a_quote_counts_days_in_shanghai_and_flags_the_cap() -> None:
    quote = quote_fine("京公交决字[2026]第001号", 20_000, DEADLINE, utc(14, 2, month=10))
    assert (quote.days_overdue, quote.penalty_fen, quote.total_fen) == (34, 20_000, 40_000)
    assert quote.capped
    on_time = quote_fine("X1", 20_000, DEADLINE, utc(10, 15, 59, 59))
    assert (on_time.days_overdue, on_time.total_fen, on_time.capped) == (0, 20_000, False)


def test_a_fine_of_nothing_is_refused() -> None:
    with pytest.raises(InvalidInput) as bad:
        fine_penalty(0, DEADLINE, utc(20, 2))
    assert bad.value.message == "fine: amount must be more than 0.00"
