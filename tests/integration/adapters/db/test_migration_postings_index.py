"""Migration 0023 on SQLite and PostgreSQL: the postings' index on ``account`` goes on the
upgrade and comes back on a downgrade to 0022; the journal and its checks read the same
either way, and confirmations keep posting after the upgrade."""

from __future__ import annotations

from sqlalchemy import inspect

from billfold import Biller, BillerKind
from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.clock import FixedClock
from billfold.engine import Engine

INDEX = "ix_journal_postings_account"


def _indexes(url: str) -> set[str]:
    db = make_engine(url)
    try:
        return {ix["name"] for ix in inspect(db).get_indexes("journal_postings")}
    finally:
        db.dispose()


def _confirm(url: str, clock: FixedClock, bill_no: str) -> tuple[dict[str, int], list[int]]:
    engine = Engine.from_url(url, clock=clock)
    try:
        order = engine.create_order("s1", [bill_no])
        assert engine.confirm("counter", f"M-{bill_no}", order.order_no, order.total_fen).credited
        assert engine.check_books() == []
        with engine.uow() as uow:
            return uow.journal.trial_balance(), uow.journal.entries_balance()
    finally:
        engine.close()


def test_the_account_index_goes_on_upgrade_and_comes_back_on_downgrade(
    db_url: str, clock: FixedClock
) -> None:
    engine = Engine.from_url(db_url, clock=clock)
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", b"bill_no,payer_id,amount\nT1,1,10.00\nT2,2,20.00\n")
    engine.close()
    assert INDEX not in _indexes(db_url)
    balance, unbalanced = _confirm(db_url, clock, "T1")

    db = make_engine(db_url)
    migrate.downgrade(db, "0022")
    db.dispose()
    assert INDEX in _indexes(db_url)
    engine = Engine.from_url(db_url, clock=clock)
    try:
        with engine.uow() as uow:
            assert uow.journal.trial_balance() == balance
    finally:
        engine.close()

    db = make_engine(db_url)
    migrate.upgrade(db)
    db.dispose()
    assert INDEX not in _indexes(db_url)
    after, unbalanced_after = _confirm(db_url, clock, "T2")
    assert unbalanced == unbalanced_after == []
    assert after != balance  # the second confirmation was posted
