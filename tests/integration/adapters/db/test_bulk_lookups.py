"""Looking many keys up at once (``bulk.among``): an import's bill numbers and payers.

On PostgreSQL one statement whatever the number of keys, the keys one array parameter
(``= ANY``); an ``IN`` of 2,000 parameters was rendered value by value on every run and
parsed again by psycopg, which cost an import of 200,000 bills 4–7 s (issue 16).
On SQLite ``IN`` lists of at most ``IN_CHUNK`` values. Counted, not timed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, event, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.adapters.db.billers import SqlPayers
from billfold.adapters.db.bills import SqlBills
from billfold.adapters.db.bulk import IN_CHUNK, among
from billfold.collection.payer import IdentifierKind, Payer

STORED = b"bill_no,payer_id,items\nW1,H001,water:W=10.00\nW2,H002,water:W=12.00\n"
WANTED = [f"N{i:05d}" for i in range(2 * IN_CHUNK + 500)] + ["W2", "W1"]


@pytest.fixture
def water(engine: Engine) -> Engine:
    engine.create_biller(Biller(code="w", name="自来水公司", kind=BillerKind.UTILITY))
    engine.import_bills("w", STORED)
    return engine


@pytest.fixture
def conn(water: Engine) -> Iterator[Connection]:
    with water.db.connect() as connection:
        yield connection
        connection.rollback()


@contextmanager
def _selects(conn: Connection, table: str) -> Iterator[list[str]]:
    """The SELECTs on ``table`` that ``conn`` sends inside the block."""
    seen: list[str] = []

    def listener(*args: object) -> None:
        statement = str(args[2])
        if statement.startswith("SELECT") and f"FROM {table}" in statement:
            seen.append(statement)

    event.listen(conn, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", listener)


def _biller_id(conn: Connection) -> int:
    return int(conn.execute(select(t.billers.c.id).where(t.billers.c.code == "w")).scalar_one())


def _expected_statements(conn: Connection) -> int:
    return 1 if conn.dialect.name == "postgresql" else -(-len(WANTED) // IN_CHUNK)


def test_an_import_looks_its_bill_numbers_up_in_as_few_statements_as_the_database_allows(
    conn: Connection,
) -> None:
    bills = SqlBills(conn)
    biller_id = _biller_id(conn)
    with _selects(conn, "bills") as selects:
        hashes = bills.content_hashes(biller_id, WANTED)
    assert len(selects) == _expected_statements(conn)
    assert sorted(hashes) == ["W1", "W2"]
    with _selects(conn, "bills") as selects:
        ids = bills._ids(biller_id, WANTED)
    assert len(selects) == _expected_statements(conn)
    assert sorted(ids) == ["W1", "W2"]
    assert {no: digest for no, (_, digest) in ids.items()} == hashes


def test_the_payers_of_an_import_are_read_back_in_as_few_statements(conn: Connection) -> None:
    payers = [Payer(IdentifierKind.ACCOUNT_NO, f"H{i:05d}") for i in range(2 * IN_CHUNK + 500)]
    biller_id = _biller_id(conn)
    with _selects(conn, "payers") as selects:
        stored = SqlPayers(conn).ensure_many(
            biller_id, payers, datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
        )
    assert len(selects) == (1 if conn.dialect.name == "postgresql" else 3)
    assert len(stored) == len(payers)
    assert len({payer.id for payer in stored.values()}) == len(payers)


def test_nothing_is_asked_for_no_keys(conn: Connection) -> None:
    assert list(among(conn, t.bills.c.bill_no, [])) == []
