"""Orders that end unpaid: expired past their time, failed at their channel, or cancelled
by the back office.

Their bills stay open for a new order; a payment arriving afterwards goes to suspense with
a refund queued (see :func:`billfold.collection.payment.decide`).
"""

from __future__ import annotations

from billfold.clock import Clock
from billfold.collection.order import PAYABLE_STATES, Order, OrderStatus
from billfold.collection.ports import UnitOfWork
from billfold.errors import InvalidInput, InvalidTransition, NotFound

__all__ = ["cancel_order", "expire_orders", "fail_order"]


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


def cancel_order(
    uow: UnitOfWork,
    clock: Clock,
    order_no: str,
    *,
    reason: str,
    by: str,
    biller_id: int | None = None,
) -> Order:
    """Cancel an order nobody is paying yet (``created``); its bills stay open for a new
    order. An order sent to a channel (``paying``) has a payment in flight and is refused:
    it ends by paying, failing or expiring. The order row is locked and moved by a
    conditional update, so a payment confirmed at the same moment either came first (the
    cancel is refused: the order is paid) or comes after (it goes to suspense with a refund
    queued, as for an expired order). ``biller_id`` limits it to one biller's orders."""
    if not reason.strip() or not by.strip():
        raise InvalidInput("cancel: a reason and who cancels the order are required")
    now = clock.now()
    with uow:
        order = uow.orders.get_by_no(order_no, lock=True)
        if (
            order is None
            or order.id is None
            or (biller_id is not None and order.biller_id != biller_id)
        ):
            raise NotFound(f"order {order_no!r} does not exist")
        if order.status is OrderStatus.PAYING:
            raise InvalidTransition(
                f"order {order_no} is being paid through {order.channel}; a payment is in "
                "flight, so it cannot be cancelled (it ends when paid, failed or expired)"
            )
        if order.status is not OrderStatus.CREATED or not uow.orders.transition(
            order.id, [OrderStatus.CREATED], OrderStatus.CANCELLED
        ):
            raise InvalidTransition(
                f"order {order_no} is {order.status.value}; only an order not yet being paid "
                "can be cancelled"
            )
        uow.audit.append(
            actor=by,
            action="cancel_order",
            target_type="order",
            target_id=order_no,
            reason=reason,
            before={"status": order.status.value},
            after={"status": OrderStatus.CANCELLED.value},
            now=now,
        )
        uow.outbox.add("order.cancelled", order.biller_id, {"order_no": order_no}, now)
        uow.commit()
        order.status = OrderStatus.CANCELLED
        return order
