"""Late fees (滞纳金): a rule, applied to what is still owed, on a given business date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from billfold.errors import InvalidInput
from billfold.merchants.fees import round_half_up_div

__all__ = ["LateFeeKind", "LateFeeRule", "days_overdue"]


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
        """The late fee owed on ``principal_fen`` still unpaid, as of business date ``today``."""
        if principal_fen <= 0 or self.kind is LateFeeKind.NONE:
            return 0
        days = days_overdue(due_date, today, self.grace_days)
        if days == 0:
            return 0
        if self.kind is LateFeeKind.FIXED:
            return self.fixed_fen
        fee = round_half_up_div(principal_fen * self.bps_per_day * days, 10_000)
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
