"""Crediting held money: after review, a payment held for an amount mismatch reaches its
order's bills instead of going back.

What may be credited, and how, is decided by the pure
:func:`billfold.collection.held.decide_held_credit`; this use case locks the payment, the
order and its bills, and writes the decision exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billfold.clock import Clock, business_date
from billfold.collection.confirming import announce_payment
from billfold.collection.held import CREDITABLE_ORDER_STATES, HeldCredit, decide_held_credit
from billfold.collection.order import Order, OrderStatus
from billfold.collection.payment import PaymentRecord, PaymentStatus, SuspenseReason
from billfold.collection.ports import UnitOfWork
from billfold.collection.refund import RefundRecord
from billfold.collection.refunding import queue_refund
from billfold.errors import Conflict, InvalidInput, InvalidTransition, InvariantViolated, NotFound
from billfold.money import format_yuan

__all__ = ["CreditResult", "credit_held_payment"]


@dataclass(frozen=True, slots=True)
class CreditResult:
    payment: PaymentRecord
    already_credited: bool  # True when the payment had been credited after review before
    credited_fen: int  # what reached the bills (the order's total once credited)
    refund: RefundRecord | None = None  # the excess going back, if any


def credit_held_payment(
    uow: UnitOfWork, clock: Clock, payment_id: int, *, by: str, reason: str
) -> CreditResult:
    """After review, credit a payment held for an amount mismatch to its order's bills.

    Exactly once: the payment row is locked and moves held → credited by a conditional
    update, with the order and its bills locked as confirmation locks them. A repeat answers
    that it was credited already and changes nothing. What cannot be credited (see
    :mod:`billfold.collection.held`) is refused with the reason, and nothing changes.
    """
    now = clock.now()
    if not reason.strip() or not by.strip():
        raise InvalidInput("credit: a reason and who decides are required")
    with uow:
        payment = uow.payments.get(payment_id, lock=True)
        if payment is None:
            raise NotFound(f"payment {payment_id} does not exist")
        if _credited_before(payment):
            order = uow.orders.get(payment.order_id) if payment.order_id else None
            return CreditResult(payment, True, order.total_fen if order else 0)
        _check_held_for_review(uow, payment)
        order = uow.orders.get(payment.order_id, lock=True) if payment.order_id else None
        if order is None or order.id is None:
            raise NotFound(f"payment {payment.id} has lost its order")
        context = uow.billers.fee_context(order.biller_id, payment.channel)
        if context is None:
            raise NotFound(f"payment {payment.id} has lost its biller")
        bills = uow.bills.for_order(order.id, lock=True)
        rule = context.rule
        plan = decide_held_credit(
            payment,
            order,
            bills,
            context.code,
            rule.fee_for if rule is not None else (lambda _amount: 0),
            business_date(payment.paid_at, context.timezone),
        )
        _write_credit(uow, payment, order, plan, now)
        uow.bills.apply(bills, plan.credits, now)
        uow.journal.post(plan.entries, now, payment_id=payment.id)
        record = uow.payments.get(payment.id)
        if record is None:
            raise InvariantViolated("record is missing")
        extra = {"credited_fen": plan.credited_fen, "after_review": True}
        announce_payment(uow, record, plan.credits, plan.bills_now_paid, bills, now, extra)
        refund = None
        if plan.excess_fen:
            why = f"excess over order {order.order_no}, credited after review"
            refund = queue_refund(uow, record, plan.excess_fen, why, now)
            record = uow.payments.get(payment.id)
            if record is None:
                raise InvariantViolated("record is missing")
        _audit_credit(uow, payment, order, plan, refund, by, reason, now)
        uow.commit()
        return CreditResult(record, False, plan.credited_fen, refund)


def _credited_before(payment: PaymentRecord) -> bool:
    mismatch = SuspenseReason.AMOUNT_MISMATCH.value
    return payment.status is PaymentStatus.CREDITED and payment.reason == mismatch


def _check_held_for_review(uow: UnitOfWork, payment: PaymentRecord) -> None:
    """Only a payment held for an amount mismatch, with no refunds, is credited."""
    if payment.status is not PaymentStatus.HELD:
        raise InvalidTransition(
            f"payment {payment.id} is {payment.status.value}; "
            "only a held payment can be credited after review"
        )
    if payment.reason != SuspenseReason.AMOUNT_MISMATCH.value:
        raise InvalidTransition(
            f"payment {payment.id} is held for {payment.reason}; only an amount mismatch "
            "can be credited after review, refund it instead"
        )
    if payment.refunded_fen or uow.refunds.for_payment(payment.id):
        raise InvalidTransition(
            f"payment {payment.id} has refunds ({format_yuan(payment.refunded_fen)}); "
            "refund the rest instead of crediting it"
        )


def _write_credit(
    uow: UnitOfWork, payment: PaymentRecord, order: Order, plan: HeldCredit, now: datetime
) -> None:
    """The payment held → credited, the order re-lined to what is credited and paid."""
    if order.id is None:
        raise InvariantViolated("order.id is missing")
    if not uow.payments.credit_held(payment.id, plan.fee_fen):
        raise Conflict(f"payment {payment.id} changed meanwhile; look it up again")
    if plan.credited_fen != order.total_fen or list(plan.lines) != order.lines:
        uow.orders.reline(order.id, plan.lines, plan.credited_fen)
    moved = uow.orders.transition(
        order.id,
        CREDITABLE_ORDER_STATES,
        OrderStatus.PAID,
        paid_at=payment.paid_at,
        payment_id=payment.id,
        channel=payment.channel,
    )
    if not moved:  # cannot happen while the order row is locked
        raise Conflict(f"order {order.order_no} changed while it was locked")


def _audit_credit(
    uow: UnitOfWork,
    payment: PaymentRecord,
    order: Order,
    plan: HeldCredit,
    refund: RefundRecord | None,
    by: str,
    reason: str,
    now: datetime,
) -> None:
    uow.audit.append(
        actor=by,
        action="credit_held",
        target_type="payment",
        target_id=str(payment.id),
        reason=reason,
        before={"status": payment.status.value, "order_status": order.status.value},
        after={
            "status": PaymentStatus.CREDITED.value,
            "credited": format_yuan(plan.credited_fen),
            "returned": format_yuan(plan.excess_fen),
            "refund_no": refund.refund_no if refund else None,
        },
        now=now,
    )
