"""Any sequence of bank-transfer steps, repeated or out of order, leaves the refund in a state
the machine allows, and the journal balanced with the money in exactly one place."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from migrated_memory import migrated_memory_engine  # type: ignore[import-not-found]

from billfold import Biller, BillerKind, Engine
from billfold.clock import FixedClock
from billfold.collection.journal import BANK, REFUND_TRANSFERS_IN_TRANSIT, REFUNDS_PAYABLE
from billfold.collection.refund import RefundStatus, refund_can_move
from billfold.collection.refund_transfer import PayeeAccount, TransferReason
from billfold.collection.refund_transferring import TransferConfirmation
from billfold.errors import BillfoldError
from billfold.settlement.refund_transfer_desk import RefundTransferDesk

STEPS = ["fall_back", "record", "approve_self", "approve", "file", "confirm", "channel_paid"]


def _world() -> tuple[Engine, str]:
    clock = FixedClock(datetime(2026, 9, 1, 2, 0, tzinfo=UTC))
    engine = migrated_memory_engine(clock)
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", b"bill_no,payer_id,amount\nT1,2024001,10.00\n")
    order = engine.create_order("s1", ["T1"], channel="counter")
    paid = engine.confirm("counter", "C-1", order.order_no, 1000)
    refund = engine.refund(paid.payment.id, 400, request_id="r", reason="多缴", requested_by="c")
    return engine, refund.refund_no


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(STEPS), min_size=1, max_size=10))
def test_any_sequence_of_steps_keeps_the_refund_legal_and_the_books_sound(
    steps: list[str],
) -> None:
    engine, refund_no = _world()
    desk = RefundTransferDesk(engine)
    payee = PayeeAccount("张三", "6222020200112233445", "工商银行")
    actions = {
        "fall_back": lambda: engine.refund_needs_transfer(
            refund_no, TransferReason.ACCOUNT_CLOSED, "closed"
        ),
        "record": lambda: desk.record_payee(refund_no, payee, by="maker"),
        "approve_self": lambda: desk.approve(refund_no, checker="maker"),
        "approve": lambda: desk.approve(refund_no, checker="checker"),
        "file": lambda: desk.file(by="maker"),
        "confirm": lambda: desk.confirm(refund_no, TransferConfirmation("maker", "回单")),
        "channel_paid": lambda: engine.complete_refund(refund_no, succeeded=True),
    }
    state = RefundStatus.PENDING
    try:
        for step in steps:
            with contextlib.suppress(BillfoldError):
                actions[step]()
            with engine.uow() as uow:
                refund = uow.refunds.get_by_no(refund_no)
            assert refund is not None
            assert refund.status is state or refund_can_move(state, refund.status)
            state = refund.status
            balance = engine.trial_balance()
            assert sum(balance.values()) == 0
            owed = -balance.get(REFUNDS_PAYABLE, 0) - balance.get(REFUND_TRANSFERS_IN_TRANSIT, 0)
            paid_out = state is RefundStatus.SUCCEEDED
            assert owed == (0 if paid_out else 400)
            assert balance.get(BANK, 0) in (0, -400)
        assert engine.check_books() == []
    finally:
        engine.close()
