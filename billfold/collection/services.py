"""Use cases of the collection core: ``handle(cmd, uow)`` style functions.

Each opens the unit of work, reads (and locks) what it changes, asks the pure domain what
to do, writes the result with conditional updates, and commits. Leaving without commit
rolls everything back, so a bad input changes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from billfold.clock import Clock, business_date
from billfold.collection.allocation import allocate
from billfold.collection.already_paid import refuse_paid_bills
from billfold.collection.bill import LATE_FEE_CODE, Bill, Waiver
from billfold.collection.held import CREDITABLE_ORDER_STATES, decide_held_credit
from billfold.collection.journal import (
    REFUNDS_PAYABLE,
    SUSPENSE,
    JournalEntry,
    Posting,
    clearing,
    payable,
)
from billfold.collection.order import DEFAULT_ORDER_TTL, PAYABLE_STATES, Order, OrderStatus
from billfold.collection.payment import (
    BillCredit,
    Confirmation,
    PaymentRecord,
    PaymentStatus,
    SuspenseReason,
    decide,
    refund_entry,
)
from billfold.collection.ports import UnitOfWork
from billfold.collection.refund import (
    RefundKind,
    RefundRecord,
    RefundStatus,
    fee_share,
    split_refund,
)
from billfold.errors import Conflict, InvalidInput, InvalidTransition, LimitExceeded, NotFound
from billfold.merchants.biller import Biller
from billfold.money import format_yuan

__all__ = [
    "ConfirmResult",
    "CreditResult",
    "cancel_bill",
    "complete_refund",
    "confirm_payment",
    "create_order",
    "credit_held_payment",
    "expire_orders",
    "refund_payment",
    "reverse_payment",
    "start_payment",
    "waive_bill",
]


def _new_number(prefix: str, now: datetime) -> str:
    """Order/refund numbers: prefix + UTC date-time + 10 random hex digits (≤ 32 chars)."""
    return f"{prefix}{now:%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}"


def require_biller(uow: UnitOfWork, code: str) -> Biller:
    """The stored biller ``code``, or :class:`NotFound` naming it."""
    biller = uow.billers.get_by_code(code)
    if biller is None or biller.id is None:
        raise NotFound(f"biller {code!r} does not exist")
    return biller


# -- orders ----------------------------------------------------------------------------------


def create_order(
    uow: UnitOfWork,
    clock: Clock,
    *,
    biller_code: str,
    bill_nos: list[str],
    amount_fen: int | None = None,
    channel: str | None = None,
    idempotency_key: str | None = None,
    ttl: timedelta = DEFAULT_ORDER_TTL,
) -> Order:
    """Create one order for one or more bills of one biller and one payer.

    The engine computes the total (late fees as of now); the payer only states an amount
    for an open-amount bill or a part payment the bill allows.
    """
    now = clock.now()
    with uow:
        biller = require_biller(uow, biller_code)
        assert biller.id is not None
        if idempotency_key:
            existing = uow.orders.by_idempotency_key(biller.id, idempotency_key)
            if existing is not None:
                return existing
        if not biller.accepts_orders:
            raise Conflict(f"biller {biller.code} is suspended; it takes no new orders")
        if not bill_nos:
            raise InvalidInput("bills: an order needs at least one bill")
        if len(set(bill_nos)) != len(bill_nos):
            raise InvalidInput("bills: the same bill is listed twice")
        bills: list[Bill] = []
        for bill_no in bill_nos:
            bill = uow.bills.get_by_no(biller.id, bill_no)
            if bill is None:
                raise NotFound(f"bill {bill_no!r} does not exist for biller {biller.code}")
            bills.append(bill)
        if len({bill.payer_id for bill in bills}) != 1:
            raise InvalidInput("bills: one order pays the bills of one payer")
        refuse_paid_bills(bills)
        today = business_date(now, biller.timezone)
        lines = allocate(bills, today, amount_fen)
        total = sum(line.amount_fen for line in lines)
        limits = biller.limits
        if limits.single_payment_fen is not None and total > limits.single_payment_fen:
            raise LimitExceeded(
                f"amount {format_yuan(total)} is over {biller.code}'s single-payment limit "
                f"of {format_yuan(limits.single_payment_fen)}"
            )
        if limits.daily_fen is not None:
            used = uow.orders.day_total(biller.id, today)
            if used + total > limits.daily_fen:
                raise LimitExceeded(
                    f"amount {format_yuan(total)} would take {biller.code} over its daily limit "
                    f"of {format_yuan(limits.daily_fen)} ({format_yuan(used)} used today)"
                )
        order = Order(
            order_no=_new_number("BF", now),
            biller_id=biller.id,
            payer_id=bills[0].payer_id,
            total_fen=total,
            created_at=now,
            expires_at=now + ttl,
            lines=lines,
            channel=channel,
            currency=bills[0].currency,
        )
        if uow.orders.add(order, today, idempotency_key) is None:
            uow.rollback()  # a concurrent request with the same key made the order first
            assert idempotency_key is not None
            winner = uow.orders.by_idempotency_key(biller.id, idempotency_key)
            assert winner is not None
            return winner
        uow.commit()
        return order


def start_payment(uow: UnitOfWork, clock: Clock, order_no: str, channel: str) -> Order:
    """A channel has been asked to collect: created → paying (repeats are harmless)."""
    now = clock.now()
    with uow:
        order = uow.orders.get_by_no(order_no, lock=True)
        if order is None:
            raise NotFound(f"order {order_no!r} does not exist")
        if order.payable and order.id is not None:
            refuse_paid_bills(uow.bills.for_order(order.id), order.lines)
        if order.status is OrderStatus.PAYING and order.channel == channel:
            return order
        if order.is_expired_at(now):
            raise InvalidTransition(f"order {order_no} has expired; create a new order")
        order.transition(OrderStatus.PAYING)
        assert order.id is not None
        if not uow.orders.transition(
            order.id, [OrderStatus.CREATED, OrderStatus.PAYING], OrderStatus.PAYING, channel=channel
        ):
            raise InvalidTransition(f"order {order_no} changed meanwhile; look it up again")
        order.channel = channel
        uow.commit()
        return order


def expire_orders(uow: UnitOfWork, clock: Clock, limit: int = 1000) -> int:
    """Mark orders past their expiry as expired. A payment arriving later goes to suspense."""
    now = clock.now()
    count = 0
    with uow:
        for order_no in uow.orders.due_to_expire(now, limit):
            order = uow.orders.get_by_no(order_no, lock=True)
            if order is None or order.id is None:
                continue
            if uow.orders.transition(order.id, PAYABLE_STATES, OrderStatus.EXPIRED):
                uow.outbox.add("order.expired", order.biller_id, {"order_no": order_no}, now)
                count += 1
        uow.commit()
    return count


def fail_order(uow: UnitOfWork, clock: Clock, order_no: str, channel: str, reason: str) -> bool:
    """The channel says the payer's attempt failed or it closed the order unpaid: an order
    still paying through that channel becomes failed (its bills stay open for a new order).
    A payment arriving afterwards goes to suspense with a refund queued, as for an expired
    order. False when the order has moved on (paid, expired, sent to another channel)."""
    now = clock.now()
    with uow:
        order = uow.orders.get_by_no(order_no, lock=True)
        if order is None or order.id is None:
            raise NotFound(f"order {order_no!r} does not exist")
        if order.status is not OrderStatus.PAYING or order.channel != channel:
            return False
        if not uow.orders.transition(
            order.id, [OrderStatus.PAYING], OrderStatus.FAILED, failure_reason=reason[:64]
        ):
            return False
        uow.outbox.add(
            "order.failed",
            order.biller_id,
            {"order_no": order_no, "channel": channel, "reason": reason},
            now,
        )
        uow.audit.append(
            actor=channel,
            action="fail_order",
            target_type="order",
            target_id=order_no,
            reason=reason,
            before={"status": OrderStatus.PAYING.value},
            after={"status": OrderStatus.FAILED.value},
            now=now,
        )
        uow.commit()
        return True


# -- confirmation ------------------------------------------------------------------------------


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
    """
    now = clock.now()
    with uow:
        seen = uow.payments.find(conf.channel, conf.channel_txn_id)
        if seen is not None:
            return ConfirmResult(seen, duplicate=True)
        order = uow.orders.get_by_no(conf.order_no, lock=True)
        context = uow.billers.fee_context(order.biller_id, conf.channel) if order else None
        bills = uow.bills.for_order(order.id, lock=True) if order and order.id else []
        today = business_date(conf.paid_at, context.timezone if context else "Asia/Shanghai")
        fee = context.rule.fee_for(conf.amount_fen) if context and context.rule else 0
        decision = decide(conf, order, bills, context.code if context else None, fee, today)

        values: dict[str, Any] = {
            "channel": conf.channel,
            "channel_txn_id": conf.channel_txn_id,
            "order_no": conf.order_no,
            "order_id": order.id if order else None,
            "biller_id": order.biller_id if order else None,
            "status": decision.status.value,
            "reason": decision.reason.value if decision.reason else None,
            "amount_fen": conf.amount_fen,
            "fee_fen": decision.fee_fen,
            "refunded_fen": 0,
            "currency": conf.currency,
            "paid_at": conf.paid_at,
            "received_at": now,
            "business_date": today,
        }
        payment_id = uow.payments.insert(values)
        if payment_id is None:  # a concurrent delivery of the same transaction won
            uow.rollback()
            winner = uow.payments.find(conf.channel, conf.channel_txn_id)
            assert winner is not None
            return ConfirmResult(winner, duplicate=True)

        if order is not None and order.id is not None and decision.order_status is not None:
            extra: dict[str, Any] = {}
            if decision.credited:
                extra = {"paid_at": conf.paid_at, "payment_id": payment_id, "channel": conf.channel}
            elif decision.order_status is OrderStatus.FAILED and decision.reason:
                extra = {"failure_reason": decision.reason.value}
            moved = uow.orders.transition(order.id, PAYABLE_STATES, decision.order_status, **extra)
            if not moved and decision.credited:  # cannot happen while the order row is locked
                raise Conflict(f"order {order.order_no} changed while it was locked")
        if decision.credited:
            uow.bills.apply(bills, decision.credits, now)
        uow.journal.post(decision.entries, now, payment_id=payment_id)
        record = PaymentRecord(
            id=payment_id,
            channel=conf.channel,
            channel_txn_id=conf.channel_txn_id,
            order_no=conf.order_no,
            order_id=values["order_id"],
            biller_id=values["biller_id"],
            status=decision.status,
            reason=values["reason"],
            amount_fen=conf.amount_fen,
            fee_fen=decision.fee_fen,
            refunded_fen=0,
            currency=conf.currency,
            paid_at=conf.paid_at,
            received_at=now,
        )
        biller_id = order.biller_id if order else None
        _payment_events(
            uow, record, decision.credits, decision.bills_now_paid, bills, now, biller_id
        )
        if decision.credited:  # the channel's own events, in this same transaction
            for event_type, event_payload in conf.on_credit:
                uow.outbox.add(event_type, biller_id, event_payload, now)
        if decision.queue_refund:
            _queue_refund(
                uow, record, record.amount_fen, "automatic: " + (record.reason or ""), now
            )
        uow.commit()
        return ConfirmResult(record, duplicate=False)


def _payment_events(
    uow: UnitOfWork,
    record: PaymentRecord,
    credits: tuple[BillCredit, ...],
    now_paid: tuple[int, ...],
    bills: list[Bill],
    now: datetime,
    biller_id: int | None,
    extra: dict[str, Any] | None = None,
) -> None:
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
    uow.outbox.add(kind, biller_id, payload, now)
    names = {bill.id: bill.bill_no for bill in bills}
    for bill_id in sorted({c.bill_id for c in credits}):
        amount = sum(c.amount_fen for c in credits if c.bill_id == bill_id)
        event = "bill.paid" if bill_id in now_paid else "bill.partially_paid"
        uow.outbox.add(
            event,
            biller_id,
            {"bill_no": names.get(bill_id), "amount_fen": amount, "order_no": record.order_no},
            now,
        )


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
        mismatch = SuspenseReason.AMOUNT_MISMATCH.value
        if payment.status is PaymentStatus.CREDITED and payment.reason == mismatch:
            order = uow.orders.get(payment.order_id) if payment.order_id else None
            return CreditResult(payment, True, order.total_fen if order else 0)
        if payment.status is not PaymentStatus.HELD:
            raise InvalidTransition(
                f"payment {payment.id} is {payment.status.value}; "
                "only a held payment can be credited after review"
            )
        if payment.reason != mismatch:
            raise InvalidTransition(
                f"payment {payment.id} is held for {payment.reason}; only an amount mismatch "
                "can be credited after review, refund it instead"
            )
        if payment.refunded_fen or uow.refunds.for_payment(payment.id):
            raise InvalidTransition(
                f"payment {payment.id} has refunds ({format_yuan(payment.refunded_fen)}); "
                "refund the rest instead of crediting it"
            )
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
        uow.bills.apply(bills, plan.credits, now)
        uow.journal.post(plan.entries, now, payment_id=payment.id)
        record = uow.payments.get(payment.id)
        assert record is not None
        _payment_events(
            uow,
            record,
            plan.credits,
            plan.bills_now_paid,
            bills,
            now,
            order.biller_id,
            {"credited_fen": plan.credited_fen, "after_review": True},
        )
        refund = None
        if plan.excess_fen:
            refund = _queue_refund(
                uow,
                record,
                plan.excess_fen,
                f"excess over order {order.order_no}, credited after review",
                now,
            )
            record = uow.payments.get(payment.id)
            assert record is not None
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
        uow.commit()
        return CreditResult(record, False, plan.credited_fen, refund)


def _queue_refund(
    uow: UnitOfWork, payment: PaymentRecord, amount_fen: int, reason: str, now: datetime
) -> RefundRecord:
    """Queue the refund of money sitting in suspense (its journal entry is already posted)."""
    refund_id = uow.refunds.insert(
        {
            "refund_no": _new_number("RF", now),
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
    assert refund_id is not None
    uow.payments.add_refunded(payment.id, amount_fen)
    refund = uow.refunds.find(payment.id, f"auto-{payment.id}")
    assert refund is not None
    uow.outbox.add("refund.created", payment.biller_id, _refund_payload(refund, payment), now)
    return refund


def _refund_payload(refund: RefundRecord, payment: PaymentRecord) -> dict[str, Any]:
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


# -- refunds and reversals -------------------------------------------------------------------------


def refund_payment(
    uow: UnitOfWork,
    clock: Clock,
    *,
    payment_id: int,
    amount_fen: int,
    request_id: str,
    reason: str,
    requested_by: str,
) -> RefundRecord:
    """Refund part or all of a payment; never more than was paid, once per request id."""
    now = clock.now()
    if not request_id or len(request_id) > 64:
        raise InvalidInput("request_id: 1-64 characters required (it makes the refund idempotent)")
    if not reason.strip() or not requested_by.strip():
        raise InvalidInput("refund: a reason and who requests it are required")
    with uow:
        payment = uow.payments.get(payment_id, lock=True)
        if payment is None:
            raise NotFound(f"payment {payment_id} does not exist")
        existing = uow.refunds.find(payment.id, request_id)
        if existing is not None:
            if existing.amount_fen != amount_fen:
                raise Conflict(
                    f"refund request {request_id} was made before for "
                    f"{format_yuan(existing.amount_fen)}, not {format_yuan(amount_fen)}"
                )
            return existing
        if payment.status is PaymentStatus.REVERSED:
            raise InvalidTransition(
                f"payment {payment.id} was reversed; there is nothing to refund"
            )
        if amount_fen <= 0:
            raise InvalidInput(
                f"amount: a refund must be more than 0.00, got {format_yuan(amount_fen)}"
            )
        if amount_fen > payment.refundable_fen:
            raise InvalidInput(
                f"amount: {format_yuan(amount_fen)} is more than the "
                f"{format_yuan(payment.refundable_fen)} left to refund on payment {payment.id}"
            )
        memo = f"refund {request_id} of payment {payment.id}"
        fee_back = 0
        if payment.status is PaymentStatus.CREDITED:
            order = uow.orders.get(payment.order_id, lock=True) if payment.order_id else None
            biller = uow.billers.get(payment.biller_id) if payment.biller_id else None
            if order is None or order.id is None or biller is None:
                raise NotFound(f"payment {payment.id} has lost its order")
            parts = split_refund(uow.orders.refund_lines(order.id), amount_fen)
            bills = uow.bills.get_many([line.bill_id for line, _ in parts], lock=True)
            _take_back(
                bills,
                [(line.bill_id, line.item_code, amount) for line, amount in parts],
                refund=True,
            )
            uow.bills.apply(bills, [], now)
            uow.orders.add_line_refunds([(line.line_id, amount) for line, amount in parts])
            fee_back = fee_share(
                payment.fee_fen, payment.amount_fen, payment.refunded_fen, amount_fen
            )
            bill_parts = [(line.bill_id, amount) for line, amount in parts]
            entries = refund_entry(biller.code, bill_parts, fee_back, memo)
            left = order.total_fen - order.refunded_fen - amount_fen
            uow.orders.add_refunded(
                order.id,
                amount_fen,
                OrderStatus.REFUNDED if left == 0 else OrderStatus.PARTIALLY_REFUNDED,
            )
            kind = RefundKind.CREDITED
        else:  # held money: return it from suspense
            entries = [
                JournalEntry.build(
                    "refund_queued",
                    [Posting(SUSPENSE, amount_fen), Posting(REFUNDS_PAYABLE, -amount_fen)],
                    memo=memo,
                )
            ]
            kind = RefundKind.SUSPENSE
        refund_id = uow.refunds.insert(
            {
                "refund_no": _new_number("RF", now),
                "payment_id": payment.id,
                "request_id": request_id,
                "kind": kind.value,
                "status": RefundStatus.PENDING.value,
                "amount_fen": amount_fen,
                "fee_fen": fee_back,
                "reason": reason[:200],
                "requested_by": requested_by,
                "created_at": now,
            }
        )
        if refund_id is None:
            raise Conflict(f"refund request {request_id} is being made right now; look it up")
        uow.payments.add_refunded(payment.id, amount_fen)
        uow.journal.post(entries, now, payment_id=payment.id, refund_id=refund_id)
        refund = uow.refunds.find(payment.id, request_id)
        assert refund is not None
        uow.outbox.add("refund.created", payment.biller_id, _refund_payload(refund, payment), now)
        uow.audit.append(
            actor=requested_by,
            action="refund",
            target_type="payment",
            target_id=str(payment.id),
            reason=reason,
            before={"refunded": format_yuan(payment.refunded_fen)},
            after={
                "refunded": format_yuan(payment.refunded_fen + amount_fen),
                "refund_no": refund.refund_no,
            },
            now=now,
        )
        uow.commit()
        return refund


def _take_back(bills: list[Bill], parts: list[tuple[int, str, int]], *, refund: bool) -> None:
    """Take money back off bills: a refund is no longer owed; a reversal is owed again."""
    by_id = {bill.id: bill for bill in bills}
    for bill_id, code, amount in parts:
        bill = by_id[bill_id]
        if code == LATE_FEE_CODE:
            bill.late_fee_paid_fen -= amount
            continue
        item = bill.item(code)
        item.paid_fen -= amount
        if refund:
            item.refunded_fen += amount


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
        assert payment is not None
        if succeeded:
            entry = JournalEntry.build(
                "refund_paid",
                [
                    Posting(REFUNDS_PAYABLE, refund.amount_fen),
                    Posting(clearing(payment.channel), -refund.amount_fen),
                ],
                memo=f"refund {refund_no} paid by {payment.channel}",
            )
            uow.journal.post([entry], now, payment_id=payment.id, refund_id=refund.id)
        done = uow.refunds.get_by_no(refund_no)
        assert done is not None
        uow.outbox.add(
            "refund.succeeded" if succeeded else "refund.failed",
            payment.biller_id,
            _refund_payload(done, payment),
            now,
        )
        uow.commit()
        return done


def reverse_payment(
    uow: UnitOfWork,
    clock: Clock,
    *,
    channel: str,
    channel_txn_id: str,
    reason: str,
    requested_by: str,
    order_no: str = "",
) -> PaymentRecord:
    """Undo (冲正) a payment that did not complete cleanly. Idempotent, and safe if the
    payment never arrived: a marker is stored so that a late confirmation credits nothing."""
    now = clock.now()
    with uow:
        payment = uow.payments.find(channel, channel_txn_id, lock=True)
        if payment is None:
            marker_id = uow.payments.insert(
                {
                    "channel": channel,
                    "channel_txn_id": channel_txn_id,
                    "order_no": order_no or "-",
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
            if marker_id is not None:
                uow.commit()
                marker = uow.payments.find(channel, channel_txn_id)
                assert marker is not None
                return marker
            # the payment arrived meanwhile and took the key: reverse that payment instead
            uow.rollback()
            payment = uow.payments.find(channel, channel_txn_id, lock=True)
            assert payment is not None
        if payment.status is PaymentStatus.REVERSED:
            return payment
        refunds = uow.refunds.for_payment(payment.id)
        if any(r.status is RefundStatus.SUCCEEDED for r in refunds) or (
            payment.status is PaymentStatus.CREDITED and refunds
        ):
            raise InvalidTransition(
                f"payment {payment.id} has refunds; refund the rest instead of reversing it"
            )
        entries: list[JournalEntry] = []
        ch = clearing(channel)
        if payment.status is PaymentStatus.CREDITED:
            order = uow.orders.get(payment.order_id, lock=True) if payment.order_id else None
            biller = uow.billers.get(payment.biller_id) if payment.biller_id else None
            assert order is not None and order.id is not None and biller is not None
            bills = uow.bills.get_many([line.bill_id for line in order.lines], lock=True)
            _take_back(
                bills,
                [(ln.bill_id, ln.item_code, ln.amount_fen) for ln in order.lines],
                refund=False,
            )
            uow.bills.apply(bills, [], now)
            account = payable(biller.code)
            entries.append(
                JournalEntry.build(
                    "reversal",
                    [Posting(account, ln.amount_fen, ln.bill_id) for ln in order.lines]
                    + [Posting(ch, -payment.amount_fen)],
                    memo=f"reversal {channel} {channel_txn_id}",
                )
            )
            if payment.fee_fen:
                entries.append(
                    JournalEntry.build(
                        "fee_reversal",
                        [
                            Posting("fee_income", payment.fee_fen),
                            Posting(account, -payment.fee_fen),
                        ],
                        memo=f"reversal {channel} {channel_txn_id}",
                    )
                )
            uow.orders.transition(order.id, [OrderStatus.PAID], OrderStatus.REVERSED)
        else:
            pending = [
                r for r in refunds if r.status in (RefundStatus.PENDING, RefundStatus.FAILED)
            ]
            queued = sum(r.amount_fen for r in pending)
            for r in pending:
                uow.refunds.transition(r.id, [r.status], RefundStatus.CANCELLED)
            postings = [Posting(ch, -payment.amount_fen)]
            if queued:
                postings.append(Posting(REFUNDS_PAYABLE, queued))
            if payment.amount_fen - queued:
                postings.append(Posting(SUSPENSE, payment.amount_fen - queued))
            entries.append(
                JournalEntry.build(
                    "reversal", postings, memo=f"reversal {channel} {channel_txn_id}"
                )
            )
        if not uow.payments.transition(payment.id, payment.status, PaymentStatus.REVERSED):
            raise Conflict(f"payment {payment.id} changed meanwhile; try again")
        uow.journal.post(entries, now, payment_id=payment.id)
        uow.audit.append(
            actor=requested_by,
            action="reverse",
            target_type="payment",
            target_id=str(payment.id),
            reason=reason,
            before={"status": payment.status.value},
            after={"status": PaymentStatus.REVERSED.value},
            now=now,
        )
        record = uow.payments.get(payment.id)
        assert record is not None
        uow.outbox.add(
            "payment.reversed",
            payment.biller_id,
            {
                "payment_id": payment.id,
                "order_no": payment.order_no,
                "amount_fen": payment.amount_fen,
            },
            now,
        )
        uow.commit()
        return record


# -- operator actions on bills ------------------------------------------------------------------


def waive_bill(
    uow: UnitOfWork,
    clock: Clock,
    *,
    biller_code: str,
    bill_no: str,
    amount_fen: int,
    reason: str,
    granted_by: str,
    item_code: str | None = None,
) -> Bill:
    now = clock.now()
    with uow:
        biller = require_biller(uow, biller_code)
        assert biller.id is not None
        bill = uow.bills.get_by_no(biller.id, bill_no, lock=True)
        if bill is None:
            raise NotFound(f"bill {bill_no!r} does not exist for biller {biller_code}")
        before = bill.snapshot()
        bill.waive(item_code, amount_fen, reason, granted_by)
        assert bill.id is not None
        uow.bills.save(bill, now)
        uow.bills.add_waiver(bill.id, Waiver(item_code or "*", amount_fen, reason, granted_by, now))
        uow.audit.append(
            actor=granted_by,
            action="waive",
            target_type="bill",
            target_id=f"{biller_code}/{bill_no}",
            reason=reason,
            before=before,
            after=bill.snapshot(),
            now=now,
        )
        uow.outbox.add(
            "bill.waived", biller.id, {"bill_no": bill_no, "amount_fen": amount_fen}, now
        )
        uow.commit()
        return bill


def cancel_bill(
    uow: UnitOfWork, clock: Clock, *, biller_code: str, bill_no: str, reason: str, by: str
) -> Bill:
    now = clock.now()
    with uow:
        biller = require_biller(uow, biller_code)
        assert biller.id is not None
        bill = uow.bills.get_by_no(biller.id, bill_no, lock=True)
        if bill is None:
            raise NotFound(f"bill {bill_no!r} does not exist for biller {biller_code}")
        before = bill.snapshot()
        bill.cancel(reason)
        uow.bills.save(bill, now)
        uow.audit.append(
            actor=by,
            action="cancel",
            target_type="bill",
            target_id=f"{biller_code}/{bill_no}",
            reason=reason,
            before=before,
            after=bill.snapshot(),
            now=now,
        )
        uow.outbox.add("bill.cancelled", biller.id, {"bill_no": bill_no}, now)
        uow.commit()
        return bill
