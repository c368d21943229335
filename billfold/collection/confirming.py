"""Confirming: the one path by which a channel's money reaches bills, exactly once.

:func:`confirm_payment` locks the order and its bills, asks the pure
:func:`billfold.collection.payment.decide` what the money does, and writes the decision;
:func:`announce_payment` puts the payment's events in the outbox (crediting held money
after review announces the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from billfold.clock import Clock, business_date
from billfold.collection.bill import Bill
from billfold.collection.order import PAYABLE_STATES, Order, OrderStatus
from billfold.collection.payment import (
    BillCredit,
    Confirmation,
    Decision,
    PaymentRecord,
    PaymentStatus,
    decide,
)
from billfold.collection.ports import UnitOfWork
from billfold.collection.refunding import queue_refund
from billfold.errors import Conflict, InvariantViolated
from billfold.money import format_yuan

__all__ = ["ConfirmResult", "announce_payment", "confirm_payment"]


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    payment: PaymentRecord
    duplicate: bool  # True when this transaction had been confirmed before

    @property
    def status(self) -> PaymentStatus:
        return self.payment.status

    @property
    def credited(self) -> bool:
        return self.payment.status is PaymentStatus.CREDITED


def confirm_payment(uow: UnitOfWork, clock: Clock, conf: Confirmation) -> ConfirmResult:
    """The one path by which money reaches bills. Exactly once per (channel, transaction).

    Repeats return the first outcome. The database decides races: the order and its bills
    are locked, and the payment row's unique key lets only one transaction insert it.
    (:meth:`UnitOfWork.confirmation_reads` reads the payment, the order, the fee context and
    the bills — in one round trip where the database allows it.)
    """
    now = clock.now()
    with uow:
        seen, order, context, bills = uow.confirmation_reads(
            conf.channel, conf.channel_txn_id, conf.order_no
        )
        if seen is not None:
            # nothing was written: COMMIT ends the transaction and frees its locks as a
            # ROLLBACK would, in the round trip that sends it; a ROLLBACK costs more on
            # PostgreSQL, whose driver then drops every statement it had prepared on the
            # connection (they are parsed and planned afresh on their next uses)
            uow.commit()
            return ConfirmResult(seen, duplicate=True)
        today = business_date(conf.paid_at, context.timezone if context else "Asia/Shanghai")
        fee = context.rule.fee_for(conf.amount_fen) if context and context.rule else 0
        decision = decide(conf, order, bills, context.code if context else None, fee, today)

        record = _store_payment(uow, conf, order, decision, today, now)
        if record is None:  # a concurrent delivery of the same transaction won
            uow.rollback()
            winner = uow.payments.find(conf.channel, conf.channel_txn_id)
            if winner is None:
                raise InvariantViolated("winner is missing")
            return ConfirmResult(winner, duplicate=True)
        if order is not None:
            _move_order(uow, order, decision, conf, record.id)
        if decision.credited:
            uow.bills.apply(bills, decision.credits, now)
        uow.journal.post(decision.entries, now, payment_id=record.id)
        announce_payment(uow, record, decision.credits, decision.bills_now_paid, bills, now)
        if decision.credited:  # the channel's own events, in this same transaction
            for event_type, event_payload in conf.on_credit:
                uow.outbox.add(event_type, record.biller_id, event_payload, now)
        if decision.queue_refund:
            reason = "automatic: " + (record.reason or "")
            queue_refund(uow, record, record.amount_fen, reason, now)
        uow.commit()
        return ConfirmResult(record, duplicate=False)


def _store_payment(
    uow: UnitOfWork,
    conf: Confirmation,
    order: Order | None,
    decision: Decision,
    today: date,
    now: datetime,
) -> PaymentRecord | None:
    """Insert the payment row; ``None`` if the transaction was stored meanwhile."""
    reason = decision.reason.value if decision.reason else None
    order_id = order.id if order else None
    biller_id = order.biller_id if order else None
    payment_id = uow.payments.insert(
        {
            "channel": conf.channel,
            "channel_txn_id": conf.channel_txn_id,
            "order_no": conf.order_no,
            "order_id": order_id,
            "biller_id": biller_id,
            "status": decision.status.value,
            "reason": reason,
            "amount_fen": conf.amount_fen,
            "fee_fen": decision.fee_fen,
            "refunded_fen": 0,
            "currency": conf.currency,
            "paid_at": conf.paid_at,
            "received_at": now,
            "business_date": today,
        }
    )
    if payment_id is None:
        return None
    return PaymentRecord(
        id=payment_id,
        channel=conf.channel,
        channel_txn_id=conf.channel_txn_id,
        order_no=conf.order_no,
        order_id=order_id,
        biller_id=biller_id,
        status=decision.status,
        reason=reason,
        amount_fen=conf.amount_fen,
        fee_fen=decision.fee_fen,
        refunded_fen=0,
        currency=conf.currency,
        paid_at=conf.paid_at,
        received_at=now,
    )


def _move_order(
    uow: UnitOfWork, order: Order, decision: Decision, conf: Confirmation, payment_id: int
) -> None:
    """Move the order where the decision says (paid, failed or expired)."""
    if order.id is None or decision.order_status is None:
        return
    extra: dict[str, Any] = {}
    if decision.credited:
        extra = {"paid_at": conf.paid_at, "payment_id": payment_id, "channel": conf.channel}
    elif decision.order_status is OrderStatus.FAILED and decision.reason:
        extra = {"failure_reason": decision.reason.value}
    moved = uow.orders.transition(order.id, PAYABLE_STATES, decision.order_status, **extra)
    if not moved and decision.credited:  # cannot happen while the order row is locked
        raise Conflict(f"order {order.order_no} changed while it was locked")


def announce_payment(
    uow: UnitOfWork,
    record: PaymentRecord,
    credits: tuple[BillCredit, ...],
    now_paid: tuple[int, ...],
    bills: list[Bill],
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    """Outbox events for a payment: what became of it, and each bill it paid (in part)."""
    payload: dict[str, Any] = {
        "payment_id": record.id,
        "channel": record.channel,
        "channel_txn_id": record.channel_txn_id,
        "order_no": record.order_no,
        "amount": format_yuan(record.amount_fen),
        "amount_fen": record.amount_fen,
        "paid_at": record.paid_at.isoformat(),
        "status": record.status.value,
        "reason": record.reason,
        **(extra or {}),
    }
    kind = {
        PaymentStatus.CREDITED: "payment.confirmed",
        PaymentStatus.HELD: "payment.held",
        PaymentStatus.SUSPENSE: "payment.suspense",
    }[record.status]
    uow.outbox.add(kind, record.biller_id, payload, now)
    names = {bill.id: bill.bill_no for bill in bills}
    for bill_id in sorted({c.bill_id for c in credits}):
        amount = sum(c.amount_fen for c in credits if c.bill_id == bill_id)
        event = "bill.paid" if bill_id in now_paid else "bill.partially_paid"
        uow.outbox.add(
            event,
            record.biller_id,
            {"bill_no": names.get(bill_id), "amount_fen": amount, "order_no": record.order_no},
            now,
        )
