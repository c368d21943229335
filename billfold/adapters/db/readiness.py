"""Whether a database is ready for this billfold: migrated, and to the revision it ships.

Checked against Alembic's version table when a command opens the engine, so that a database
nobody has set up yet is answered with what to run, not with "no such table" from deep inside
the first query.
"""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url

from billfold.adapters.db import migrate

__all__ = ["HEARTBEATS_TABLE", "unready_reason", "worker_heartbeat_age"]

UPGRADE = "run `billfold db upgrade`"
#: Where ``billfold worker`` processes record that they are alive.
HEARTBEATS_TABLE = "worker_heartbeats"


def unready_reason(db: Engine, url: str) -> str | None:
    """Why billfold cannot work on ``db`` yet, or ``None`` when it is at the newest revision.

    ``url`` is the address as the user gave it; it is shown (password hidden) in the answer.
    """
    with db.connect() as conn:
        current = sorted(MigrationContext.configure(conn).get_current_heads())
    script = ScriptDirectory.from_config(migrate.alembic_config())
    heads = sorted(script.get_heads())
    if not current:
        shown = make_url(url).render_as_string(hide_password=True)
        return f"the database at {shown} is not set up (no billfold tables): {UPGRADE}"
    if current == heads:
        return None
    have, need = ",".join(current), ",".join(heads)
    known = {rev.revision for rev in script.walk_revisions()}
    if all(rev in known for rev in current):
        return f"database at revision {have}, billfold needs {need}: {UPGRADE}"
    return (
        f"database at revision {have}, which this billfold does not know (it goes up to "
        f"{need}): use the billfold that migrated it, or a newer one"
    )


def worker_heartbeat_age(db: Engine) -> float | None:
    """Seconds since the newest ``billfold worker`` heartbeat, or ``None`` when no worker
    reports one here (no heartbeat table: this billfold runs no workers).

    A stub until ``billfold worker`` and its ``worker_heartbeats`` table land: it answers
    ``None`` when the table does not exist, and ``None`` otherwise too (the worker's own
    implementation, merged over this one, reads the table)."""
    with db.connect() as conn:
        if not inspect(conn).has_table(HEARTBEATS_TABLE):
            return None
    return None
