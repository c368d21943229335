"""Orders that end unpaid: expired past their time, or failed at their channel.

Their bills stay open for a new order; a payment arriving afterwards goes to suspense with
a refund queued (see :func:`billfold.collection.payment.decide`).
"""

from __future__ import annotations

from billfold.clock import Clock
from billfold.collection.order import PAYABLE_STATES, OrderStatus
from billfold.collection.ports import UnitOfWork
from billfold.errors import NotFound

__all__ = ["expire_orders", "fail_order"]


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
