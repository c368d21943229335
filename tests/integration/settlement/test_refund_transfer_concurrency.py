"""Two clerks (threads) file and confirm the same bank-transfer refunds at once: each step is
journalled exactly once, on SQLite and PostgreSQL (the row lock and conditional updates,
not an in-memory check, decide)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.collection.refund_transfer import PayeeAccount, TransferReason, TransferStage
from billfold.collection.refund_transferring import TransferConfirmation
from billfold.errors import BillfoldError
from billfold.settlement.refund_transfer_desk import RefundTransferDesk

THREADS = 6


def _entries(engine: Engine, kind: str) -> int:
    e = t.journal_entries
    with engine.uow() as uow:
        return int(
            uow.conn.execute(
                select(func.count()).select_from(e).where(e.c.kind == kind)
            ).scalar_one()
        )


def _attempt(step: object) -> str:
    try:
        step()  # type: ignore[operator]
    except BillfoldError as exc:
        return exc.message
    return "done"


def test_concurrent_filing_and_confirming_journal_each_refund_once(engine: Engine) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", b"bill_no,payer_id,amount\nT1,2024001,10.00\n")
    order = engine.create_order("s1", ["T1"])
    paid = engine.confirm("counter", "C-1", order.order_no, 1000)
    refund = engine.refund(paid.payment.id, 600, request_id="r", reason="多缴", requested_by="c")
    desk = RefundTransferDesk(engine)
    engine.refund_needs_transfer(refund.refund_no, TransferReason.ACCOUNT_CLOSED, "closed")
    desk.record_payee(refund.refund_no, PayeeAccount("张三", "6222020200112233", "工行"), by="a")
    desk.approve(refund.refund_no, checker="b")

    with ThreadPoolExecutor(THREADS) as pool:
        filed = list(pool.map(_attempt, [lambda: desk.file(by="a")] * THREADS))
    assert filed.count("done") == 1, filed
    assert _entries(engine, "refund_transfer_filed") == 1

    how = TransferConfirmation("a", "网银回单")
    with ThreadPoolExecutor(THREADS) as pool:
        confirmed = list(
            pool.map(_attempt, [lambda: desk.confirm(refund.refund_no, how)] * THREADS)
        )
    assert set(confirmed) == {"done"}, confirmed  # the repeats answer with the paid transfer
    assert _entries(engine, "refund_transfer_paid") == 1
    assert desk.get(refund.refund_no).stage is TransferStage.PAID
    assert engine.check_books() == []
