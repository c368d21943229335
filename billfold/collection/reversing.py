"""Reversing (冲正): undo a payment that did not complete cleanly.

Credited money is taken off the bills again (they are owed again) and our fee goes back;
held or suspense money leaves suspense, cancelling any refund still queued for it. A
reversal that arrives before its payment leaves a marker so that the late payment credits
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billfold.clock import Clock, business_date
from billfold.collection.journal import (
    FEE_INCOME,
    REFUNDS_PAYABLE,
    SUSPENSE,
    JournalEntry,
    Posting,
    clearing,
    payable,
)
from billfold.collection.order import OrderStatus
from billfold.collection.payment import PaymentRecord, PaymentStatus
from billfold.collection.ports import UnitOfWork
from billfold.collection.refund import RefundRecord, RefundStatus
from billfold.errors import Conflict, InvalidTransition, InvariantViolated

__all__ = ["ReversalRequest", "reverse_payment"]


@dataclass(frozen=True, slots=True)
class ReversalRequest:
    """Reverse the channel's transaction ``channel_txn_id`` (``order_no`` if known)."""

    channel: str
    channel_txn_id: str
    reason: str
    requested_by: str
    order_no: str = ""

    @property
    def memo(self) -> str:
        return f"reversal {self.channel} {self.channel_txn_id}"


def reverse_payment(uow: UnitOfWork, clock: Clock, req: ReversalRequest) -> PaymentRecord:
    """Undo (冲正) a payment that did not complete cleanly. Idempotent, and safe if the
    payment never arrived: a marker is stored so that a late confirmation credits nothing."""
    now = clock.now()
    with uow:
        payment = uow.payments.find(req.channel, req.channel_txn_id, lock=True)
        if payment is None:
            marker = _mark_reversed_before_arrival(uow, req, now)
            if marker is not None:
                return marker
            # the payment arrived meanwhile and took the key: reverse that payment instead
            payment = uow.payments.find(req.channel, req.channel_txn_id, lock=True)
            if payment is None:
                raise InvariantViolated("payment is missing")
        if payment.status is PaymentStatus.REVERSED:
            return payment
        refunds = uow.refunds.for_payment(payment.id)
        paid_out = (RefundStatus.SUCCEEDED, RefundStatus.IN_TRANSFER)
        if any(r.status in paid_out for r in refunds) or (
            payment.status is PaymentStatus.CREDITED and refunds
        ):
            raise InvalidTransition(
                f"payment {payment.id} has refunds; refund the rest instead of reversing it"
            )
        if payment.status is PaymentStatus.CREDITED:
            entries = _reverse_credited(uow, payment, req, now)
        else:
            entries = _reverse_from_suspense(uow, payment, refunds, req)
        if not uow.payments.transition(payment.id, payment.status, PaymentStatus.REVERSED):
            raise Conflict(f"payment {payment.id} changed meanwhile; try again")
        uow.journal.post(entries, now, payment_id=payment.id)
        record = uow.payments.get(payment.id)
        if record is None:
            raise InvariantViolated("record is missing")
        _record_reversal(uow, payment, req, now)
        uow.commit()
        return record


def _mark_reversed_before_arrival(
    uow: UnitOfWork, req: ReversalRequest, now: datetime
) -> PaymentRecord | None:
    """Store (and commit) a zero marker for a payment not seen yet; ``None`` (rolled back)
    if the payment arrived meanwhile and holds the key."""
    marker_id = uow.payments.insert(
        {
            "channel": req.channel,
            "channel_txn_id": req.channel_txn_id,
            "order_no": req.order_no or "-",
            "order_id": None,
            "biller_id": None,
            "status": PaymentStatus.REVERSED.value,
            "reason": "reversed_before_arrival",
            "amount_fen": 0,
            "fee_fen": 0,
            "refunded_fen": 0,
            "currency": "CNY",
            "paid_at": now,
            "received_at": now,
            "business_date": business_date(now),
        }
    )
    if marker_id is None:
        uow.rollback()
        return None
    uow.commit()
    marker = uow.payments.find(req.channel, req.channel_txn_id)
    if marker is None:
        raise InvariantViolated("marker is missing")
    return marker


def _reverse_credited(
    uow: UnitOfWork, payment: PaymentRecord, req: ReversalRequest, now: datetime
) -> list[JournalEntry]:
    """Take the payment off its bills (owed again), the order reversed, the fee back."""
    order = uow.orders.get(payment.order_id, lock=True) if payment.order_id else None
    biller = uow.billers.get(payment.biller_id) if payment.biller_id else None
    if not (order is not None and order.id is not None and biller is not None):
        raise InvariantViolated("a credited payment without its order or biller")
    bills = uow.bills.get_many([line.bill_id for line in order.lines], lock=True)
    by_id = {bill.id: bill for bill in bills}
    for line in order.lines:
        by_id[line.bill_id].take_back(line.item_code, line.amount_fen, refund=False)
    uow.bills.apply(bills, [], now)
    uow.orders.transition(order.id, [OrderStatus.PAID], OrderStatus.REVERSED)
    account = payable(biller.code)
    entries = [
        JournalEntry.build(
            "reversal",
            [Posting(account, ln.amount_fen, ln.bill_id) for ln in order.lines]
            + [Posting(clearing(req.channel), -payment.amount_fen)],
            memo=req.memo,
            currency=payment.currency,
        )
    ]
    if payment.fee_fen:
        entries.append(
            JournalEntry.build(
                "fee_reversal",
                [Posting(FEE_INCOME, payment.fee_fen), Posting(account, -payment.fee_fen)],
                memo=req.memo,
                currency=payment.currency,
            )
        )
    return entries


def _reverse_from_suspense(
    uow: UnitOfWork, payment: PaymentRecord, refunds: list[RefundRecord], req: ReversalRequest
) -> list[JournalEntry]:
    """Held or suspense money leaves suspense; refunds still queued for it are cancelled."""
    waiting = (RefundStatus.PENDING, RefundStatus.FAILED, RefundStatus.NEEDS_TRANSFER)
    pending = [r for r in refunds if r.status in waiting]
    queued = sum(r.amount_fen for r in pending)
    for r in pending:
        uow.refunds.transition(r.id, [r.status], RefundStatus.CANCELLED)
    postings = [Posting(clearing(req.channel), -payment.amount_fen)]
    if queued:
        postings.append(Posting(REFUNDS_PAYABLE, queued))
    if payment.amount_fen - queued:
        postings.append(Posting(SUSPENSE, payment.amount_fen - queued))
    return [JournalEntry.build("reversal", postings, memo=req.memo, currency=payment.currency)]


def _record_reversal(
    uow: UnitOfWork, payment: PaymentRecord, req: ReversalRequest, now: datetime
) -> None:
    """Audit who reversed it and why; tell the biller."""
    uow.audit.append(
        actor=req.requested_by,
        action="reverse",
        target_type="payment",
        target_id=str(payment.id),
        reason=req.reason,
        before={"status": payment.status.value},
        after={"status": PaymentStatus.REVERSED.value},
        now=now,
    )
    uow.outbox.add(
        "payment.reversed",
        payment.biller_id,
        {"payment_id": payment.id, "order_no": payment.order_no, "amount_fen": payment.amount_fen},
        now,
    )
