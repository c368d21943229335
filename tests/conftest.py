"""Shared fixtures: every database test runs on SQLite, and on PostgreSQL when
``BILLFOLD_TEST_PG_URL`` is set (a database of its own is created and dropped per run)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.adapters.db.schema import metadata
from billfold.clock import FixedClock
from billfold.engine import Engine
from billfold.logging import configure_logging
from billfold.testing import scratch_pg_database

PG_URL = os.environ.get("BILLFOLD_TEST_PG_URL")


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "billfold.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_migrated")
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    # the journal refuses TRUNCATE (append-only): the fixture lifts its guard for this one
    # transaction, as only the tables' owner can
    journal = ("journal_entries", "journal_postings")
    with engine.begin() as conn:
        for table in journal:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        for table in journal:
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    engine.dispose()
    return url


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
