"""SQLite read column by column in a child process (:mod:`billfold.adapters.db.sqlite_columns`):
only when the child sees what the transaction sees, and without touching the transaction's
locks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from billfold.adapters.db import sqlite_columns
from billfold.adapters.db.connect import make_engine

pytest.importorskip("polars")


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, txn TEXT, n INTEGER)"))
        conn.execute(
            text("INSERT INTO t (txn, n) VALUES (:txn, :n)"),
            [{"txn": f"T{i}", "n": None if i < 3 else i} for i in range(300)],
        )
    return engine


def test_the_file_is_named_only_while_the_transaction_has_changed_nothing(
    db: Engine, tmp_path: Path
) -> None:
    with db.connect() as conn:
        assert sqlite_columns.snapshot_file(conn) is None  # no transaction: no write lock
        with conn.begin():
            assert sqlite_columns.snapshot_file(conn) == str(tmp_path / "read.db")
            conn.execute(text("UPDATE t SET n = 1 WHERE id = 1"))
            assert sqlite_columns.snapshot_file(conn) is None  # the child would not see it
        with conn.begin():
            assert sqlite_columns.snapshot_file(conn) == str(tmp_path / "read.db")


def test_an_in_memory_database_is_not_read_by_a_child() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        assert sqlite_columns.snapshot_file(conn) is None


def test_the_child_reads_every_block_with_its_types(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    monkeypatch.setattr(sqlite_columns, "BLOCK", 64)  # 5 blocks
    with db.begin() as conn:
        file = sqlite_columns.snapshot_file(conn)
        assert file is not None
        read = sqlite_columns.ChildRead(
            file, "t", ["id", "txn", "n", "CASE WHEN n > 100 THEN 1 ELSE 0 END"], "id > 1",
            ["id", "txn", "n", "big"],
        ).frame()  # fmt: skip
    assert read.columns == ["id", "txn", "n", "big"]
    assert read.height == 299 and read.get_column("id").to_list() == list(range(2, 301))
    assert read.get_column("n").null_count() == 2 and read.get_column("big").sum() == 199
    assert read.get_column("txn")[0] == "T1"


def test_the_transaction_keeps_its_write_lock_while_and_after_the_child_reads(
    db: Engine,
) -> None:
    """Two copies of SQLite in one process would drop each other's POSIX locks; the child
    process has its own."""
    pytest.importorskip("adbc_driver_sqlite")
    probe = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)\n"
        "try:\n    db.execute('BEGIN IMMEDIATE')\nexcept sqlite3.OperationalError:\n"
        "    print('locked')\nelse:\n    print('free')\n"
    )
    with db.begin() as conn:
        file = sqlite_columns.snapshot_file(conn)
        assert file is not None
        sqlite_columns.ChildRead(file, "t", ["id"], "1 = 1", ["id"]).frame()
        seen = subprocess.run(
            [sys.executable, "-c", probe, file], capture_output=True, text=True, check=True
        )
        assert seen.stdout.strip() == "locked"


def test_a_read_not_wanted_is_stopped_and_leaves_no_files(db: Engine) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    with db.begin() as conn:
        file = sqlite_columns.snapshot_file(conn)
        assert file is not None
        read = sqlite_columns.ChildRead(file, "t", ["id"], "1 = 1", ["id"])
        read.close()
    assert read._proc.returncode is not None
    assert not Path(read._folder).exists()
