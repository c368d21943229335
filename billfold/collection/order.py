"""Unified orders: one payer, one or more bills of one biller, one state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from billfold.collection.allocation import Allocation
from billfold.errors import InvalidTransition

__all__ = ["DEFAULT_ORDER_TTL", "TRANSITIONS", "Order", "OrderStatus", "can_transition"]

DEFAULT_ORDER_TTL = timedelta(minutes=30)


class OrderStatus(StrEnum):
    CREATED = "created"
    PAYING = "paying"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    REVERSED = "reversed"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.CREATED: frozenset({S.PAYING, S.PAID, S.EXPIRED, S.CANCELLED, S.FAILED}),
    S.PAYING: frozenset({S.PAID, S.EXPIRED, S.CANCELLED, S.FAILED}),
    S.PAID: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.REVERSED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    # only by crediting, after review, money held for an order that arrived before it expired
    S.EXPIRED: frozenset({S.PAID}),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
    S.REFUNDED: frozenset(),
    S.REVERSED: frozenset(),
}

#: States from which a confirmed payment may still credit the order.
PAYABLE_STATES = (S.CREATED, S.PAYING)


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


@dataclass(slots=True)
class Order:
    order_no: str
    biller_id: int
    payer_id: int | None
    total_fen: int
    created_at: datetime
    expires_at: datetime
    lines: list[Allocation] = field(default_factory=list)
    status: OrderStatus = OrderStatus.CREATED
    channel: str | None = None
    currency: str = "CNY"
    refunded_fen: int = 0
    failure_reason: str | None = None
    paid_at: datetime | None = None
    payment_id: int | None = None
    id: int | None = None

    def transition(self, target: OrderStatus) -> None:
        if not can_transition(self.status, target):
            raise InvalidTransition(
                f"order {self.order_no} is {self.status.value}; it cannot become {target.value}"
            )
        self.status = target

    def is_expired_at(self, now: datetime) -> bool:
        return self.status in PAYABLE_STATES and now >= self.expires_at

    @property
    def payable(self) -> bool:
        return self.status in PAYABLE_STATES
