"""Late fees (滞纳金): a rule, accrued day by day on the principal owed on each day.

A daily late fee accrues, for each business date past the due date and its grace days, on
the principal still owed at the start of that date: a payment made on a date counts from
the next date on, so a part payment slows the accrual and never stops it. The cap bounds
the late fee over the whole life of the bill and is reckoned on the bill's original
principal (for fines: 行政处罚法 第72条, 加处罚款的数额不得超出罚款的数额).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from billfold.errors import InvalidInput
from billfold.merchants.fees import round_half_up_div

__all__ = ["LateFeeKind", "LateFeeRule", "PrincipalPaid", "days_overdue"]


class LateFeeKind(StrEnum):
    NONE = "none"
    DAILY_BPS = "daily_bps"
    FIXED = "fixed"


def days_overdue(due_date: date | None, today: date, grace_days: int = 0) -> int:
    """Whole days past the due date (paying on the due date itself is on time)."""
    if due_date is None:
        return 0
    return max(0, (today - due_date).days - grace_days)


@dataclass(frozen=True, slots=True)
class PrincipalPaid:
    """Principal of a bill paid on business date ``on`` and still standing (net of what
    was refunded or reversed since)."""

    on: date
    amount_fen: int


@dataclass(frozen=True, slots=True)
class LateFeeRule:
    """How a bill's late fee grows.

    * ``daily_bps``: ``bps_per_day`` basis points of the outstanding principal for each day
      overdue, rounded half up to the fen, capped at ``cap_bps`` of the principal and/or
      ``cap_fen``. The administrative-fine rule (3% a day, never more than the fine) is
      ``LateFeeRule.daily(300, cap_bps=10_000)``.
    * ``fixed``: ``fixed_fen`` once the bill is overdue.
    """

    kind: LateFeeKind = LateFeeKind.NONE
    bps_per_day: int = 0
    cap_bps: int | None = None
    cap_fen: int | None = None
    fixed_fen: int = 0
    grace_days: int = 0

    def __post_init__(self) -> None:
        if self.bps_per_day < 0 or self.fixed_fen < 0 or self.grace_days < 0:
            raise InvalidInput("late_fee: rates, fixed amounts and grace days cannot be negative")
        if self.cap_bps is not None and self.cap_bps < 0:
            raise InvalidInput("late_fee: cap_bps cannot be negative")
        if self.cap_fen is not None and self.cap_fen < 0:
            raise InvalidInput("late_fee: cap_fen cannot be negative")
        if self.kind is LateFeeKind.DAILY_BPS and self.bps_per_day == 0:
            raise InvalidInput("late_fee: a daily rule needs bps_per_day > 0")

    @classmethod
    def none(cls) -> LateFeeRule:
        return cls()

    @classmethod
    def daily(
        cls,
        bps_per_day: int,
        *,
        cap_bps: int | None = None,
        cap_fen: int | None = None,
        grace_days: int = 0,
    ) -> LateFeeRule:
        return cls(
            LateFeeKind.DAILY_BPS,
            bps_per_day=bps_per_day,
            cap_bps=cap_bps,
            cap_fen=cap_fen,
            grace_days=grace_days,
        )

    @classmethod
    def fixed(cls, fixed_fen: int, *, grace_days: int = 0) -> LateFeeRule:
        return cls(LateFeeKind.FIXED, fixed_fen=fixed_fen, grace_days=grace_days)

    @classmethod
    def parse(cls, text: str | None, *, field: str = "late_fee") -> LateFeeRule:
        """Parse the import form: ``""``/``none``, ``daily:5bps``, ``daily:300bps:cap=100%``,
        ``daily:5bps:cap=50.00``, ``fixed:20.00``; an optional ``:grace=3`` suffix."""
        from billfold.money import parse_yuan

        raw = (text or "").strip().lower()
        if raw in ("", "none"):
            return cls.none()
        parts = raw.split(":")
        grace = 0
        cap_bps: int | None = None
        cap_fen: int | None = None
        rest: list[str] = []
        for part in parts[1:]:
            if part.startswith("grace="):
                grace = _int(part[6:], field)
            elif part.startswith("capbps="):
                cap_bps = _int(part[7:], field)
            elif part.startswith("cap="):
                cap = part[4:]
                if cap.endswith("%"):
                    cap_bps = _int(cap[:-1], field) * 100
                else:
                    cap_fen = parse_yuan(cap, field=f"{field} cap")
            else:
                rest.append(part)
        if parts[0] == "daily" and len(rest) == 1 and rest[0].endswith("bps"):
            return cls.daily(
                _int(rest[0][:-3], field), cap_bps=cap_bps, cap_fen=cap_fen, grace_days=grace
            )
        if parts[0] == "fixed" and len(rest) == 1:
            return cls.fixed(parse_yuan(rest[0], field=field), grace_days=grace)
        raise InvalidInput(
            f"{field}: {text!r} is not a late-fee rule "
            "(use none, daily:5bps, daily:300bps:cap=100%, or fixed:20.00)"
        )

    def describe(self) -> str:
        from billfold.money import format_yuan

        if self.kind is LateFeeKind.NONE:
            return "none"
        suffix = f":grace={self.grace_days}" if self.grace_days else ""
        if self.kind is LateFeeKind.FIXED:
            return f"fixed:{format_yuan(self.fixed_fen)}{suffix}"
        text = f"daily:{self.bps_per_day}bps"
        if self.cap_bps is not None:
            exact = self.cap_bps % 100 == 0
            text += f":cap={self.cap_bps // 100}%" if exact else f":capbps={self.cap_bps}"
        if self.cap_fen is not None:
            text += f":cap={format_yuan(self.cap_fen)}"
        return text + suffix

    def compute(self, principal_fen: int, due_date: date | None, today: date) -> int:
        """The late fee on ``principal_fen`` left wholly unpaid, as of business date ``today``
        (a quote: no payments)."""
        return self.accrued(principal_fen, principal_fen, (), due_date, today)

    def accrued(
        self,
        principal_fen: int,
        owed_now_fen: int,
        paid: Sequence[PrincipalPaid],
        due_date: date | None,
        today: date,
    ) -> int:
        """The late fee accrued over the bill's life up to business date ``today`` (before
        subtracting late fees paid): each overdue date accrues on the principal owed at its
        start — ``owed_now_fen`` plus what ``paid`` paid on or after that date — and the
        total is rounded half up to the fen once, then capped on ``principal_fen``, the
        bill's original principal."""
        if self.kind is LateFeeKind.NONE or due_date is None:
            return 0
        first = due_date + timedelta(days=self.grace_days + 1)  # the first overdue date
        if today < first:
            return 0

        def owed_on(day: date) -> int:
            return owed_now_fen + sum(p.amount_fen for p in paid if p.on >= day)

        if self.kind is LateFeeKind.FIXED:
            return self.fixed_fen if owed_on(first) > 0 else 0
        # principal × days, a stretch at a time: what is owed changes the day after a payment
        after = {p.on + timedelta(1) for p in paid}
        cuts = [*sorted(day for day in after if first < day <= today), today + timedelta(1)]
        fen_days, start = 0, first
        for cut in cuts:
            fen_days += max(0, owed_on(start)) * (cut - start).days
            start = cut
        return self._capped(round_half_up_div(fen_days * self.bps_per_day, 10_000), principal_fen)

    def _capped(self, fee: int, principal_fen: int) -> int:
        if self.cap_bps is not None:
            fee = min(fee, round_half_up_div(principal_fen * self.cap_bps, 10_000))
        if self.cap_fen is not None:
            fee = min(fee, self.cap_fen)
        return fee


def _int(text: str, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"{field}: {text!r} is not a whole number") from None
