"""Discrepancies: what reconciliation finds, as values, and how each may be resolved.

A :class:`Discrepancy` carries its source (statement file and line, or none when the
engine has a record the statement lacks), a :class:`Code` and a message written for the
clerk. Each is *open* until resolved with an :class:`Action`; :func:`allowed_actions` says
which actions fit which code, and :func:`write_off_entry` builds the journal entry of a
write-off.

``difference_fen`` is signed: what the channel's (or bank's) side says minus what the
engine's books expect, in money the channel owes us. A write-off moves exactly that amount
between the clearing account and :data:`RECON_DIFFERENCES`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from billfold.collection.journal import BANK, JournalEntry, Posting
from billfold.errors import InvalidInput
from billfold.money import format_yuan

__all__ = [
    "BANK",
    "CHANNEL_FEES",
    "RECON_DIFFERENCES",
    "Action",
    "Code",
    "Discrepancy",
    "DiscrepancyStatus",
    "allowed_actions",
    "check_action",
    "write_off_entry",
]

#: What channels charge us (an expense): the statement's fees, posted when they settle.
CHANNEL_FEES = "channel_fees"
#: Reconciliation differences written off (profit and loss).
RECON_DIFFERENCES = "recon_differences"


class Code(StrEnum):
    """What a reconciliation found. ``matched`` lines produce no discrepancy."""

    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    CHANNEL_ONLY = "channel_only"  # 长款: the channel has it, the engine does not
    ENGINE_ONLY = "engine_only"  # 短款: the engine has it, the channel does not
    DUPLICATE_LINE = "duplicate_line"
    FEE_MISMATCH = "fee_mismatch"
    CROSS_DAY = "cross_day"  # matched a record of another business date (closed at once)
    UNREADABLE_LINE = "unreadable_line"  # a quarantined line of the statement
    SETTLEMENT_MISMATCH = "settlement_mismatch"  # bank credit differs from the promised net
    UNEXPLAINED_CREDIT = "unexplained_credit"  # bank credit no channel's net explains


class DiscrepancyStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    SUPERSEDED = "superseded"  # a corrected statement replaced the run that found it


class Action(StrEnum):
    CREDIT = "credit"  # confirm the late payment through the engine's exactly-once path
    REFUND = "refund"  # refund the payment to the payer
    REVERSE = "reverse"  # the payment did not happen: reverse it (冲正)
    COMPLETE_REFUND = "complete_refund"  # the statement shows the refund was paid out
    WRITE_OFF = "write_off"  # book the difference to recon_differences
    ACCEPT = "accept"  # no money moves; the reason explains why


_ACTIONS: dict[Code, tuple[Action, ...]] = {
    Code.AMOUNT_MISMATCH: (Action.REFUND, Action.WRITE_OFF, Action.ACCEPT),
    Code.STATUS_MISMATCH: (
        Action.REVERSE,
        Action.COMPLETE_REFUND,
        Action.WRITE_OFF,
        Action.ACCEPT,
    ),
    Code.CHANNEL_ONLY: (Action.CREDIT, Action.WRITE_OFF, Action.ACCEPT),
    Code.ENGINE_ONLY: (Action.REVERSE, Action.WRITE_OFF, Action.ACCEPT),
    Code.DUPLICATE_LINE: (Action.ACCEPT,),
    Code.FEE_MISMATCH: (Action.ACCEPT,),
    Code.CROSS_DAY: (Action.ACCEPT,),
    Code.UNREADABLE_LINE: (Action.ACCEPT,),
    Code.SETTLEMENT_MISMATCH: (Action.WRITE_OFF, Action.ACCEPT),
    Code.UNEXPLAINED_CREDIT: (Action.WRITE_OFF, Action.ACCEPT),
}


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One finding, with where it came from and the figures on both sides."""

    code: Code
    message: str
    channel: str
    source_file: str | None = None
    source_line: int | None = None
    channel_txn_id: str | None = None
    order_no: str | None = None
    refund_no: str | None = None
    payment_id: int | None = None
    refund_id: int | None = None
    biller_id: int | None = None
    line_amount_fen: int | None = None
    engine_amount_fen: int | None = None
    line_fee_fen: int | None = None
    engine_fee_fen: int | None = None
    difference_fen: int = 0
    line_status: str | None = None
    engine_status: str | None = None
    currency: str = "CNY"
    occurred_at: datetime | None = None
    counterparty: str | None = None
    #: What billfold may do on its own (the common case): credit a late payment, or
    #: complete a refund the statement shows as paid out.
    auto_action: Action | None = None
    #: Closed when found (a cross-day match is a finding, not a problem).
    closed: bool = False
    id: int | None = None
    status: DiscrepancyStatus = DiscrepancyStatus.OPEN
    action: Action | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
    resolution_ref: str | None = None
    #: The resolving request's id: the same request again answers this resolution.
    resolution_request_id: str | None = None
    run_id: int | None = None

    @property
    def source(self) -> str:
        """``file:line`` for a statement line, ``engine`` for an engine record."""
        if self.source_file is None:
            return "engine"
        return f"{self.source_file}:{self.source_line}"

    @property
    def is_open(self) -> bool:
        return self.status is DiscrepancyStatus.OPEN

    def __str__(self) -> str:
        return f"{self.source}: {self.code.value}: {self.message}"

    def with_status(self, status: DiscrepancyStatus) -> Discrepancy:
        return replace(self, status=status)


def allowed_actions(code: Code) -> tuple[Action, ...]:
    """The actions that may resolve a discrepancy of ``code``."""
    return _ACTIONS[code]


def check_action(discrepancy: Discrepancy, action: Action, who: str, why: str) -> None:
    """Refuse a resolution that does not fit; the message says what would."""
    if not who.strip():
        raise InvalidInput("by: say who resolves the discrepancy")
    if not why.strip():
        raise InvalidInput("reason: say why the discrepancy is resolved this way")
    if discrepancy.status is not DiscrepancyStatus.OPEN:
        raise InvalidInput(
            f"discrepancy {discrepancy.id} is {discrepancy.status.value}; only open ones "
            "can be resolved"
        )
    allowed = allowed_actions(discrepancy.code)
    if action not in allowed:
        names = ", ".join(a.value for a in allowed)
        raise InvalidInput(
            f"action: {action.value} does not resolve a {discrepancy.code.value} "
            f"discrepancy; use {names}"
        )
    if action is Action.WRITE_OFF and discrepancy.difference_fen == 0:
        raise InvalidInput(
            f"action: discrepancy {discrepancy.id} has no difference to write off; accept it"
        )


def write_off_entry(discrepancy: Discrepancy, account: str) -> JournalEntry:
    """Book ``difference_fen`` against ``account`` (a clearing account or :data:`BANK`)."""
    d = discrepancy.difference_fen
    if d == 0:
        raise InvalidInput("a write-off needs a difference other than 0.00")
    memo = f"write-off of discrepancy {discrepancy.id}: {format_yuan(d)}"
    return JournalEntry.build(
        "recon_write_off",
        [Posting(account, d), Posting(RECON_DIFFERENCES, -d)],
        memo=memo,
        currency=discrepancy.currency,
    )
