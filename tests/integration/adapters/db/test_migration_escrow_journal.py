"""Migration 0009 on SQLite and PostgreSQL: a database at revision 0007 whose escrow book
holds its amounts in ``escrow_entries.amount_fen`` (no journal entries) is upgraded; every
row becomes a balanced journal entry on its project's escrow accounts, the daily reports
read the same as before and the books check clean."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import delete, select

from billfold.adapters.db import migrate
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.clock import FixedClock
from billfold.demo.gov_presale import BUREAU_CODE, CONTRACTS, DEVELOPER, setup_presale
from billfold.engine import Engine

A, B, C = (c.contract_no for c in CONTRACTS)
DAY = date(2026, 9, 1)


def _fill(engine: Engine) -> None:
    desk = setup_presale(engine)
    order = engine.create_order(DEVELOPER, [A], amount_fen=10_000_000)
    paid = engine.confirm("pos", "T1:0009:01", order.order_no, 10_000_000).payment.id
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-M1", 300_000, paid_at=engine.clock.now())
    desk.receive_unmatched(BUREAU_CODE, "bank", "TRF-M2", 400, paid_at=engine.clock.now())
    desk.assign_held("bank/TRF-M1", B, "ops", "核实")
    desk.sync()
    refund = engine.refund(paid, 1_000_000, request_id="RF-M", reason="退房", requested_by="o")
    engine.complete_refund(refund.refund_no)
    desk.sync()
    desk.release(BUREAU_CODE, 2_000_000, request_id="R-M", by="dev", reason="基础")


def _reports(engine: Engine, out: Path) -> list[str]:
    paths = setup_presale(engine).daily_report(BUREAU_CODE, DAY, out)
    return [p.read_text("utf-8-sig") for p in paths]


def _forget_escrow_journal(url: str) -> int:
    """Make the database what 0007 left: the escrow book without journal entries."""
    db = make_engine(url)
    try:
        with db.begin() as conn:
            ids = list(
                conn.execute(
                    select(t.journal_entries.c.id).where(t.journal_entries.c.kind.like("escrow_%"))
                ).scalars()
            )
            conn.execute(delete(t.journal_postings).where(t.journal_postings.c.entry_id.in_(ids)))
            conn.execute(delete(t.journal_entries).where(t.journal_entries.c.id.in_(ids)))
        return len(ids)
    finally:
        db.dispose()


def test_upgrading_from_0007_moves_the_escrow_book_into_the_journal(
    db_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    engine = Engine.from_url(db_url, clock=clock)
    try:
        _fill(engine)
        before = _reports(engine, tmp_path / "before")
        balance = {k: v for k, v in engine.trial_balance().items() if k.startswith("escrow")}
    finally:
        engine.close()
    db = make_engine(db_url)
    migrate.downgrade(db, "0007")
    db.dispose()
    assert _forget_escrow_journal(db_url) == 6

    db = make_engine(db_url)
    migrate.upgrade(db)
    db.dispose()
    engine = Engine.from_url(db_url, clock=clock)
    try:
        assert _reports(engine, tmp_path / "after") == before
        moved = {k: v for k, v in engine.trial_balance().items() if k.startswith("escrow")}
        assert (
            moved
            == balance
            == {
                f"escrow:{BUREAU_CODE}": 7_300_400,
                f"escrow_buyers:{BUREAU_CODE}": -7_300_000,
                f"escrow_held:{BUREAU_CODE}": -400,
            }
        )
        assert engine.check_books() == []
        entries = setup_presale(engine).entries(BUREAU_CODE)
        assert [(e.kind.value, e.amount_fen) for e in entries] == [
            ("held", 300_000),
            ("held", 400),
            ("assign", 300_000),
            ("payment", 10_000_000),
            ("refund", 1_000_000),
            ("release", 2_000_000),
        ]
    finally:
        engine.close()


def test_going_down_to_0007_and_up_again_posts_nothing_twice(
    db_url: str, clock: FixedClock
) -> None:
    engine = Engine.from_url(db_url, clock=clock)
    try:
        _fill(engine)
        balance = engine.trial_balance()
        amounts = [e.amount_fen for e in setup_presale(engine).entries(BUREAU_CODE)]
    finally:
        engine.close()
    db = make_engine(db_url)
    migrate.downgrade(db, "0007")
    with db.connect() as conn:
        kept = list(conn.execute(select(t.metadata.tables["escrow_entries"].c.id)).scalars())
        assert len(kept) == len(amounts)
    migrate.upgrade(db)
    db.dispose()
    engine = Engine.from_url(db_url, clock=clock)
    try:
        assert engine.trial_balance() == balance
        assert [e.amount_fen for e in setup_presale(engine).entries(BUREAU_CODE)] == amounts
        assert engine.check_books() == []
    finally:
        engine.close()
