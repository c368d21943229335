"""Shared fixtures: every database test runs on SQLite, and on PostgreSQL when
``BILLFOLD_TEST_PG_URL`` is set (a database of its own is created and dropped per run)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text

from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.adapters.db.schema import metadata
from billfold.clock import FixedClock
from billfold.engine import Engine
from billfold.logging import configure_logging
from billfold.testing import scratch_pg_database

PG_URL = os.environ.get("BILLFOLD_TEST_PG_URL")

# Hypothesis's timing checks (a 200 ms deadline per example, a health check on slow input
# generation) fail on a loaded machine, and more so with the suite on every core: tests never
# assert timings. Every other health check, and every test's number of examples, stay.
settings.register_profile("billfold", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("billfold")


@pytest.fixture(autouse=True)
def production_logging() -> None:
    """Each test starts with production logging (JSON, info and up), whatever the test before
    it configured (a command line configures warnings only)."""
    configure_logging(json=True, level="INFO")


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    if not PG_URL:
        pytest.skip("BILLFOLD_TEST_PG_URL is not set")
    with scratch_pg_database(PG_URL, "billfold_test") as url:
        yield url


@pytest.fixture(scope="session")
def pg_migrated(pg_database: str) -> str:
    engine = make_engine(pg_database)
    migrate.upgrade(engine)
    engine.dispose()
    return pg_database


@pytest.fixture
def pg_fresh() -> Iterator[str]:
    """A migrated PostgreSQL database of the test's own, never analysed (as a new
    installation's), dropped after the test."""
    if not PG_URL:
        pytest.skip("BILLFOLD_TEST_PG_URL is not set")
    with scratch_pg_database(PG_URL, "billfold_fresh") as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


class PgEmptier:
    """Empties billfold's tables in the run's PostgreSQL database, as ``TRUNCATE … RESTART
    IDENTITY`` would: every row deleted and every id sequence of those tables back at its
    start. DELETE rather than TRUNCATE: TRUNCATE gives each of the 57 tables a new file and
    syncs it to disk, many times slower than deleting the few rows a test wrote (as
    billfold.testing.crash.PostgresScratch found too)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = make_engine(url)
        names = [table.name for table in metadata.sorted_tables]
        with self.db.connect() as conn:
            # the append-only tables (journal, audit log) refuse a DELETE: their triggers are
            # lifted for the one transaction, as only the tables' owner can
            guarded = set(
                conn.execute(
                    text(
                        "SELECT DISTINCT c.relname FROM pg_trigger g "
                        "JOIN pg_class c ON c.oid = g.tgrelid "
                        "WHERE NOT g.tgisinternal AND c.relname = ANY(:names)"
                    ),
                    {"names": names},
                ).scalars()
            )
            sequences = conn.execute(
                text(
                    "SELECT s.seqrelid::regclass::text, s.seqstart FROM pg_sequence s "
                    "JOIN pg_depend d ON d.objid = s.seqrelid "
                    "AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
                    "JOIN pg_class c ON c.oid = d.refobjid WHERE c.relname = ANY(:names)"
                ),
                {"names": names},
            ).all()
        statements = [f'ALTER TABLE "{name}" DISABLE TRIGGER USER' for name in sorted(guarded)]
        # children before parents, so that no foreign key refuses a delete
        statements += [f'DELETE FROM "{name}"' for name in reversed(names)]
        # the deferred foreign-key checks the deletes queued run now: a table with pending
        # trigger events cannot be altered
        statements.append("SET CONSTRAINTS ALL IMMEDIATE")
        statements += [f'ALTER TABLE "{name}" ENABLE TRIGGER USER' for name in sorted(guarded)]
        statements += [f"SELECT setval('{seq}', {start}, false)" for seq, start in sequences]
        self.sql = ";\n".join(statements)

    def __call__(self) -> str:
        """Empty the database (one transaction, one round trip) and return its URL."""
        with self.db.begin() as conn:
            conn.connection.driver_connection.execute(self.sql)  # type: ignore[union-attr]
        # no connection kept between tests: some tests end every session on the database
        self.db.dispose()
        return self.url

    def close(self) -> None:
        self.db.dispose()


@pytest.fixture(scope="session")
def pg_empty(pg_migrated: str) -> Iterator[PgEmptier]:
    """``pg_empty()``: the run's migrated PostgreSQL database, emptied; its URL."""
    emptier = PgEmptier(pg_migrated)
    try:
        yield emptier
    finally:
        emptier.close()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "billfold.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    emptier: PgEmptier = request.getfixturevalue("pg_empty")
    return emptier()


@pytest.fixture
def clock() -> FixedClock:
    # 2026-09-01 10:00 in Asia/Shanghai
    return FixedClock(datetime(2026, 9, 1, 2, 0, tzinfo=UTC))


@pytest.fixture
def engine(db_url: str, clock: FixedClock) -> Iterator[Engine]:
    eng = Engine.from_url(db_url, clock=clock)
    try:
        yield eng
    finally:
        eng.close()
