"""The ``pg_empty`` fixture (tests/conftest.py) leaves the run's PostgreSQL database as
``TRUNCATE … RESTART IDENTITY`` did: no row in any of billfold's tables, every id sequence
back at its start, and the append-only guards in force again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.clock import FixedClock

pytestmark = pytest.mark.pg

BILLS = b"bill_no,payer_id,amount\nE1,2026001,100.00\nE2,2026002,200.00\n"


def _school(url: str) -> Engine:
    engine = Engine.from_url(url, clock=FixedClock(datetime(2026, 9, 1, 2, tzinfo=UTC)))
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", BILLS)
    order = engine.create_order("s1", ["E1"], channel="counter")
    engine.confirm("counter", "C-1", order.order_no, 10000)
    return engine


def test_every_table_is_emptied_and_every_id_starts_again(pg_empty: Callable[[], str]) -> None:
    engine = _school(pg_empty())
    first_ids = _first_ids(engine)
    engine.close()

    engine = Engine.from_url(pg_empty())
    try:
        with engine.db.connect() as conn:
            rows = {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in t.metadata.sorted_tables
            }
        assert {name: n for name, n in rows.items() if n} == {}
    finally:
        engine.close()

    engine = _school(pg_empty())
    try:
        assert _first_ids(engine) == first_ids
        assert first_ids["billers"] == 1
    finally:
        engine.close()


def test_the_journal_and_audit_guards_are_on_again_after_emptying(
    pg_empty: Callable[[], str],
) -> None:
    engine = _school(pg_empty())
    engine.close()
    engine = Engine.from_url(pg_empty())
    try:
        engine.create_biller(Biller(code="s2", name="二中", kind=BillerKind.SCHOOL))
        for table in ("audit_log",):
            with pytest.raises(DBAPIError), engine.db.begin() as conn:
                conn.execute(text(f"DELETE FROM {table}"))
        with engine.db.connect() as conn:
            enabled = conn.execute(
                text(
                    "SELECT c.relname, g.tgname, g.tgenabled FROM pg_trigger g "
                    "JOIN pg_class c ON c.oid = g.tgrelid WHERE NOT g.tgisinternal "
                    "AND c.relname IN ('audit_log', 'journal_entries', 'journal_postings')"
                )
            ).all()
        assert enabled and all(state == "O" for _, _, state in enabled), enabled
    finally:
        engine.close()


def _first_ids(engine: Engine) -> dict[str, int]:
    with engine.db.connect() as conn:
        return {
            table.name: conn.execute(select(func.min(table.c.id))).scalar_one()
            for table in (t.billers, t.bills, t.orders, t.payments, t.journal_entries, t.audit_log)
        }
