"""Migration 0013: worker heartbeats on both databases, procrastinate's schema on PostgreSQL;
applied to a database holding data, and taken back off completely."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.testing import scratch_pg_database

PG_URL = os.environ.get("BILLFOLD_TEST_PG_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'b.db'}"
        return
    if not PG_URL:
        pytest.skip("BILLFOLD_TEST_PG_URL is not set")
    with scratch_pg_database(PG_URL, "billfold_mig13") as url:
        yield url


def procrastinate_objects(url: str) -> list[str]:
    db = make_engine(url)
    try:
        if db.dialect.name != "postgresql":
            return [t for t in inspect(db).get_table_names() if t.startswith("procrastinate")]
        with db.connect() as conn:
            return sorted(
                conn.execute(
                    text(
                        "SELECT relname FROM pg_class WHERE relname LIKE 'procrastinate%' "
                        "UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'procrastinate%' "
                        "UNION ALL SELECT typname FROM pg_type WHERE typname LIKE 'procrastinate%'"
                    )
                ).scalars()
            )
    finally:
        db.dispose()


def test_0013_upgrades_a_database_with_data_and_goes_back_off_cleanly(empty_url: str) -> None:
    db = make_engine(empty_url)
    try:
        # the biller is made at the head, by today's code (below 0018 billers have no
        # lookup_check, and the chain runs 0017, 0013, 0012, 0011, 0018), then read by SQL
        migrate.upgrade(db)
        engine = Engine(db)
        engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
        migrate.downgrade(db, "0017")
        assert "worker_heartbeats" not in inspect(db).get_table_names()
        migrate.upgrade(db)
        assert "worker_heartbeats" in inspect(db).get_table_names()
        assert [b.code for b in engine.billers()] == ["s1"]
        made = procrastinate_objects(empty_url)
        if db.dialect.name == "postgresql":
            assert {"procrastinate_jobs", "procrastinate_fetch_job_v2"} <= set(made)
        else:
            assert made == []

        migrate.downgrade(db, "0017")
        assert "worker_heartbeats" not in inspect(db).get_table_names()
        assert procrastinate_objects(empty_url) == []
        with db.connect() as conn:
            assert list(conn.execute(text("SELECT code FROM billers")).scalars()) == ["s1"]

        migrate.upgrade(db)  # and up again
        assert procrastinate_objects(empty_url) == made
    finally:
        db.dispose()


@pytest.mark.pg
def test_a_database_migrated_without_procrastinate_gets_its_tables_from_install_schema() -> None:
    if not PG_URL:
        pytest.skip("BILLFOLD_TEST_PG_URL is not set")
    from typer.testing import CliRunner

    from billfold.adapters.cli.app import app
    from billfold.adapters.jobs.schema import drop_schema

    with scratch_pg_database(PG_URL, "billfold_mig13") as url:
        db = make_engine(url)
        migrate.upgrade(db)
        with db.begin() as conn:
            drop_schema(conn)  # as if procrastinate had not been installed at 0013
        db.dispose()
        runner = CliRunner()
        refused = runner.invoke(app, ["worker", "--database-url", url])
        assert procrastinate_objects(url) == []
        assert refused.exit_code == 1
        assert refused.stderr == (
            "error: procrastinate's tables are missing (the database was migrated without the "
            "'worker' extra): run `billfold worker --install-schema` once\n"
        )
        probe = make_engine(url)
        with probe.connect() as conn:  # refused before its first heartbeat
            assert conn.execute(text("SELECT count(*) FROM worker_heartbeats")).scalar() == 0
        probe.dispose()
        done = runner.invoke(app, ["worker", "--install-schema", "--database-url", url])
        assert (done.exit_code, done.stdout) == (0, "procrastinate's tables created\n")
        again = runner.invoke(app, ["worker", "--install-schema", "--database-url", url])
        assert (again.exit_code, again.stdout) == (0, "procrastinate's tables exist\n")
        assert "procrastinate_jobs" in procrastinate_objects(url)
