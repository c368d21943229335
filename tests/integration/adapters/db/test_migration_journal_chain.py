"""Migration 0012 on SQLite and PostgreSQL: a database at the revision before it with a journal in it
(payments, fees, refunds, money held, escrow moved into the journal by 0009, entries of no
biller) is upgraded; every entry is chained exactly as billfold chains it when it writes it
(the same hashes), the journal verifies, and new entries continue the chains."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError

from billfold.adapters.db import migrate
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.clock import FixedClock, business_date
from billfold.collection.sealing import seal_day
from billfold.collection.verifying import verify_journal
from billfold.demo.gov_presale import BUREAU_CODE, CONTRACTS, DEVELOPER, setup_presale
from billfold.engine import Engine


def _fill(engine: Engine) -> None:
    desk = setup_presale(engine)
    contract = CONTRACTS[0].contract_no
    order = engine.create_order(DEVELOPER, [contract], amount_fen=10_000_000)
    paid = engine.confirm("pos", "T1:0012:01", order.order_no, 10_000_000).payment.id
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-C1", 300_000, paid_at=engine.clock.now())
    desk.sync()
    refund = engine.refund(paid, 1_000_000, request_id="RF-C", reason="退房", requested_by="o")
    engine.complete_refund(refund.refund_no)
    desk.sync()
    engine.confirm("wechat", "NO-ORDER", "BF-NOPE", 500)


def _chains(url: str) -> list[tuple[int, str, int, str, str]]:
    db = make_engine(url)
    e = t.journal_entries.c
    try:
        with db.connect() as conn:
            query = select(e.id, e.chain, e.chain_seq, e.prev_hash, e.hash).order_by(e.id)
            return [tuple(r) for r in conn.execute(query)]  # type: ignore[misc]
    finally:
        db.dispose()


def _refuse_updates(conn: Connection) -> None:
    """An append-only trigger such as the journal may already have when 0012 runs."""
    if conn.dialect.name == "sqlite":
        conn.execute(
            text(
                "CREATE TRIGGER test_journal_append_only BEFORE UPDATE ON journal_entries "
                "BEGIN SELECT RAISE(ABORT, 'append-only'); END"
            )
        )
        return
    conn.execute(
        text(
            "CREATE FUNCTION test_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'append-only'; END $$"
        )
    )
    conn.execute(
        text(
            "CREATE TRIGGER test_journal_append_only BEFORE UPDATE ON journal_entries "
            "FOR EACH ROW EXECUTE FUNCTION test_append_only()"
        )
    )


def test_upgrading_from_0010_chains_the_journal_as_billfold_writes_it(
    db_url: str, clock: FixedClock
) -> None:
    engine = Engine.from_url(db_url, clock=clock)
    try:
        _fill(engine)
    finally:
        engine.close()
    written = _chains(db_url)
    assert len(written) >= 8 and {c for _i, c, *_ in written} >= {DEVELOPER, "@system"}

    db = make_engine(db_url)
    migrate.downgrade(db, "0013")
    with db.begin() as conn:
        _refuse_updates(conn)
    try:
        migrate.upgrade(db)
        # the journal's own trigger is back, and still refuses
        with pytest.raises(DBAPIError, match="append-only"), db.begin() as conn:
            conn.execute(text("UPDATE journal_entries SET memo = 'x'"))
    finally:
        with db.begin() as conn:  # the PostgreSQL database is shared by the run's tests
            pg = conn.dialect.name == "postgresql"
            on = " ON journal_entries" if pg else ""
            conn.execute(text(f"DROP TRIGGER IF EXISTS test_journal_append_only{on}"))
            if pg:
                conn.execute(text("DROP FUNCTION IF EXISTS test_append_only()"))
        db.dispose()
    assert _chains(db_url) == written  # the same chains, numbers and hashes

    engine = Engine.from_url(db_url, clock=clock)
    try:
        report = verify_journal(engine.uow())
        assert report.ok and report.entries == len(written)
        clock.advance(timedelta(days=1))
        engine.confirm("wechat", "NO-ORDER-2", "BF-NOPE-2", 700)
        assert seal_day(
            engine.uow(), clock, DEVELOPER, business_date(clock.now()) - timedelta(days=1)
        ).created
        assert verify_journal(engine.uow()).ok
        assert engine.check_books() == []
    finally:
        engine.close()
