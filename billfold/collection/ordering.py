"""Ordering: a payer asks to pay some bills; the engine prices them into one order.

:func:`create_order` checks the bills, shares the amount out by the one allocation rule
(late fees as of the business date), holds the biller's limits and stores the order;
:func:`start_payment` records that a channel has been asked to collect it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from billfold.clock import Clock, business_date
from billfold.collection.allocation import allocate
from billfold.collection.already_paid import refuse_paid_bills
from billfold.collection.bill import Bill
from billfold.collection.numbers import new_number
from billfold.collection.order import DEFAULT_ORDER_TTL, Order, OrderStatus
from billfold.collection.ports import UnitOfWork
from billfold.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    InvariantViolated,
    LimitExceeded,
    NotFound,
)
from billfold.merchants.biller import Biller
from billfold.merchants.services import require_biller
from billfold.money import format_yuan

__all__ = ["NewOrder", "create_order", "start_payment"]


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A request to pay ``bill_nos`` of one biller (and one payer) in one order.

    ``amount_fen`` is stated only for an open-amount bill or a part payment the bills
    allow; otherwise the engine prices everything due. A repeated ``idempotency_key``
    returns the first order."""

    biller_code: str
    bill_nos: tuple[str, ...]
    amount_fen: int | None = None
    channel: str | None = None
    idempotency_key: str | None = None
    ttl: timedelta = DEFAULT_ORDER_TTL


def create_order(uow: UnitOfWork, clock: Clock, cmd: NewOrder) -> Order:
    """Create one order for one or more bills of one biller and one payer."""
    now = clock.now()
    with uow:
        biller = require_biller(uow, cmd.biller_code)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        if cmd.idempotency_key:
            existing = uow.orders.by_idempotency_key(biller.id, cmd.idempotency_key)
            if existing is not None:
                return existing
        if not biller.accepts_orders:
            raise Conflict(f"biller {biller.code} is suspended; it takes no new orders")
        bills = _bills_of_one_payer(uow, biller, cmd.bill_nos)
        refuse_paid_bills(bills)
        today = business_date(now, biller.timezone)
        lines = allocate(bills, today, cmd.amount_fen)
        total = sum(line.amount_fen for line in lines)
        _check_limits(uow, biller, total, today)
        order = Order(
            order_no=new_number("BF", now),
            biller_id=biller.id,
            payer_id=bills[0].payer_id,
            total_fen=total,
            created_at=now,
            expires_at=now + cmd.ttl,
            lines=lines,
            channel=cmd.channel,
            currency=bills[0].currency,
        )
        if uow.orders.add(order, today, cmd.idempotency_key) is None:
            uow.rollback()  # a concurrent request with the same key made the order first
            if cmd.idempotency_key is None:
                raise InvariantViolated("cmd.idempotency_key is missing")
            winner = uow.orders.by_idempotency_key(biller.id, cmd.idempotency_key)
            if winner is None:
                raise InvariantViolated("winner is missing")
            return winner
        uow.commit()
        return order


def _bills_of_one_payer(uow: UnitOfWork, biller: Biller, bill_nos: Sequence[str]) -> list[Bill]:
    """The stored bills ``bill_nos`` of ``biller``: at least one, none twice, one payer."""
    if biller.id is None:
        raise InvariantViolated("biller.id is missing")
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
    return bills


def _check_limits(uow: UnitOfWork, biller: Biller, total: int, today: date) -> None:
    """Refuse an order over the biller's single-payment, daily or monthly limit.

    Concurrent orders of one biller must not all read the same "used so far": the biller's
    limits row is locked first (until commit), so each order counts the ones before it."""
    if biller.id is None:
        raise InvariantViolated("biller.id is missing")
    limits = biller.limits
    if limits.single_payment_fen is not None and total > limits.single_payment_fen:
        raise LimitExceeded(
            f"amount {format_yuan(total)} is over {biller.code}'s single-payment limit "
            f"of {format_yuan(limits.single_payment_fen)}"
        )
    if limits.daily_fen is None and limits.monthly_fen is None:
        return
    uow.billers.lock_limits(biller.id)
    if limits.daily_fen is not None:
        used = uow.orders.ordered_total(biller.id, today, today)
        if used + total > limits.daily_fen:
            raise LimitExceeded(
                f"amount {format_yuan(total)} would take {biller.code} over its daily limit "
                f"of {format_yuan(limits.daily_fen)} ({format_yuan(used)} used today)"
            )
    if limits.monthly_fen is not None:
        used = uow.orders.ordered_total(biller.id, today.replace(day=1), today)
        if used + total > limits.monthly_fen:
            raise LimitExceeded(
                f"amount {format_yuan(total)} would take {biller.code} over its monthly limit "
                f"of {format_yuan(limits.monthly_fen)} ({format_yuan(used)} used in {today:%Y-%m})"
            )


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
        if order.id is None:
            raise InvariantViolated("order.id is missing")
        if not uow.orders.transition(
            order.id, [OrderStatus.CREATED, OrderStatus.PAYING], OrderStatus.PAYING, channel=channel
        ):
            raise InvalidTransition(f"order {order_no} changed meanwhile; look it up again")
        order.channel = channel
        uow.commit()
        return order
