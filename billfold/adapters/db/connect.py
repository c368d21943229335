"""Creating database engines: SQLite (file or memory) by default, PostgreSQL in production."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from billfold.errors import ConfigurationError
from billfold.extras import requires_extra

__all__ = ["DEFAULT_DATABASE_URL", "database_url_from_env", "make_engine"]

DEFAULT_DATABASE_URL = "sqlite:///billfold.db"
#: PostgreSQL connections older than this are closed and replaced when next taken from the
#: pool (below the usual idle timeouts of servers, proxies and firewalls)
POOL_RECYCLE_S = 1800
#: Key of a SQLite connection's ``Connection.info``: its ``total_changes`` when its transaction
#: began (see :func:`~.sqlite_columns.snapshot_file`)
BEGUN_AT = "billfold_sqlite_changes_at_begin"


def database_url_from_env(explicit: str | None = None) -> str:
    return explicit or os.environ.get("BILLFOLD_DATABASE_URL") or DEFAULT_DATABASE_URL


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine whose write transactions serialize correctly on SQLite.

    SQLite: ``BEGIN IMMEDIATE`` for every transaction (so two writers never both read and then
    fail to upgrade their lock), WAL for files, foreign keys on, a busy timeout.
    PostgreSQL URLs ``postgresql://`` use psycopg 3 (the ``postgres`` extra).
    """
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("postgresql+psycopg"):
        _require_psycopg()
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, echo=echo, **kwargs)
        _sqlite_pragmas(engine, wal=not memory)
        return engine
    # No ping per checkout (a round trip per unit of work): connections are replaced after
    # POOL_RECYCLE_S, and one found dead in use is invalidated with the pool's older ones;
    # the confirmation is run once more on a fresh one (liveness.once_more_if_dead)
    return create_engine(url, echo=echo, pool_recycle=POOL_RECYCLE_S, pool_size=10, max_overflow=20)


def _require_psycopg() -> None:
    """psycopg is importable and found a libpq, or a one-line error says what to install."""
    with requires_extra("postgres"):
        try:
            import psycopg  # noqa: F401
        except ModuleNotFoundError:
            raise
        except ImportError as exc:  # psycopg is there, but no libpq to drive
            raise ConfigurationError(
                f"psycopg cannot load libpq ({exc}): install the system's libpq "
                "(Debian: libpq5) or pip install 'billfold[postgres-binary]'"
            ) from None


def _sqlite_pragmas(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        raw = conn.connection.driver_connection
        raw.execute("BEGIN IMMEDIATE")
        # rows changed before now: sqlite_columns.snapshot_file tells from it whether the
        # transaction has changed anything yet
        conn.info[BEGUN_AT] = raw.total_changes
