"""Whether a database is ready for this billfold: migrated, and to the revision it ships.

Checked against Alembic's version table when a command opens the engine, so that a database
nobody has set up yet is answered with what to run, not with "no such table" from deep inside
the first query.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from billfold.adapters.db import migrate
from billfold.clock import ensure_utc

__all__ = ["unready_reason", "worker_heartbeat_age"]

UPGRADE = "run `billfold db upgrade`"


def unready_reason(db: Engine, url: str) -> str | None:
    """Why billfold cannot work on ``db`` yet, or ``None`` when it is at the newest revision.

    ``url`` is the address as the user gave it; it is shown (password hidden) in the answer.
    """
    with db.connect() as conn:
        current = migrate.stored_heads(conn)
    if current == list(migrate.HEADS):
        return None  # the usual answer, given without reading the migration scripts
    shipped_heads, known = migrate.shipped()
    heads = list(shipped_heads)
    if not current:
        shown = make_url(url).render_as_string(hide_password=True)
        return f"the database at {shown} is not set up (no billfold tables): {UPGRADE}"
    if current == heads:
        return None
    have, need = ",".join(current), ",".join(heads)
    if all(rev in known for rev in current):
        return f"database at revision {have}, billfold needs {need}: {UPGRADE}"
    return (
        f"database at revision {have}, which this billfold does not know (it goes up to "
        f"{need}): use the billfold that migrated it, or a newer one"
    )


def worker_heartbeat_age(db: Engine, now: datetime) -> timedelta | None:
    """How long ago the most recent ``billfold worker`` heartbeat was written, as seen at
    ``now``; ``None`` when no worker ever beat on this database.

    Every worker beats every few seconds (``--heartbeat``, 10 s by default), so an age of a
    few beats means no worker is running. Reads only ``worker_heartbeats``.
    """
    from billfold.adapters.db.schema.jobs import worker_heartbeats  # every table's module

    with db.connect() as conn:
        newest = conn.execute(select(func.max(worker_heartbeats.c.beat_at))).scalar_one()
    if newest is None:
        return None
    return ensure_utc(now) - ensure_utc(newest)
