"""The worker heartbeat: written by ``billfold worker``, its age read for ``/readyz``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from billfold import Engine
from billfold.adapters.db.heartbeats import beat
from billfold.adapters.db.readiness import worker_heartbeat_age
from billfold.adapters.db.schema.jobs import worker_heartbeats

T0 = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)


def test_no_worker_ever_beat_gives_no_age(engine: Engine) -> None:
    assert worker_heartbeat_age(engine.db, T0) is None


def test_the_age_is_that_of_the_newest_beat_of_any_worker(engine: Engine) -> None:
    beat(engine.db, "a:1", mode="procrastinate", host="a", pid=1, now=T0)
    beat(engine.db, "b:2", mode="procrastinate", host="b", pid=2, now=T0 + timedelta(seconds=20))
    beat(engine.db, "a:1", mode="procrastinate", host="a", pid=1, now=T0 + timedelta(seconds=25))
    assert worker_heartbeat_age(engine.db, T0 + timedelta(seconds=40)) == timedelta(seconds=15)
    with engine.db.connect() as conn:
        rows = conn.execute(select(worker_heartbeats).order_by(worker_heartbeats.c.worker)).all()
    assert [(r.worker, r.started_at, r.beat_at) for r in rows] == [
        ("a:1", T0, T0 + timedelta(seconds=25)),
        ("b:2", T0 + timedelta(seconds=20), T0 + timedelta(seconds=20)),
    ]


def test_a_name_back_with_a_new_process_starts_afresh(engine: Engine) -> None:
    beat(engine.db, "w", mode="single-machine", host="h", pid=1, now=T0)
    later = T0 + timedelta(hours=1)
    beat(engine.db, "w", mode="procrastinate", host="h", pid=2, now=later)
    with engine.db.connect() as conn:
        [row] = conn.execute(select(worker_heartbeats)).all()
    assert (row.pid, row.mode, row.started_at, row.beat_at) == (2, "procrastinate", later, later)
