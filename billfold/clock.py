"""Injected time. Everything that needs "now" asks a :class:`Clock`.

Timestamps are stored in UTC; business dates are computed in a biller's timezone
(Asia/Shanghai by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_TZ",
    "Clock",
    "FixedClock",
    "SystemClock",
    "business_date",
    "ensure_utc",
    "start_of_business_day",
]

DEFAULT_TZ = "Asia/Shanghai"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock (freezegun can still freeze it in tests)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that only moves when told to. Shipped for tests of embedding code."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 2, 0, tzinfo=UTC))

    def __post_init__(self) -> None:
        self.current = ensure_utc(self.current)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.current = self.current + (delta or timedelta(**kwargs))
        return self.current

    def set(self, when: datetime) -> None:
        self.current = ensure_utc(when)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def business_date(instant: datetime, tz: str = DEFAULT_TZ) -> date:
    """The calendar date of ``instant`` in the business timezone ``tz``."""
    return ensure_utc(instant).astimezone(ZoneInfo(tz)).date()


def start_of_business_day(day: date, tz: str = DEFAULT_TZ) -> datetime:
    """The UTC instant at which ``day`` starts in ``tz``."""
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


def end_of_business_day(day: date, tz: str = DEFAULT_TZ) -> datetime:
    return start_of_business_day(day + timedelta(days=1), tz)
