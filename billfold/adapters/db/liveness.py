"""Connection liveness without a ping per checkout (issue 16).

The pool hands out connections without a round trip to test them (``make_engine``: no
``pre_ping``; connections older than ``POOL_RECYCLE_S`` are replaced). A connection found
dead when used (the server restarted, the backend was terminated, a network hop dropped it)
fails that work only: :func:`once_more_if_dead` runs the work once more on a fresh
connection, when nothing of it can have been written — a unit of work that had not begun to
commit, or a read (:func:`watch_read`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

__all__ = ["ATTEMPT", "connection_died", "once_more_if_dead", "watch_read"]

T = TypeVar("T")


@dataclass
class _Attempt:
    """What the units of work of one :func:`once_more_if_dead` attempt did."""

    committing: bool = False  # a COMMIT was sent (or about to be): its outcome is unknown
    dead: bool = False  # a unit of work failed because its connection was dead


#: The attempt of the innermost :func:`once_more_if_dead` (units of work note on it).
ATTEMPT: ContextVar[_Attempt | None] = ContextVar("billfold_uow_attempt", default=None)


def connection_died(conn: Connection, exc: BaseException | None) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if conn.invalidated:
        return True
    try:
        driver = conn.connection.driver_connection
    except Exception:  # no connection to ask: it is gone
        return True
    return bool(getattr(driver, "closed", False) or getattr(driver, "broken", False))


def _database_error(exc: BaseException) -> bool:
    """An error the database driver raised (through SQLAlchemy or the fast path)."""
    return isinstance(exc, DBAPIError) or type(exc).__module__.split(".")[0] == "psycopg"


@contextmanager
def watch_read(conn: Connection) -> Iterator[None]:
    """Around a read on ``conn`` outside a unit of work (an autocommit SELECT sent by the
    fast path, which SQLAlchemy's own disconnect handling does not see): if it fails because
    the connection is dead, the attempt is marked for :func:`once_more_if_dead`, and the
    engine's pool is replaced — the pool's other idle connections are as old as this one
    and most likely dead too (a restarted server, a dropped network); a unit of work's
    failure does the same through SQLAlchemy's rollback (``invalidate_pool_on_disconnect``).
    The old pool is dropped without closing what it holds (connections in use elsewhere
    finish their work and are closed when returned)."""
    try:
        yield
    except Exception as exc:
        if _database_error(exc) and connection_died(conn, exc):
            attempt = ATTEMPT.get()
            if attempt is not None:
                attempt.dead = True
            conn.invalidate()
            conn.engine.dispose(close=False)
        raise


def once_more_if_dead(work: Callable[[], T]) -> T:
    """Run ``work`` (units of work on this engine's pool); if it failed because the pooled
    connection it was given was dead (the server restarted, the backend was terminated, a
    network hop dropped it) *before any of its units of work began to commit*, run it
    once more on a fresh connection. Nothing was written by the failed attempt (its
    transaction died with the connection), so running it again is what the caller would
    do — done here instead of pinging every connection as it leaves the pool."""
    attempt = _Attempt()
    token = ATTEMPT.set(attempt)
    try:
        try:
            return work()
        except Exception as exc:
            if not (attempt.dead and _database_error(exc)) or attempt.committing:
                raise
            import structlog  # imported when there is something to log

            structlog.get_logger("billfold.db").warning(
                "database connection lost; running the unit of work again", error=str(exc)
            )
        ATTEMPT.set(_Attempt())
        return work()
    finally:
        ATTEMPT.reset(token)
