"""Settlement batches: what one biller is paid for one business date.

A batch covers payments credited to the biller (up to its business date), the refunds
made on them, and reversals of payments an earlier batch had already settled — each of
them in exactly one batch. Its figures:

* **gross** — the payments collected;
* **refunds** — refunds decided, and settled payments reversed since;
* **fees** — the biller's fee schedule on those payments, less the share a refund or
  reversal gives back;
* **net payable** = gross − refunds − fees.

States: ``draft`` → ``approved`` → ``paid`` → ``confirmed``. A draft can be recomputed or
discarded; after approval the figures are fixed. Every step after the draft moves money in
the journal (:func:`step_entry`):

* approve: Dr ``payable:<biller>`` / Cr ``settlement_payable:<biller>``
* paid (the payout file went to the bank): Dr ``settlement_payable:<biller>`` / Cr
  ``payouts_in_transit``
* confirmed (the bank debited the collection account): Dr ``payouts_in_transit`` / Cr
  ``bank:collection``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from billfold.collection.journal import JournalEntry, Posting, payable
from billfold.errors import InvalidTransition
from billfold.money import format_yuan
from billfold.settlement.discrepancy import BANK
from billfold.settlement.splits import Part

__all__ = [
    "PAYOUTS_IN_TRANSIT",
    "PAYOUT_HEADER",
    "BatchStatus",
    "BatchTotals",
    "ItemKind",
    "SettlementBatch",
    "next_status",
    "payout_rows",
    "settlement_payable",
    "step_entry",
]

PAYOUTS_IN_TRANSIT = "payouts_in_transit"


def settlement_payable(biller_code: str) -> str:
    return f"settlement_payable:{biller_code}"


class BatchStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PAID = "paid"
    CONFIRMED = "confirmed"


class ItemKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    REVERSAL = "reversal"


_NEXT = {
    BatchStatus.DRAFT: BatchStatus.APPROVED,
    BatchStatus.APPROVED: BatchStatus.PAID,
    BatchStatus.PAID: BatchStatus.CONFIRMED,
}


def next_status(current: BatchStatus, wanted: BatchStatus, batch_no: str) -> BatchStatus:
    """The one legal step from ``current``; anything else is refused by name."""
    if _NEXT.get(current) is not wanted:
        step = _NEXT.get(current)
        hint = f"; the next step is {step.value}" if step else "; it is finished"
        raise InvalidTransition(
            f"batch {batch_no} is {current.value}; it cannot become {wanted.value}{hint}"
        )
    return wanted


@dataclass(frozen=True, slots=True)
class BatchTotals:
    payment_count: int = 0
    gross_fen: int = 0
    refund_count: int = 0
    refund_fen: int = 0
    fee_fen: int = 0
    held_back_count: int = 0  # credited payments left out because not yet reconciled
    held_back_fen: int = 0

    @property
    def net_fen(self) -> int:
        return self.gross_fen - self.refund_fen - self.fee_fen


@dataclass(slots=True)
class SettlementBatch:
    batch_no: str
    biller_id: int
    biller_code: str
    business_date: date
    status: BatchStatus
    totals: BatchTotals
    settle_unreconciled: bool
    created_by: str
    created_at: datetime
    parts: list[Part] = field(default_factory=list)
    id: int | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    paid_by: str | None = None
    paid_at: datetime | None = None
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None

    @property
    def net_fen(self) -> int:
        return self.totals.net_fen


def step_entry(batch: SettlementBatch, step: BatchStatus) -> JournalEntry | None:
    """The journal entry of moving ``batch`` to ``step`` (``None`` when the net is 0.00)."""
    net = batch.net_fen
    if net == 0:
        return None
    code = batch.biller_code
    accounts = {
        BatchStatus.APPROVED: (payable(code), settlement_payable(code)),
        BatchStatus.PAID: (settlement_payable(code), PAYOUTS_IN_TRANSIT),
        BatchStatus.CONFIRMED: (PAYOUTS_IN_TRANSIT, BANK),
    }
    if step not in accounts:
        return None
    debit, credit = accounts[step]
    return JournalEntry.build(
        f"settlement_{step.value}",
        [Posting(debit, net), Posting(credit, -net)],
        memo=f"settlement {batch.batch_no} {step.value}: {format_yuan(net)}",
    )


PAYOUT_HEADER: tuple[str, ...] = (
    "序号",
    "收款账号",
    "收款户名",
    "收款银行",
    "金额",
    "用途",
    "业务参考号",
)


def payout_rows(batch: SettlementBatch) -> list[tuple[str, ...]]:
    """The bank's payout file: one row per receiving account with money to receive.

    Account numbers are written whole: the bank needs them. (Reports mask them.)
    """
    rows: list[tuple[str, ...]] = []
    for number, part in enumerate((p for p in batch.parts if p.amount_fen > 0), start=1):
        memo = part.rule.memo or f"{batch.business_date:%Y%m%d} 代收款结算"
        rows.append(
            (
                str(number),
                part.rule.account_no,
                part.rule.account_name,
                part.rule.bank_name,
                format_yuan(part.amount_fen),
                memo,
                f"{batch.batch_no}-{number}",
            )
        )
    return rows
