"""A bill's timeline: everything that happened to it, in time order — created, changed,
waived, cancelled; the orders that carried it, their payments and refunds; the reminders
sent about it — each with who did it and why where the audit log says.

The SQL adapter gathers the entries (:class:`TimelineRepository`); this module sorts them
and names the kinds (Chinese labels: ``label("timeline_kind", kind)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from billfold.collection.bill import Bill
from billfold.errors import NotFound

if TYPE_CHECKING:
    from billfold.collection.ports import TimelineUnitOfWork

__all__ = [
    "Happening",
    "TimelineEntry",
    "bill_timeline",
    "in_time_order",
]


class Happening(StrEnum):
    """What an entry of the timeline records (labels: kind ``timeline_kind``)."""

    BILL_CREATED = "bill_created"
    BILL_CHANGED = "bill_changed"
    BILL_WAIVED = "bill_waived"
    BILL_CANCELLED = "bill_cancelled"
    ORDER_CREATED = "order_created"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_FAILED = "order_failed"
    ORDER_EXPIRED = "order_expired"
    PAYMENT = "payment"  # money arrived (its status: credited, held, suspense, reversed)
    PAYMENT_CREDITED = "payment_credited"  # held money credited after review
    PAYMENT_REVERSED = "payment_reversed"
    REFUND = "refund"  # a refund asked for
    REFUND_DONE = "refund_done"  # the channel (or the bank) paid it out, or refused it
    REMINDED_BY_HAND = "reminded_by_hand"  # a clerk's "remind selected" named the bill
    REMINDER = "reminder"  # a reminder to the payer (its kind, channel and status)
    OTHER = "other"  # an audited action without a kind of its own (its action code shown)


#: Within one instant, the order things happen in (an order before its payment, a payment
#: before its refund).
_RANK = {kind: rank for rank, kind in enumerate(Happening)}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened: when, what (``kind``), to what (``ref``: an order number,
    a payment id, a refund number), how much, through which channel, its status code, who
    did it and why (from the audit log or the record itself)."""

    at: datetime
    kind: Happening
    ref: str = ""
    amount_fen: int | None = None
    channel: str | None = None
    status: str | None = None
    actor: str = ""
    reason: str = ""
    action: str = ""  # the audit log's action code, for OTHER
    before_fen: int | None = None  # a change: the bill's amount before it (amount_fen: after)


def in_time_order(entries: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    """Oldest first; at the same instant, in the order things happen (see ``_RANK``)."""
    return sorted(entries, key=lambda e: (e.at, _RANK[e.kind], e.ref))


def bill_timeline(
    uow: TimelineUnitOfWork, biller_code: str, bill_no: str, *, tenant: int | None = None
) -> tuple[Bill, list[TimelineEntry]]:
    """The bill and its timeline, oldest first. A biller's caller (``tenant``) asking for
    another biller's bill is told it does not exist, as for one that does not."""
    with uow:
        biller = uow.billers.get_by_code(biller_code)
        if biller is None or biller.id is None or (tenant is not None and biller.id != tenant):
            raise NotFound(f"biller {biller_code!r} does not exist")
        bill = uow.bills.get_by_no(biller.id, bill_no)
        if bill is None:
            raise NotFound(f"bill {bill_no!r} does not exist for biller {biller_code}")
        entries = uow.timeline.for_bill(bill, biller_code)
    return bill, in_time_order(entries)
