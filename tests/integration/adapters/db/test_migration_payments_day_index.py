"""Migration 0024: the payments' reconciliation index leads with the business date, so that
PostgreSQL's generic plan for a confirmation's first read — the payment by ``(channel,
channel_txn_id)`` — uses the unique index on both columns, whatever the table's size; and
the migration goes down and up on both databases."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import inspect, make_url

from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine

NEW = "ix_payments_business_date_channel"
OLD = "ix_payments_channel_business_date"
LOOKUP = "SELECT id FROM payments WHERE channel = $1 AND channel_txn_id = $2"


def _indexes(url: str) -> set[str]:
    db = make_engine(url)
    try:
        return {ix["name"] for ix in inspect(db).get_indexes("payments")}
    finally:
        db.dispose()


def _generic_plan(url: str) -> str:
    """The plan PostgreSQL keeps for the prepared lookup once it goes generic (as it does
    after five runs of a prepared statement whose custom plans cost no less)."""
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE lookup(varchar, varchar) AS {LOOKUP}")
        rows = conn.execute("EXPLAIN EXECUTE lookup('wechat', 'T1')").fetchall()
        return "\n".join(r[0] for r in rows)


@pytest.mark.pg
def test_the_generic_plan_of_the_payment_lookup_uses_the_unique_key(pg_fresh: str) -> None:
    # a database of its own: never analysed, as a new installation's (the shared test
    # database has statistics from earlier tests)
    plan = _generic_plan(pg_fresh)
    assert "uq_payments_channel_channel_txn_id" in plan, plan
    assert "Filter" not in plan, plan  # both columns are index conditions

    db = make_engine(pg_fresh)
    migrate.downgrade(db, "0023")
    db.dispose()
    # the plan this migration mends: the day index, its rows filtered one by one
    plan = _generic_plan(pg_fresh)
    assert OLD in plan and "Filter: ((channel_txn_id)" in plan, plan


def test_the_day_index_swaps_on_upgrade_and_back_on_downgrade(db_url: str) -> None:
    assert NEW in _indexes(db_url) and OLD not in _indexes(db_url)
    db = make_engine(db_url)
    migrate.downgrade(db, "0023")
    db.dispose()
    assert OLD in _indexes(db_url) and NEW not in _indexes(db_url)
    db = make_engine(db_url)
    migrate.upgrade(db)
    db.dispose()
    assert NEW in _indexes(db_url) and OLD not in _indexes(db_url)
