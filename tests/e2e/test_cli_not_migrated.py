"""Commands on a database that is not migrated (or migrated by an older billfold) answer with
one line saying what to run, exit 1, and change nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from billfold.adapters.cli.app import app
from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.testing import scratch_pg_database

PG_URL = os.environ.get("BILLFOLD_TEST_PG_URL")
runner = CliRunner()

#: One command per group that opens the engine (arguments valid, so only the database is wrong).
COMMANDS = [
    ["billers", "create", "s1", "第一中学", "--kind", "school"],
    ["billers", "list"],
    ["bills", "import", "{csv}", "--biller", "s1"],
    [
        *("campus", "grant", "s1", "st1", "--term", "2026-autumn", "--amount", "500.00"),
        *("--kind", "scholarship", "--approved-by", "校长", "--note", "品学兼优"),
        *("--request-id", "g1"),
    ],
    ["gov", "fees", "office1"],
    ["presale", "milestones", "b1", "--stage", "foundation:基础工程完成:100", "--by", "x"],
    ["utility", "topup", "u1", "a1", "--period", "2026-09", "--min", "50.00", "--max", "2000"],
    ["outbox", "run", "--once"],
    ["autodebit", "run", "--once"],
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not PG_URL:
        pytest.skip("BILLFOLD_TEST_PG_URL is not set")
    with scratch_pg_database(PG_URL, "billfold_unmigrated") as url:
        yield url


def _run(args: list[str], url: str, tmp_path: Path) -> tuple[int, str, str]:
    csv = tmp_path / "bills.csv"
    csv.write_text("bill_no,payer_id,amount\nB1,0101,86.40\n", encoding="utf-8")
    argv = [a.replace("{csv}", str(csv)) for a in args] + ["--database-url", url]
    result = runner.invoke(app, argv)
    return result.exit_code, result.stdout, result.stderr


def _tables(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_command_on_an_empty_database_says_to_run_db_upgrade(
    args: list[str], empty_url: str, tmp_path: Path
) -> None:
    code, out, err = _run(args, empty_url, tmp_path)
    assert (code, out) == (1, "")
    assert err == (
        f"error: the database at {empty_url} is not set up (no billfold tables): "
        "run `billfold db upgrade`\n"
    )
    assert _tables(empty_url) == []


def test_a_database_at_an_older_revision_says_which_and_what_billfold_needs(
    empty_url: str, tmp_path: Path
) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine, "0003")
    code, out, err = _run(
        ["billers", "create", "s1", "一中", "--kind", "school"], empty_url, tmp_path
    )
    assert (code, out) == (1, "")
    assert err == (
        f"error: database at revision 0003, billfold needs {migrate.head()}: "
        "run `billfold db upgrade`\n"
    )
    assert migrate.current(engine) == "0003"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM billers")).scalar_one() == 0
    engine.dispose()


def test_a_revision_this_billfold_does_not_know_is_named(empty_url: str, tmp_path: Path) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    code, out, err = _run(["gov", "fees", "office1"], empty_url, tmp_path)
    assert (code, out) == (1, "")
    assert err == (
        f"error: database at revision 0099, which this billfold does not know (it goes up to "
        f"{migrate.head()}): use the billfold that migrated it, or a newer one\n"
    )
    assert migrate.current(engine) == "0099"
    engine.dispose()


def test_after_db_upgrade_the_same_command_works(empty_url: str, tmp_path: Path) -> None:
    assert _run(["db", "upgrade"], empty_url, tmp_path)[0] == 0
    code, out, err = _run(
        ["billers", "create", "s1", "一中", "--kind", "school"], empty_url, tmp_path
    )
    assert (code, out, err) == (0, "created biller s1 (一中)\n", "")
