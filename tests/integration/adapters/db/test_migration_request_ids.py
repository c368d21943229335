"""Migration 0017 on SQLite and PostgreSQL: a database at the revision before it with waivers in it (made
before request ids) is upgraded; its waivers stay, without a request id, the books still
check clean, and new waivers are made once per request id."""

from __future__ import annotations

from sqlalchemy import inspect, select

from billfold import Biller, BillerKind
from billfold.adapters.db import migrate
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.clock import FixedClock
from billfold.engine import Engine

BILLS = b"bill_no,payer_id,amount\nT1,2026001,100.00\nT2,2026002,50.00\n"


def _waivers(engine: Engine) -> list[tuple[str, int, str | None]]:
    with engine.uow() as uow:
        rows = uow.conn.execute(
            select(t.bills.c.bill_no, t.waivers.c.amount_fen, t.waivers.c.request_id)
            .join(t.bills, t.bills.c.id == t.waivers.c.bill_id)
            .order_by(t.waivers.c.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_upgrading_from_0010_keeps_every_waiver_and_adds_request_ids(
    db_url: str, clock: FixedClock
) -> None:
    # the biller and its bills are made by today's code at the head (the chain runs 0016,
    # 0017, 0013, 0012, 0011, 0018: below 0017 billers have no lookup_check yet), then the
    # database goes down to 0016 and gets two waivers as 0016 wrote them: no request id
    engine = Engine.from_url(db_url, clock=clock)
    try:
        engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
        engine.import_bills("s1", BILLS)
        bill_id = engine.bill("s1", "T1").id
    finally:
        engine.close()
    db = make_engine(db_url)
    migrate.downgrade(db, "0016")
    with db.connect() as conn:
        assert "request_id" not in {c["name"] for c in inspect(conn).get_columns("waivers")}
    with db.begin() as conn:
        for fen in (1000, 2000):
            conn.execute(
                t.waivers.insert().values(
                    bill_id=bill_id,
                    item_code="*",
                    amount_fen=fen,
                    reason="助学",
                    granted_by="head",
                    created_at=clock.now(),
                )
            )
    db.dispose()

    db = make_engine(db_url)
    migrate.upgrade(db)
    assert migrate.current(db) == migrate.head()
    db.dispose()
    engine = Engine.from_url(db_url, clock=clock)
    try:
        assert _waivers(engine) == [("T1", 1000, None), ("T1", 2000, None)]
        engine.waive("s1", "T2", 500, reason="r", granted_by="g", request_id="W-1")
        engine.waive("s1", "T2", 500, reason="r", granted_by="g", request_id="W-1")
        assert _waivers(engine)[2:] == [("T2", 500, "W-1")]
        assert engine.bill("s1", "T2").waived_fen == 500
        assert engine.check_books() == []
        with engine.uow() as uow:
            columns = {c["name"] for c in inspect(uow.conn).get_columns("recon_discrepancies")}
        assert "resolution_request_id" in columns
    finally:
        engine.close()
