"""Migration 0014 (the lists' indexes) on SQLite and PostgreSQL: a database at 0010 holding
bills, orders, payments and audit rows upgrades in place, and the lists read the same."""

from __future__ import annotations

from sqlalchemy import inspect

from billfold import Biller, BillerKind
from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.clock import FixedClock
from billfold.engine import Engine


def test_upgrading_from_0010_with_data_keeps_every_row_and_adds_the_indexes(
    db_url: str, clock: FixedClock
) -> None:
    engine = Engine.from_url(db_url, clock=clock)
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", b"bill_no,payer_id,amount\nT1,1,10.00\nT2,2,20.00\n")
    order = engine.create_order("s1", ["T1"])
    engine.confirm("counter", "M-1", order.order_no, order.total_fen)
    engine.confirm("counter", "M-2", "NOPE", 300)
    lists = ("bills", "orders", "payments", "refunds", "suspense", "audit", "outbox_events")
    before = {name: engine.find(name, {"limit": "500"}).rows for name in lists}
    engine.close()
    db = make_engine(db_url)
    migrate.downgrade(db, "0010")
    assert "ix_bills_biller_id_created_at_id" not in {
        ix["name"] for ix in inspect(db).get_indexes("bills")
    }
    migrate.upgrade(db)
    assert "ix_bills_biller_id_created_at_id" in {
        ix["name"] for ix in inspect(db).get_indexes("bills")
    }
    db.dispose()
    engine = Engine.from_url(db_url, clock=clock)
    try:
        assert {name: engine.find(name, {"limit": "500"}).rows for name in lists} == before
        assert engine.check_books() == []
    finally:
        engine.close()
