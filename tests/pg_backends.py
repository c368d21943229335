"""Killing a pool's PostgreSQL connections from the server's side, for the liveness tests
(a server restart or a dropped network hop, as the pool finds it)."""

from __future__ import annotations

from sqlalchemy import text

from billfold import Engine
from billfold.adapters.db.connect import make_engine


def terminate_idle_backends(engine: Engine) -> int:
    """``pg_terminate_backend`` every idle connection to the engine's database (its pool's);
    how many were killed."""
    with make_engine(engine.db.url.render_as_string(hide_password=False)).connect() as admin:
        killed = admin.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND state = 'idle'"
            )
        ).scalar_one()
        admin.rollback()
    return int(killed)
