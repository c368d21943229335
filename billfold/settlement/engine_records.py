"""What the engine knows of a channel transaction or a refund, as reconciliation sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["HOLDING", "EnginePayment", "EngineRefund"]

#: Engine payment statuses in which the engine holds the money (on a bill or in suspense).
HOLDING = frozenset({"credited", "held", "suspense"})


@dataclass(frozen=True, slots=True)
class EnginePayment:
    """What the engine knows of one channel transaction."""

    id: int
    channel_txn_id: str
    order_no: str
    amount_fen: int
    fee_fen: int
    status: str
    business_date: date
    currency: str = "CNY"
    biller_id: int | None = None

    @property
    def holds_money(self) -> bool:
        return self.status in HOLDING and self.amount_fen > 0


@dataclass(frozen=True, slots=True)
class EngineRefund:
    """What the engine knows of one refund."""

    id: int
    refund_no: str
    payment_id: int
    channel_txn_id: str  # of the payment refunded
    amount_fen: int
    fee_fen: int  # our fee given back to the biller
    status: str
    channel_refund_id: str | None = None
    biller_id: int | None = None
