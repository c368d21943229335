"""Complaints (投诉/查询): a payer or a clerk says a payment went wrong; the back office (or the
engine itself) answers within the biller's turnaround time.

A complaint is against a bill, an order or a payment, carries the channel reference the payer
has (the number on their WeChat/Alipay/bank receipt), and is one of a few kinds. Each kind
has a turnaround time (TAT): :data:`DEFAULT_TAT_HOURS`, which a biller may override. States
and their moves are :data:`COMPLAINT_MOVES`; a complaint past its due time while still open
is *overdue*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billfold.errors import InvalidInput, InvalidTransition

__all__ = [
    "COMPLAINT_MOVES",
    "DEFAULT_TAT_HOURS",
    "OPEN_STATES",
    "Answer",
    "Complaint",
    "ComplaintKind",
    "ComplaintSource",
    "ComplaintStatus",
    "check_move",
    "parse_kind",
    "tat_hours",
]


class ComplaintKind(StrEnum):
    PAID_NOT_CREDITED = "paid_not_credited"  # "I paid but the bill shows unpaid"
    CHARGED_TWICE = "charged_twice"
    WRONG_AMOUNT = "wrong_amount"
    OTHER = "other"


class ComplaintSource(StrEnum):
    PAYER = "payer"  # opened on the payer pages
    CLERK = "clerk"  # opened by the back office (phone, counter, letter)


class ComplaintStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    REOPENED = "reopened"


class Answer(StrEnum):
    """What the engine found when it looked into a complaint by itself."""

    CREDITED_ON_REQUERY = "credited_on_requery"  # the channel had the money: now credited
    ALREADY_CREDITED = "already_credited"  # the bill was credited before the complaint
    HELD_FOR_REVIEW = "held_for_review"  # the money arrived but a person must credit it
    NOT_PAID_AT_CHANNEL = "not_paid_at_channel"  # the channel has no payment for it
    DUPLICATE_REFUND_QUEUED = "duplicate_refund_queued"  # the second payment goes back
    DUPLICATE_NEEDS_REFUND = "duplicate_needs_refund"  # found; a person must refund it
    NO_DUPLICATE_FOUND = "no_duplicate_found"


S = ComplaintStatus
OPEN_STATES: frozenset[ComplaintStatus] = frozenset({S.OPEN, S.ASSIGNED, S.REOPENED})

COMPLAINT_MOVES: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    S.OPEN: frozenset({S.ASSIGNED, S.RESOLVED, S.REJECTED}),
    S.ASSIGNED: frozenset({S.ASSIGNED, S.RESOLVED, S.REJECTED}),  # reassigning is allowed
    S.REOPENED: frozenset({S.ASSIGNED, S.RESOLVED, S.REJECTED}),
    S.RESOLVED: frozenset({S.REOPENED}),
    S.REJECTED: frozenset({S.REOPENED}),
}

#: Turnaround time per kind when the biller set none: a missing credit is answered the
#: next day, money to give back within three days, anything else within five.
DEFAULT_TAT_HOURS: dict[ComplaintKind, int] = {
    ComplaintKind.PAID_NOT_CREDITED: 24,
    ComplaintKind.CHARGED_TWICE: 72,
    ComplaintKind.WRONG_AMOUNT: 72,
    ComplaintKind.OTHER: 120,
}


def tat_hours(kind: ComplaintKind, override: int | None) -> int:
    """The biller's own turnaround time for ``kind`` if it set one, else the default."""
    return override if override is not None else DEFAULT_TAT_HOURS[kind]


def check_move(complaint_no: str, current: ComplaintStatus, new: ComplaintStatus) -> None:
    if new not in COMPLAINT_MOVES[current]:
        raise InvalidTransition(
            f"complaint {complaint_no} is {current.value}; it cannot become {new.value}"
        )


def parse_kind(text: str) -> ComplaintKind:
    try:
        return ComplaintKind(text)
    except ValueError:
        kinds = ", ".join(k.value for k in ComplaintKind)
        raise InvalidInput(f"kind: {text!r} is not a complaint kind ({kinds})") from None


@dataclass(frozen=True, slots=True)
class Complaint:
    id: int
    complaint_no: str
    biller_id: int
    biller_code: str
    kind: ComplaintKind
    status: ComplaintStatus
    source: ComplaintSource
    bill_id: int | None
    bill_no: str | None
    order_no: str | None
    payment_id: int | None
    channel_ref: str
    description: str
    opened_by: str
    assigned_to: str | None
    answer: Answer | None
    resolution: str | None
    refund_no: str | None
    due_at: datetime
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    reopened: int

    def overdue(self, now: datetime) -> bool:
        return self.status in OPEN_STATES and self.due_at < now
