"""Refunds: how much, taken back from which bills, and how much of our fee goes back.

The rule (the mirror of allocation): a refund takes back the most recently allocated line
first — principal before late fee, the lowest-priority item first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billfold.errors import InvalidInput
from billfold.money import format_yuan

__all__ = [
    "REFUND_MOVES",
    "RefundKind",
    "RefundLine",
    "RefundRecord",
    "RefundStatus",
    "fee_share",
    "refund_can_move",
    "sources_of",
    "split_refund",
]


class RefundStatus(StrEnum):
    PENDING = "pending"  # decided and journalled; the channel has not paid it out yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the channel refused; money stays in refunds payable for a retry
    CANCELLED = "cancelled"  # the payment was reversed before the refund went out
    NEEDS_TRANSFER = "needs_transfer"  # the channel cannot pay it back: a bank transfer will
    IN_TRANSFER = "in_transfer"  # in a bank transfer file; the bank statement confirms it


#: Which refund states may follow which: a refund the channel refused for good (window
#: closed, card cancelled, account closed) falls back to a bank transfer, which goes out in a
#: file and is confirmed paid from the bank statement (or by hand).
REFUND_MOVES: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.PENDING: frozenset(
        {
            RefundStatus.SUCCEEDED,
            RefundStatus.FAILED,
            RefundStatus.CANCELLED,
            RefundStatus.NEEDS_TRANSFER,
        }
    ),
    RefundStatus.FAILED: frozenset(
        {RefundStatus.SUCCEEDED, RefundStatus.CANCELLED, RefundStatus.NEEDS_TRANSFER}
    ),
    RefundStatus.NEEDS_TRANSFER: frozenset({RefundStatus.IN_TRANSFER, RefundStatus.CANCELLED}),
    RefundStatus.IN_TRANSFER: frozenset({RefundStatus.SUCCEEDED}),
    RefundStatus.SUCCEEDED: frozenset(),
    RefundStatus.CANCELLED: frozenset(),
}


def refund_can_move(current: RefundStatus, new: RefundStatus) -> bool:
    """Whether a refund in ``current`` may become ``new`` (see :data:`REFUND_MOVES`)."""
    return new in REFUND_MOVES[current]


def sources_of(new: RefundStatus) -> list[RefundStatus]:
    """The states a refund may reach ``new`` from (the ``WHERE status IN`` of its update)."""
    return [state for state, nexts in REFUND_MOVES.items() if new in nexts]


class RefundKind(StrEnum):
    CREDITED = "credited"  # money that had reached bills
    SUSPENSE = "suspense"  # money that never reached a bill


@dataclass(frozen=True, slots=True)
class RefundLine:
    line_id: int
    bill_id: int
    item_code: str
    amount_fen: int  # allocated to this line
    refunded_fen: int  # already refunded from this line

    @property
    def refundable_fen(self) -> int:
        return self.amount_fen - self.refunded_fen


def split_refund(lines: list[RefundLine], amount_fen: int) -> list[tuple[RefundLine, int]]:
    """Share ``amount_fen`` over ``lines`` (given in allocation order), last line first."""
    available = sum(line.refundable_fen for line in lines)
    if amount_fen <= 0:
        raise InvalidInput(
            f"amount: a refund must be more than 0.00, got {format_yuan(amount_fen)}"
        )
    if amount_fen > available:
        raise InvalidInput(
            f"amount: {format_yuan(amount_fen)} is more than the {format_yuan(available)} "
            "that can still be refunded"
        )
    result: list[tuple[RefundLine, int]] = []
    left = amount_fen
    for line in reversed(lines):
        if left == 0:
            break
        take = min(left, line.refundable_fen)
        if take:
            result.append((line, take))
            left -= take
    return result


def fee_share(fee_fen: int, credited_fen: int, refunded_before: int, refunding: int) -> int:
    """The part of ``fee_fen`` returned with a refund, computed on the cumulative refund so
    that refunding everything, in any number of steps, returns exactly the whole fee.

    ``credited_fen`` is what the fee was taken on — the money that reached the bills — and
    ``refunded_before`` what was refunded off the bills before; money returned from suspense
    (the excess of a payment credited after review) carried no fee and counts in neither."""
    if credited_fen <= 0:
        return 0
    after = (fee_fen * (refunded_before + refunding)) // credited_fen
    before = (fee_fen * refunded_before) // credited_fen
    return after - before


@dataclass(frozen=True, slots=True)
class RefundRecord:
    id: int
    refund_no: str
    payment_id: int
    request_id: str
    kind: RefundKind
    status: RefundStatus
    amount_fen: int
    fee_fen: int
    reason: str
    requested_by: str
    channel_refund_id: str | None
    created_at: datetime
    completed_at: datetime | None
