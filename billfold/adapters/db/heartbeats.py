"""Writing a worker's heartbeat (``worker_heartbeats``): one upsert per beat.

``billfold worker`` calls :func:`beat` every few seconds from a thread of its own, in a
transaction of its own, so a long duty never delays it. Reading is
:func:`billfold.adapters.db.readiness.worker_heartbeat_age`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from billfold.adapters.db.schema.jobs import worker_heartbeats

__all__ = ["beat"]


def beat(db: Engine, worker: str, *, mode: str, host: str, pid: int, now: datetime) -> None:
    """Record that ``worker`` is alive at ``now`` (the first beat also sets ``started_at``)."""
    row = {
        "worker": worker,
        "mode": mode,
        "host": host[:64],
        "pid": pid,
        "started_at": now,
        "beat_at": now,
    }
    with db.begin() as conn:
        touched = conn.execute(
            update(worker_heartbeats)
            .where(worker_heartbeats.c.worker == worker, worker_heartbeats.c.pid == pid)
            .values(beat_at=now, mode=mode)
        ).rowcount
        if touched:
            return
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(worker_heartbeats).values(row)
        # the name came back with a new process: it starts afresh
        conn.execute(stmt.on_conflict_do_update(index_elements=["worker"], set_=row))
