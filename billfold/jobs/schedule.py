"""When each background duty runs: the schedule, its text form, and its defaults.

A duty's schedule is one of (text form in quotes, as written in the worker's config file):

* ``"continuous"`` — the outbox: a pass every few seconds (``continuous_seconds``, 5 by
  default), each pass draining what is due;
* ``"every 30s"``, ``"every 5m"``, ``"every 1h"`` — a fixed period; it must divide a minute,
  an hour or a day evenly (so that it reads as a cron field, the same on every worker);
* ``"daily 10:00"`` — once a day at that wall-clock time in the configured timezone (the
  billers' timezone, Asia/Shanghai by default);
* ``"after reconcile"`` — settlement drafts only: right after the reconciliation duty
  reconciled statements, for their business dates;
* ``"off"`` — never.

:func:`cron` turns a schedule into the cron line procrastinate's periodic tasks take (UTC,
six fields when it counts seconds); :func:`next_run` is what the single-machine loop uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from billfold.errors import ConfigurationError

__all__ = [
    "DEFAULTS",
    "DUTIES",
    "After",
    "Daily",
    "Every",
    "Off",
    "Schedule",
    "cron",
    "next_run",
    "parse_schedule",
]


@dataclass(frozen=True, slots=True)
class Every:
    seconds: int

    def __str__(self) -> str:
        for unit, size in (("h", 3600), ("m", 60)):
            if self.seconds % size == 0:
                return f"every {self.seconds // size}{unit}"
        return f"every {self.seconds}s"


@dataclass(frozen=True, slots=True)
class Daily:
    at: time

    def __str__(self) -> str:
        return f"daily {self.at:%H:%M}"


@dataclass(frozen=True, slots=True)
class After:
    duty: str

    def __str__(self) -> str:
        return f"after {self.duty}"


@dataclass(frozen=True, slots=True)
class Off:
    def __str__(self) -> str:
        return "off"


Schedule = Every | Daily | After | Off

#: Every duty ``billfold worker`` knows, in the order the single-machine loop runs them.
DUTIES = (
    "outbox",
    "expiry",
    "requery",
    "refunds",
    "autodebit",
    "bureau",
    "reminders",
    "nonces",
    "reconcile",
    "settle",
)

#: The schedules used when the config file says nothing (see docs/jobs.md).
DEFAULTS: dict[str, str] = {
    "outbox": "continuous",
    "expiry": "every 1m",
    "requery": "every 5m",
    "refunds": "every 5m",
    # each debit is due at its own time (the start of the bill's due date in the biller's
    # timezone); the duty looks for what became due this often
    "autodebit": "every 15m",
    "bureau": "every 1m",
    # payer reminders: today's due/overdue reminders are written once per bill and day
    # (in each biller's timezone); issued and paid receipts go as their events come
    "reminders": "every 1m",
    "nonces": "every 1h",
    "reconcile": "daily 10:00",
    "settle": "after reconcile",
}

_EVERY = re.compile(r"every\s+(\d+)\s*([smh])")
_DAILY = re.compile(r"daily\s+(\d{1,2}):(\d{2})")
_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_schedule(duty: str, text: str, *, continuous_seconds: int = 5) -> Schedule:
    """The schedule ``text`` says for ``duty``; a clear error naming both when it is wrong."""
    spoken = " ".join(text.strip().lower().split())
    where = f"schedule.{duty}"
    if spoken == "off":
        return Off()
    if spoken == "continuous":
        if duty != "outbox":
            raise ConfigurationError(f"{where}: 'continuous' is for the outbox only")
        return _every(where, continuous_seconds)
    if spoken.startswith("after "):
        if (duty, spoken) != ("settle", "after reconcile"):
            raise ConfigurationError(f"{where}: only settle may run 'after reconcile'")
        return After("reconcile")
    if found := _EVERY.fullmatch(spoken):
        return _every(where, int(found[1]) * _UNITS[found[2]])
    if found := _DAILY.fullmatch(spoken):
        hour, minute = int(found[1]), int(found[2])
        if hour > 23 or minute > 59:
            raise ConfigurationError(f"{where}: {text!r} is not a time of day")
        return Daily(time(hour, minute))
    raise ConfigurationError(
        f"{where}: {text!r} is not a schedule; write 'every 5m', 'daily 10:00', 'off'"
        + (", 'continuous'" if duty == "outbox" else "")
        + (", 'after reconcile'" if duty == "settle" else "")
    )


def _every(where: str, seconds: int) -> Every:
    fits = (
        (0 < seconds < 60 and 60 % seconds == 0)
        or (60 <= seconds < 3600 and seconds % 60 == 0 and 60 % (seconds // 60) == 0)
        or (3600 <= seconds <= 86400 and seconds % 3600 == 0 and 24 % (seconds // 3600) == 0)
    )
    if not fits:
        raise ConfigurationError(
            f"{where}: every {seconds} s does not divide a minute, an hour or a day evenly "
            "(1-30 s, 1-30 m, 1-24 h dividing 60 or 24)"
        )
    return Every(seconds)


def cron(schedule: Every | Daily, zone: str, today: datetime) -> str:
    """The UTC cron line for ``schedule`` (procrastinate reads cron in UTC).

    A daily time is converted with ``zone``'s UTC offset on ``today``: exact for zones
    without daylight saving (Asia/Shanghai); elsewhere restart workers when clocks change.
    """
    if isinstance(schedule, Daily):
        local = datetime.combine(today.astimezone(ZoneInfo(zone)).date(), schedule.at)
        utc = local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        return f"{utc.minute} {utc.hour} * * *"
    seconds = schedule.seconds
    if seconds < 60:
        return f"* * * * * */{seconds}"
    if seconds < 3600:
        return f"*/{seconds // 60} * * * *"
    if seconds == 86400:
        return "0 0 * * *"
    return f"0 */{seconds // 3600} * * *"


def next_run(schedule: Every | Daily, zone: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` the schedule fires (aware UTC).

    Periods are aligned like cron (a 5-minute duty fires at :00, :05 ... UTC), so the
    single-machine loop and procrastinate's workers agree on when a duty runs.
    """
    after = after.astimezone(UTC)
    if isinstance(schedule, Every):
        epoch = int(after.timestamp())
        return datetime.fromtimestamp(epoch - epoch % schedule.seconds + schedule.seconds, UTC)
    tz = ZoneInfo(zone)
    local_day = after.astimezone(tz).date()
    for offset in (0, 1, 2):
        candidate = datetime.combine(local_day + timedelta(days=offset), schedule.at, tz)
        if candidate.astimezone(UTC) > after:
            return candidate.astimezone(UTC)
    raise ConfigurationError(f"{schedule} never fires in {zone}")  # pragma: no cover
