"""A biller's collections of one business day, as plain values for reports and files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["DayLine", "DayPayment"]


@dataclass(frozen=True, slots=True)
class DayLine:
    """What one payment paid of one bill: principal and late fee."""

    bill_no: str
    payer_identifier: str
    sub_unit: str | None
    principal_fen: int
    late_fee_fen: int

    @property
    def amount_fen(self) -> int:
        return self.principal_fen + self.late_fee_fen


@dataclass(frozen=True, slots=True)
class DayPayment:
    channel: str
    channel_txn_id: str
    order_no: str
    amount_fen: int
    refunded_fen: int
    paid_at: datetime
    lines: tuple[DayLine, ...]
