"""Migration 0011 on SQLite and PostgreSQL: a database at the revision before it with books in it
(payments, a refund, a reversal, a held HKD payment, presale escrow) is upgraded; every row
is kept, postings become CNY, and the new rules hold from then on. A row that already breaks
a rule stops the upgrade, naming the row, and leaves the database at the revision before it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from billfold import Biller, BillerKind, Engine, FeeRule
from billfold.adapters.db import migrate
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.clock import FixedClock
from billfold.demo.gov_presale import BUREAU_CODE, CONTRACTS, DEVELOPER, setup_presale
from billfold.errors import InvariantViolated

BILLS = b"""bill_no,payer_id,payer_name,items,due_date,allow_partial,min_part
T1,2026001,,tuition:T=4500.00;books:B=380.00,2026-09-10,no,
T2,2026002,,tuition:T=100.00,2026-09-10,no,
T3,2026003,,tuition:T=200.00,2026-09-10,no,
"""


def _fill(engine: Engine) -> None:
    engine.create_biller(
        Biller(
            code="s1", name="一中", kind=BillerKind.SCHOOL, fee_rules=(FeeRule("wechat", bps=60),)
        )
    )
    engine.import_bills("s1", BILLS)
    paid = engine.confirm("wechat", "W1", engine.create_order("s1", ["T1"]).order_no, 488_000)
    refund = engine.refund(paid.payment.id, 8_000, request_id="R1", reason="多缴", requested_by="b")
    engine.complete_refund(refund.refund_no)
    engine.confirm("wechat", "W2", engine.create_order("s1", ["T2"]).order_no, 10_000)
    engine.reverse("wechat", "W2", reason="冲正", requested_by="ops")
    engine.confirm(
        "alipay", "A3", engine.create_order("s1", ["T3"]).order_no, 20_000, currency="HKD"
    )
    desk = setup_presale(engine)
    order = engine.create_order(DEVELOPER, [CONTRACTS[0].contract_no], amount_fen=1_000_000)
    engine.confirm("pos", "T1:0011:01", order.order_no, 1_000_000)
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-1", 5_000, paid_at=engine.clock.now())
    desk.sync()


def _in_one_currency(balance: dict[str, int]) -> dict[str, int]:
    """A trial balance as it reads once currencies are forgotten (before 0011)."""
    merged: dict[str, int] = {}
    for key, fen in balance.items():
        account = key.split(" ")[0]
        merged[account] = merged.get(account, 0) + fen
    return merged


def _rows(db: SqlEngine) -> dict[str, list[Any]]:
    """Every non-empty table's rows, without the columns 0011 adds (nor 0018's
    ``lookup_check``: the chain runs 0012, 0011, 0018, so going down to 0012 takes it away
    too). Tables of later revisions are not there at 0012 and come back empty."""
    added = {("journal_postings", "currency"), ("billers", "lookup_check")}
    present = set(inspect(db).get_table_names())
    out: dict[str, list[Any]] = {}
    with db.connect() as conn:
        for table in (table for table in t.metadata.sorted_tables if table.name in present):
            columns = [c.name for c in table.columns if (table.name, c.name) not in added]
            order = ", ".join(c.name for c in table.primary_key.columns)
            query = f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY {order}"
            found = [tuple(r) for r in conn.execute(text(query))]
            if found:
                out[table.name] = found
    return out


@pytest.fixture
def at_0010(
    db_url: str, clock: FixedClock
) -> Iterator[tuple[str, dict[str, list[Any]], dict[str, int]]]:
    """A database with books in it, taken down to the revision before 0011; its rows and trial balance. The
    database is brought back to the head afterwards (PostgreSQL's is shared by the run)."""
    engine = Engine.from_url(db_url, clock=clock)
    try:
        _fill(engine)
        balance = engine.trial_balance()
        assert engine.check_books() == []
    finally:
        engine.close()
    db = make_engine(db_url)
    try:
        migrate.downgrade(db, "0012")
        assert migrate.current(db) == "0012"
        rows = _rows(db)
        assert len(rows["journal_postings"]) > 10
    finally:
        db.dispose()
    yield db_url, rows, balance
    db = make_engine(db_url)
    try:
        if db.dialect.name == "postgresql" and migrate.current(db) != migrate.head():
            present = set(inspect(db).get_table_names())  # not those of later revisions
            tables = ", ".join(f'"{n.name}"' for n in t.metadata.sorted_tables if n.name in present)
            with db.begin() as conn:  # before 0011 the journal has no guard yet
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            migrate.upgrade(db)
    finally:
        db.dispose()


def test_upgrading_a_0010_database_with_books_keeps_every_row_and_adds_the_rules(
    at_0010: tuple[str, dict[str, list[Any]], dict[str, int]], clock: FixedClock
) -> None:
    url, rows, balance = at_0010
    db = make_engine(url)
    try:
        migrate.upgrade(db)
        assert _rows(db) == rows
        with db.connect() as conn:
            currencies = conn.execute(text("SELECT DISTINCT currency FROM journal_postings"))
            assert list(currencies.scalars()) == ["CNY"]  # what every posting was before
        with pytest.raises(IntegrityError), db.begin() as conn:
            conn.execute(text("UPDATE payments SET refunded_fen = amount_fen + 1"))
        with pytest.raises(IntegrityError), db.begin() as conn:
            conn.execute(text("DELETE FROM journal_postings"))
        assert _rows(db) == rows
    finally:
        db.dispose()
    engine = Engine.from_url(url, clock=clock)
    try:
        # before 0011 the held HKD payment was journalled without a currency: it is CNY now
        assert engine.trial_balance() == _in_one_currency(balance)
        assert "suspense HKD" in balance
        assert engine.check_books() == []
        order = engine.create_order("s1", ["T2"])  # owed again after the reversal
        engine.confirm("wechat", "W4", order.order_no, 10_000)
        assert engine.check_books() == []
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("breaking", "named"),
    [
        (
            "UPDATE payments SET refunded_fen = amount_fen + 5 WHERE channel_txn_id = 'W1'",
            "payments row id={id} breaks ck_payments_refunded_within_amount",
        ),
        (
            "UPDATE orders SET status = 'lost' WHERE id = {id}",
            "orders row id={id} breaks ck_orders_status_known",
        ),
        (
            "UPDATE journal_postings SET amount_fen = amount_fen + 1 WHERE id = {id}",
            "journal_entries row id={entry} does not balance",
        ),
    ],
)
def test_a_row_that_already_breaks_a_rule_stops_the_upgrade_and_is_named(
    at_0010: tuple[str, dict[str, list[Any]], dict[str, int]], breaking: str, named: str
) -> None:
    url, _rows_before, _balance = at_0010
    db = make_engine(url)
    try:
        with db.begin() as conn:
            table = breaking.split()[1]
            row = conn.execute(text(f"SELECT max(id) FROM {table}")).scalar_one()
            if "channel_txn_id" in breaking:
                row = conn.execute(
                    text("SELECT id FROM payments WHERE channel_txn_id = 'W1'")
                ).scalar_one()
            entry = conn.execute(
                text(f"SELECT max(entry_id) FROM journal_postings WHERE id = {row}")
            ).scalar()
            conn.execute(text(breaking.format(id=row)))
        broken = _rows(db)
        with pytest.raises(InvariantViolated) as caught:
            migrate.upgrade(db)
        assert named.format(id=row, entry=entry) in str(caught.value)
        assert str(caught.value).startswith("migration 0011 stopped, nothing changed: ")
        assert migrate.current(db) == "0012"
        assert _rows(db) == broken
    finally:
        db.dispose()


def test_going_down_from_0011_and_up_again_keeps_every_row(db_url: str, clock: FixedClock) -> None:
    engine = Engine.from_url(db_url, clock=clock)
    try:
        _fill(engine)
        balance = engine.trial_balance()
    finally:
        engine.close()
    db = make_engine(db_url)
    try:
        rows = _rows(db)
        migrate.downgrade(db, "0012")
        migrate.upgrade(db)
        assert _rows(db) == rows
    finally:
        db.dispose()
    engine = Engine.from_url(db_url, clock=clock)
    try:
        # going down forgets the currency: the HKD postings come back as CNY
        assert engine.trial_balance() == _in_one_currency(balance)
        assert engine.check_books() == []
    finally:
        engine.close()


def test_billfold_db_upgrade_names_the_broken_row_in_one_line(
    at_0010: tuple[str, dict[str, list[Any]], dict[str, int]],
) -> None:
    from typer.testing import CliRunner

    from billfold.adapters.cli.app import app

    url, _rows_before, _balance = at_0010
    db = make_engine(url)
    try:
        with db.begin() as conn:
            conn.execute(text("UPDATE orders SET refunded_fen = total_fen + 1 WHERE id = 1"))
        result = CliRunner().invoke(app, ["db", "upgrade", "--database-url", url])
        assert result.exit_code == 1
        assert " ".join(result.output.split()) == (  # one line, however the console wraps it
            "error: migration 0011 stopped, nothing changed: orders row id=1 breaks "
            "ck_orders_refunded_within_total (refunded_fen <= total_fen); correct the row "
            "(for the journal: with a reversing entry) and upgrade again"
        )
        assert migrate.current(db) == "0012"
    finally:
        db.dispose()
