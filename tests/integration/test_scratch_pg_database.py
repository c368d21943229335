"""billfold.testing.scratch_pg_database: a PostgreSQL database that lives only inside a block."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from billfold.testing import scratch_pg_database

PG_URL = os.environ.get("BILLFOLD_TEST_PG_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="BILLFOLD_TEST_PG_URL is not set")


def _database_names() -> set[str]:
    assert PG_URL
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"))
    try:
        with admin.connect() as conn:
            return set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    finally:
        admin.dispose()


@pytest.mark.pg
@needs_pg
def test_scratch_database_exists_inside_the_block_and_is_dropped_after() -> None:
    assert PG_URL
    with scratch_pg_database(PG_URL, "scratch_check") as url:
        name = make_url(url).database
        assert name is not None and name.startswith(f"scratch_check_{os.getpid()}_")
        assert make_url(url).drivername == "postgresql+psycopg"
        engine = create_engine(url)
        # a connection still open at the end must not stop the drop
        held = engine.connect()
        held.execute(text("CREATE TABLE t (x int)"))
        held.commit()
        assert name in _database_names()
    assert name not in _database_names()
    held.invalidate()
    engine.dispose()


@pytest.mark.pg
@needs_pg
def test_scratch_database_is_dropped_when_the_block_raises() -> None:
    assert PG_URL
    name = None
    with (
        pytest.raises(RuntimeError, match="boom"),
        scratch_pg_database(PG_URL, "scratch_raise") as url,
    ):
        name = make_url(url).database
        raise RuntimeError("boom")
    assert name is not None
    assert name not in _database_names()


def test_a_prefix_that_is_not_a_plain_identifier_is_refused_before_connecting() -> None:
    # the server URL points nowhere: the prefix is checked before any connection is tried
    with (
        pytest.raises(ValueError) as info,
        scratch_pg_database("postgresql://nobody@127.0.0.1:1/none", 'x"; DROP'),
    ):
        pass
    assert str(info.value) == (
        "database name prefix 'x\"; DROP' must be lower-case letters, digits and underscores, "
        "start with a letter and be at most 30 characters"
    )
