"""Migrated in-memory SQLite databases without running the migrations each time.

Property tests build a fresh database for every example; running every Alembic migration for
each one cost most of their time. :func:`migrated_memory_engine` migrates one in-memory
database per process and copies it, page for page (SQLite's backup API), into each new one:
the same schema, indexes, triggers and ``alembic_version`` row as ``upgrade=True`` gives.
The migrations themselves are tested in tests/integration/adapters/db.
"""

from __future__ import annotations

import sqlite3
from functools import cache

from billfold.adapters.db.connect import make_engine
from billfold.clock import FixedClock
from billfold.engine import Engine


@cache
def _image() -> sqlite3.Connection:
    """This process's migrated database, kept open (an in-memory database lives as long as
    its connection)."""
    engine = Engine.from_url("sqlite://", upgrade=True)
    target = sqlite3.connect(":memory:", check_same_thread=False)
    with engine.db.connect() as conn:
        source = conn.connection.driver_connection
        assert isinstance(source, sqlite3.Connection)
        source.backup(target)
    engine.close()
    return target


def migrated_memory_engine(clock: FixedClock) -> Engine:
    """A new billfold :class:`Engine` on its own in-memory SQLite database, migrated to the
    newest schema (what ``Engine.from_url("sqlite://", upgrade=True)`` gives)."""
    engine = Engine(make_engine("sqlite://"), clock)
    # an in-memory engine has one connection (StaticPool): the copy is what every unit of
    # work then sees
    with engine.db.connect() as conn:
        target = conn.connection.driver_connection
        assert isinstance(target, sqlite3.Connection)
        _image().backup(target)
    return engine
