"""Refunding: money goes back to the payer, never more than was paid, once per request.

Credited money is taken back off the bills (the most recently allocated line first, see
:mod:`billfold.collection.refund`) with its share of our fee; held money goes back from
suspense. :func:`complete_refund` books the channel paying it out (or refusing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billfold.clock import Clock
from billfold.collection.journal import REFUNDS_PAYABLE, JournalEntry, Posting, clearing
from billfold.collection.numbers import new_number
from billfold.collection.order import OrderStatus
from billfold.collection.payment import (
    PaymentRecord,
    PaymentStatus,
    refund_entry,
    suspense_refund_entry,
)
from billfold.collection.ports import UnitOfWork
from billfold.collection.refund import (
    RefundKind,
    RefundRecord,
    RefundStatus,
    fee_share,
    split_refund,
)
from billfold.errors import Conflict, InvalidInput, InvalidTransition, InvariantViolated, NotFound
from billfold.money import format_yuan

__all__ = ["RefundRequest", "complete_refund", "queue_refund", "refund_payment"]


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """Refund ``amount_fen`` of payment ``payment_id``; ``request_id`` makes it idempotent."""

    payment_id: int
    amount_fen: int
    request_id: str
    reason: str
    requested_by: str

    def __post_init__(self) -> None:
        if not self.request_id or len(self.request_id) > 64:
            raise InvalidInput(
                "request_id: 1-64 characters required (it makes the refund idempotent)"
            )
        if not self.reason.strip() or not self.requested_by.strip():
            raise InvalidInput("refund: a reason and who requests it are required")


@dataclass(frozen=True, slots=True)
class _Booking:
    """How one refund is booked: its journal entries, its kind and the fee going back."""

    entries: list[JournalEntry]
    kind: RefundKind
    fee_back_fen: int = 0


def refund_payment(uow: UnitOfWork, clock: Clock, req: RefundRequest) -> RefundRecord:
    """Refund part or all of a payment; never more than was paid, once per request id."""
    now = clock.now()
    with uow:
        payment = uow.payments.get(req.payment_id, lock=True)
        if payment is None:
            raise NotFound(f"payment {req.payment_id} does not exist")
        existing = uow.refunds.find(payment.id, req.request_id)
        if existing is not None:
            if existing.amount_fen != req.amount_fen:
                raise Conflict(
                    f"refund request {req.request_id} was made before for "
                    f"{format_yuan(existing.amount_fen)}, not {format_yuan(req.amount_fen)}"
                )
            return existing
        _check_refundable(payment, req.amount_fen)
        memo = f"refund {req.request_id} of payment {payment.id}"
        if payment.status is PaymentStatus.CREDITED:
            booking = _take_back_credited(uow, payment, req.amount_fen, memo, now)
        else:  # held money: return it from suspense
            booking = _Booking(
                [suspense_refund_entry(req.amount_fen, memo, payment.currency)], RefundKind.SUSPENSE
            )
        refund_id = uow.refunds.insert(
            {
                "refund_no": new_number("RF", now),
                "payment_id": payment.id,
                "request_id": req.request_id,
                "kind": booking.kind.value,
                "status": RefundStatus.PENDING.value,
                "amount_fen": req.amount_fen,
                "fee_fen": booking.fee_back_fen,
                "reason": req.reason[:200],
                "requested_by": req.requested_by,
                "created_at": now,
            }
        )
        if refund_id is None:
            raise Conflict(f"refund request {req.request_id} is being made right now; look it up")
        uow.payments.add_refunded(payment.id, req.amount_fen)
        uow.journal.post(booking.entries, now, payment_id=payment.id, refund_id=refund_id)
        refund = uow.refunds.find(payment.id, req.request_id)
        if refund is None:
            raise InvariantViolated("refund is missing")
        uow.outbox.add("refund.created", payment.biller_id, refund_payload(refund, payment), now)
        _audit_refund(uow, req, payment, refund, now)
        uow.commit()
        return refund


def _check_refundable(payment: PaymentRecord, amount_fen: int) -> None:
    if payment.status is PaymentStatus.REVERSED:
        raise InvalidTransition(f"payment {payment.id} was reversed; there is nothing to refund")
    if amount_fen <= 0:
        raise InvalidInput(
            f"amount: a refund must be more than 0.00, got {format_yuan(amount_fen)}"
        )
    if amount_fen > payment.refundable_fen:
        raise InvalidInput(
            f"amount: {format_yuan(amount_fen)} is more than the "
            f"{format_yuan(payment.refundable_fen)} left to refund on payment {payment.id}"
        )


def _take_back_credited(
    uow: UnitOfWork, payment: PaymentRecord, amount_fen: int, memo: str, now: datetime
) -> _Booking:
    """Take ``amount_fen`` back off the bills a credited payment paid, with its fee share."""
    order = uow.orders.get(payment.order_id, lock=True) if payment.order_id else None
    biller = uow.billers.get(payment.biller_id) if payment.biller_id else None
    if order is None or order.id is None or biller is None:
        raise NotFound(f"payment {payment.id} has lost its order")
    parts = split_refund(uow.orders.refund_lines(order.id), amount_fen)
    bills = uow.bills.get_many([line.bill_id for line, _ in parts], lock=True)
    by_id = {bill.id: bill for bill in bills}
    for line, amount in parts:
        by_id[line.bill_id].take_back(line.item_code, amount, refund=True)
    uow.bills.apply(bills, [], now)
    uow.orders.add_line_refunds([(line.line_id, amount) for line, amount in parts])
    # the fee was taken on what reached the bills (the order's total), so its share is
    # counted on that and on what was refunded off the bills, never on money returned
    # from suspense (the excess of a payment credited after review)
    fee_back = fee_share(payment.fee_fen, order.total_fen, order.refunded_fen, amount_fen)
    bill_parts = [(line.bill_id, amount) for line, amount in parts]
    left = order.total_fen - order.refunded_fen - amount_fen
    uow.orders.add_refunded(
        order.id,
        amount_fen,
        OrderStatus.REFUNDED if left == 0 else OrderStatus.PARTIALLY_REFUNDED,
    )
    return _Booking(
        refund_entry(biller.code, bill_parts, fee_back, memo, payment.currency),
        RefundKind.CREDITED,
        fee_back,
    )


def _audit_refund(
    uow: UnitOfWork, req: RefundRequest, payment: PaymentRecord, refund: RefundRecord, now: datetime
) -> None:
    uow.audit.append(
        actor=req.requested_by,
        action="refund",
        target_type="payment",
        target_id=str(payment.id),
        reason=req.reason,
        before={"refunded": format_yuan(payment.refunded_fen)},
        after={
            "refunded": format_yuan(payment.refunded_fen + req.amount_fen),
            "refund_no": refund.refund_no,
        },
        now=now,
    )


def queue_refund(
    uow: UnitOfWork, payment: PaymentRecord, amount_fen: int, reason: str, now: datetime
) -> RefundRecord:
    """Queue the refund of money sitting in suspense (its journal entry is already posted)."""
    refund_id = uow.refunds.insert(
        {
            "refund_no": new_number("RF", now),
            "payment_id": payment.id,
            "request_id": f"auto-{payment.id}",
            "kind": RefundKind.SUSPENSE.value,
            "status": RefundStatus.PENDING.value,
            "amount_fen": amount_fen,
            "fee_fen": 0,
            "reason": reason[:200],
            "requested_by": "billfold",
            "created_at": now,
        }
    )
    if refund_id is None:
        raise InvariantViolated("refund_id is missing")
    uow.payments.add_refunded(payment.id, amount_fen)
    refund = uow.refunds.find(payment.id, f"auto-{payment.id}")
    if refund is None:
        raise InvariantViolated("refund is missing")
    uow.outbox.add("refund.created", payment.biller_id, refund_payload(refund, payment), now)
    return refund


def refund_payload(refund: RefundRecord, payment: PaymentRecord) -> dict[str, Any]:
    """The outbox payload of a refund event."""
    return {
        "refund_no": refund.refund_no,
        "payment_id": payment.id,
        "channel": payment.channel,
        "channel_txn_id": payment.channel_txn_id,
        "order_no": payment.order_no,
        "amount": format_yuan(refund.amount_fen),
        "amount_fen": refund.amount_fen,
        "kind": refund.kind.value,
        "status": refund.status.value,
        "reason": refund.reason,
    }


def complete_refund(
    uow: UnitOfWork,
    clock: Clock,
    refund_no: str,
    *,
    succeeded: bool,
    channel_refund_id: str | None = None,
) -> RefundRecord:
    """The channel has paid a refund out (or refused it). Idempotent for repeats."""
    now = clock.now()
    with uow:
        refund = uow.refunds.get_by_no(refund_no, lock=True)
        if refund is None:
            raise NotFound(f"refund {refund_no!r} does not exist")
        target = RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED
        if refund.status is target:
            return refund
        moved = uow.refunds.transition(
            refund.id,
            [RefundStatus.PENDING, RefundStatus.FAILED],
            target,
            completed_at=now if succeeded else None,
            channel_refund_id=channel_refund_id,
        )
        if not moved:
            raise InvalidTransition(
                f"refund {refund_no} is {refund.status.value}; it cannot change"
            )
        payment = uow.payments.get(refund.payment_id)
        if payment is None:
            raise InvariantViolated("payment is missing")
        if succeeded:
            entry = JournalEntry.build(
                "refund_paid",
                [
                    Posting(REFUNDS_PAYABLE, refund.amount_fen),
                    Posting(clearing(payment.channel), -refund.amount_fen),
                ],
                memo=f"refund {refund_no} paid by {payment.channel}",
                currency=payment.currency,
            )
            uow.journal.post([entry], now, payment_id=payment.id, refund_id=refund.id)
        done = uow.refunds.get_by_no(refund_no)
        if done is None:
            raise InvariantViolated("done is missing")
        uow.outbox.add(
            "refund.succeeded" if succeeded else "refund.failed",
            payment.biller_id,
            refund_payload(done, payment),
            now,
        )
        uow.commit()
        return done
