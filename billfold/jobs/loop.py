"""Single-machine mode: every duty in this one process, on a simple schedule loop.

What ``billfold worker`` does on SQLite (which serves one process): the same
:class:`~billfold.jobs.duties.Duties` the scale-out mode runs as procrastinate tasks, one
after another, each when its schedule says (:func:`~billfold.jobs.schedule.next_run`).
A duty that fails is logged and tried again at its next time; the loop goes on.
``stop`` ends it after the duty in hand.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from billfold.jobs.duties import Duties
from billfold.jobs.schedule import DUTIES, After, Daily, Every, next_run

__all__ = ["run_all_once", "run_loop"]

log = structlog.get_logger("billfold.jobs")


def run_all_once(duties: Duties) -> dict[str, dict[str, object]]:
    """Every scheduled duty once, in :data:`DUTIES` order (``billfold worker --once``)."""
    done: dict[str, dict[str, object]] = {}
    for duty in DUTIES:
        schedule = duties.config.schedule(duty)
        if isinstance(schedule, Every | Daily) and not duties.stop.is_set():
            done[duty] = _run(duties, duty)
    return done


def run_loop(duties: Duties, *, poll_seconds: float = 1.0) -> None:
    """Run the duties on their schedules until ``duties.stop`` is set.

    Periodic duties run at once on start, daily ones at their next time of day."""
    zone = duties.config.timezone
    now = duties.engine.clock.now()
    due: dict[str, datetime] = {}
    for duty in DUTIES:
        schedule = duties.config.schedule(duty)
        if isinstance(schedule, Every):
            due[duty] = now
        elif isinstance(schedule, Daily):
            due[duty] = next_run(schedule, zone, now)
    while not duties.stop.is_set():
        for duty, when in sorted(due.items(), key=lambda item: DUTIES.index(item[0])):
            now = duties.engine.clock.now()
            if when > now or duties.stop.is_set():
                continue
            _run(duties, duty)
            schedule = duties.config.schedule(duty)
            if isinstance(schedule, Every | Daily):
                due[duty] = next_run(schedule, zone, duties.engine.clock.now())
        wait = min(due.values(), default=None)
        seconds = (
            poll_seconds if wait is None else (wait - duties.engine.clock.now()).total_seconds()
        )
        duties.stop.wait(min(max(seconds, 0.05), poll_seconds))


def _run(duties: Duties, duty: str) -> dict[str, object]:
    try:
        summary = duties.run(duty)
    except Exception:  # logged by Duties.run; the next time comes round regardless
        return {"failed": True}
    if duty == "reconcile" and isinstance(duties.config.schedule("settle"), After):
        for day in summary.get("dates", []):
            _run_settle(duties, str(day))
    return summary


def _run_settle(duties: Duties, day: str) -> None:
    try:
        duties.run("settle", on=day)
    except Exception:  # logged by Duties.run
        return
