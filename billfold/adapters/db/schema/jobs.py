"""``billfold worker``'s heartbeat: one row per worker, touched every few seconds.

``/readyz`` reads the newest ``beat_at`` (:func:`billfold.adapters.db.readiness.
worker_heartbeat_age`). A worker that stops cleanly keeps its row: an old beat is what
says no worker is running. Migration 0013 creates the table (and, on PostgreSQL,
procrastinate's own tables, which billfold does not model here).
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table

from billfold.adapters.db.schema.base import TS, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = ["worker_heartbeats"]

worker_heartbeats = Table(
    "worker_heartbeats",
    metadata,
    Column("worker", String(128), primary_key=True),  # host:pid, or the --name given
    Column("mode", String(16), nullable=False),  # "procrastinate" or "single-machine"
    Column("host", String(64), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", TS, nullable=False),
    Column("beat_at", TS, nullable=False, index=True),
)

add_checks(worker_heartbeats)
