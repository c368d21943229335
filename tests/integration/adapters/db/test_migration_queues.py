"""Migration 0016 on SQLite and PostgreSQL: a database with bills, payments and refunds in it
at the revision before it is upgraded; nothing it held changes, and a refund made before the upgrade
can then go by bank transfer and a complaint be opened against an old bill."""

from __future__ import annotations

from sqlalchemy import select

from billfold import Biller, BillerKind
from billfold.adapters.db import migrate
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.clock import FixedClock
from billfold.collection.refund_transfer import PayeeAccount, TransferReason
from billfold.engine import Engine
from billfold.settlement.complaint import ComplaintKind
from billfold.settlement.complaints import ComplaintDesk, NewComplaint
from billfold.settlement.refund_transfer_desk import RefundTransferDesk


def _rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    db = make_engine(url)
    try:
        with db.connect() as conn:
            return {
                table.name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
                for table in (t.bills, t.orders, t.payments, t.refunds)
            }
    finally:
        db.dispose()


def test_upgrading_from_0010_keeps_the_data_and_the_new_queues_work_on_it(
    db_url: str, clock: FixedClock
) -> None:
    # the data is made by today's code, then the database goes down to before 0016 (later
    # migrations first: the journal's chain and guard, which that code needs)
    engine = Engine(make_engine(db_url), clock)
    try:
        engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
        engine.import_bills("s1", b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2,5.00\n")
        order = engine.create_order("s1", ["T1"])
        paid = engine.confirm("counter", "C-1", order.order_no, 1000)
        refund = engine.refund(
            paid.payment.id, 400, request_id="r", reason="多缴", requested_by="c"
        )
    finally:
        engine.close()
    db = make_engine(db_url)
    migrate.downgrade(db, "0015")
    db.dispose()
    before = _rows(db_url)

    db = make_engine(db_url)
    migrate.upgrade(db)
    assert migrate.current(db) == migrate.head()
    db.dispose()
    assert _rows(db_url) == before

    engine = Engine.from_url(db_url, clock=clock)
    try:
        engine.refund_needs_transfer(refund.refund_no, TransferReason.OTHER, "卡已注销")
        desk = RefundTransferDesk(engine)
        desk.record_payee(
            refund.refund_no, PayeeAccount("张三", "6222020200112233", "工行"), by="a"
        )
        assert desk.approve(refund.refund_no, checker="b").stage.value == "ready"
        opened = ComplaintDesk(engine).open(
            NewComplaint("s1", ComplaintKind.WRONG_AMOUNT, "clerk", bill_no="T2")
        )
        assert opened.bill_no == "T2" and opened.status.value == "open"
        assert engine.check_books() == []
    finally:
        engine.close()
