"""A reconciliation run as stored: one statement file for one slot, with its totals.

A *slot* is (kind, channel, merchant id, business date). Reconciling a corrected file for
a slot makes a new *revision*; the earlier run becomes ``superseded`` and its open
discrepancies with it. Reconciling the same file again changes nothing: the stored run
is the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from billfold.settlement.totals import StatementTotals

__all__ = ["ReconRun", "RunKind", "RunStatus"]


class RunKind(StrEnum):
    CHANNEL = "channel"  # a channel's bill: payments and refunds against the engine
    BANK = "bank"  # a bank statement: channel settlements against promised nets


class RunStatus(StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class ReconRun:
    id: int
    kind: RunKind
    channel: str
    merchant_id: str  # '' = every merchant of the channel
    business_date: date
    revision: int
    status: RunStatus
    format: str
    file_name: str
    file_sha256: str
    timezone: str
    check_fees: bool
    totals: StatementTotals
    quarantined: int
    matched_count: int
    matched_fen: int
    engine_count: int
    engine_fen: int
    discrepancy_count: int
    created_by: str
    created_at: datetime
    superseded_at: datetime | None = None
    superseded_by: int | None = None

    @property
    def slot(self) -> str:
        merchant = self.merchant_id or "*"
        return f"{self.kind.value}/{self.channel}/{merchant}/{self.business_date}"
