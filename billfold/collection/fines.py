"""Administrative fines (罚款) and their statutory late penalty (加处罚款).

行政处罚法 第72条: a party that does not pay a fine by its deadline may be charged an extra
3% of the fine for each day overdue, never more than the fine itself. The penalty is judged
on business dates in the office's timezone (Asia/Shanghai): a fine paid at 23:59:59 on the
deadline day owes nothing; at 00:00 the next day one day is overdue.

The rule is the late-fee rule ``daily:300bps:cap=100%`` of :mod:`billfold.collection.latefee`,
so a fine stored as a bill accrues it exactly like any other late fee.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from billfold.clock import DEFAULT_TZ, business_date
from billfold.collection.latefee import LateFeeRule, days_overdue
from billfold.errors import InvalidInput

__all__ = ["FINE_PENALTY_RULE", "FineQuote", "fine_penalty", "quote_fine", "validate_decision_no"]

#: 3% of the fine a day, capped at 100% of the fine (行政处罚法 第72条).
FINE_PENALTY_RULE = LateFeeRule.daily(300, cap_bps=10_000)


def fine_penalty(fine_fen: int, deadline: date, at: datetime, tz: str = DEFAULT_TZ) -> int:
    """The penalty owed on ``fine_fen`` unpaid past ``deadline``, at instant ``at``."""
    if fine_fen <= 0:
        raise InvalidInput("fine: amount must be more than 0.00")
    return FINE_PENALTY_RULE.compute(fine_fen, deadline, business_date(at, tz))


@dataclass(frozen=True, slots=True)
class FineQuote:
    """What a fine costs at one instant: the fine, the penalty and the days behind it."""

    decision_no: str
    fine_fen: int
    deadline: date
    days_overdue: int
    penalty_fen: int

    @property
    def total_fen(self) -> int:
        return self.fine_fen + self.penalty_fen

    @property
    def capped(self) -> bool:
        return self.penalty_fen == self.fine_fen


def quote_fine(
    decision_no: str, fine_fen: int, deadline: date, at: datetime, tz: str = DEFAULT_TZ
) -> FineQuote:
    days = days_overdue(deadline, business_date(at, tz))
    return FineQuote(
        decision_no, fine_fen, deadline, days, fine_penalty(fine_fen, deadline, at, tz)
    )


def validate_decision_no(text: str) -> str:
    """A decision number (决定书编号) as printed: 1-64 characters, no spaces around it."""
    value = text.strip()
    if not value or len(value) > 64 or any(ch.isspace() for ch in value):
        raise InvalidInput(
            f"decision_no: {text[:70]!r} is not a decision number (1-64 characters, no spaces)"
        )
    return value
