"""Payment confirmation decided as a pure function: given what the channel says and what
is stored, what happens to the money.

The service layer locks the rows, calls :func:`decide`, and writes the decision with
conditional updates; the decision itself does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from billfold.collection.allocation import Allocation
from billfold.collection.bill import LATE_FEE_CODE, Bill, BillKind
from billfold.collection.journal import (
    FEE_INCOME,
    REFUNDS_PAYABLE,
    SUSPENSE,
    JournalEntry,
    Posting,
    clearing,
    payable,
)
from billfold.collection.order import Order, OrderStatus
from billfold.errors import InvalidInput

__all__ = [
    "Confirmation",
    "Decision",
    "PaymentRecord",
    "PaymentStatus",
    "SuspenseReason",
    "bills_paid_off",
    "decide",
    "refund_entry",
    "suspense_refund_entry",
]


class PaymentStatus(StrEnum):
    CREDITED = "credited"  # the bills were credited
    HELD = "held"  # amount or currency differs: kept in suspense for a person to review
    SUSPENSE = "suspense"  # nothing can take it: kept in suspense, refund queued
    REVERSED = "reversed"  # undone (冲正); also a marker for a reversal that came first


class SuspenseReason(StrEnum):
    UNKNOWN_ORDER = "unknown_order"
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    ORDER_EXPIRED = "order_expired"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_NOT_PAYABLE = "order_not_payable"
    ALREADY_PAID = "already_paid"  # the bill or order was paid through another payment
    BILL_CANCELLED = "bill_cancelled"
    BILLER_MISMATCH = "biller_mismatch"


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What a channel tells us: this transaction paid this order this much at this time."""

    channel: str
    channel_txn_id: str
    order_no: str
    amount_fen: int
    paid_at: datetime
    currency: str = "CNY"
    #: Events the channel wants written in the same transaction if the payment is credited
    #: (e.g. a voice broadcast for a stall's speaker): (event type, payload).
    on_credit: tuple[tuple[str, dict[str, Any]], ...] = ()

    def __post_init__(self) -> None:
        if not self.channel:
            raise InvalidInput("channel: required")
        if not self.channel_txn_id or len(self.channel_txn_id) > 64:
            raise InvalidInput("channel_txn_id: 1-64 characters required")
        if not self.order_no or len(self.order_no) > 64:
            raise InvalidInput("order_no: 1-64 characters required")
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int):
            raise InvalidInput("amount: must be integer fen")
        if self.amount_fen <= 0:
            raise InvalidInput(f"amount: must be more than 0, got {self.amount_fen} fen")
        if self.paid_at.tzinfo is None:
            raise InvalidInput("paid_at: must carry a timezone")


@dataclass(frozen=True, slots=True)
class BillCredit:
    bill_id: int
    item_code: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Decision:
    status: PaymentStatus
    reason: SuspenseReason | None
    entries: tuple[JournalEntry, ...]
    credits: tuple[BillCredit, ...] = ()
    order_status: OrderStatus | None = None  # the order's new status, if it changes
    queue_refund: bool = False
    fee_fen: int = 0
    bills_now_paid: tuple[int, ...] = field(default=())

    @property
    def credited(self) -> bool:
        return self.status is PaymentStatus.CREDITED


def decide(
    conf: Confirmation,
    order: Order | None,
    bills: list[Bill],
    biller_code: str | None,
    fee_fen: int,
    today: date,
) -> Decision:
    """Decide what a confirmed payment does. ``bills`` are the order's bills, locked."""
    if order is None or biller_code is None:
        return _to_suspense(conf, SuspenseReason.UNKNOWN_ORDER, refund=True)
    refused = _order_refuses(conf, order) or _bills_refuse(conf, order, bills, today)
    if refused is not None:
        return refused
    return _credit(conf, order, bills, biller_code, fee_fen)


def _order_refuses(conf: Confirmation, order: Order) -> Decision | None:
    """Suspense when the order cannot take this money (``None`` when it can)."""
    if conf.currency != order.currency:
        return _to_suspense(conf, SuspenseReason.CURRENCY_MISMATCH, refund=False)
    if conf.amount_fen != order.total_fen:
        return _to_suspense(conf, SuspenseReason.AMOUNT_MISMATCH, refund=False)
    if order.status is OrderStatus.CANCELLED:
        return _to_suspense(conf, SuspenseReason.ORDER_CANCELLED, refund=True)
    if order.status is OrderStatus.EXPIRED or conf.paid_at >= order.expires_at:
        return _to_suspense(
            conf, SuspenseReason.ORDER_EXPIRED, refund=True, order_status=_expire(order)
        )
    if order.status is OrderStatus.PAID or order.status in (
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.REFUNDED,
        OrderStatus.REVERSED,
    ):
        return _to_suspense(conf, SuspenseReason.ALREADY_PAID, refund=True)
    if not order.payable:
        return _to_suspense(conf, SuspenseReason.ORDER_NOT_PAYABLE, refund=True)
    return None


def _bills_refuse(
    conf: Confirmation, order: Order, bills: list[Bill], today: date
) -> Decision | None:
    """Suspense (the order failed) when a bill was cancelled or paid meanwhile."""
    by_id = {bill.id: bill for bill in bills}
    for line in order.lines:
        bill = by_id.get(line.bill_id)
        if bill is None or bill.cancelled:
            return _to_suspense(
                conf, SuspenseReason.BILL_CANCELLED, refund=True, order_status=OrderStatus.FAILED
            )
        if not _fits(bill, line, today):
            return _to_suspense(
                conf, SuspenseReason.ALREADY_PAID, refund=True, order_status=OrderStatus.FAILED
            )
    return None


def _credit(
    conf: Confirmation, order: Order, bills: list[Bill], biller_code: str, fee_fen: int
) -> Decision:
    """The money pays the order's lines: clearing in, the biller's payable out, our fee."""
    account = payable(biller_code)
    postings = [Posting(clearing(conf.channel), conf.amount_fen)]
    postings += [Posting(account, -line.amount_fen, line.bill_id) for line in order.lines]
    entries = [
        JournalEntry.build(
            "payment",
            postings,
            memo=f"{conf.channel} {conf.channel_txn_id}",
            currency=conf.currency,
        )
    ]
    if fee_fen:
        entries.append(
            JournalEntry.build(
                "fee",
                [Posting(account, fee_fen), Posting(FEE_INCOME, -fee_fen)],
                memo=order.order_no,
                currency=conf.currency,
            )
        )
    credits = tuple(
        BillCredit(line.bill_id, line.item_code, line.amount_fen) for line in order.lines
    )
    return Decision(
        status=PaymentStatus.CREDITED,
        reason=None,
        entries=tuple(entries),
        credits=credits,
        order_status=OrderStatus.PAID,
        fee_fen=fee_fen,
        bills_now_paid=bills_paid_off(bills, credits),
    )


def _expire(order: Order) -> OrderStatus | None:
    return OrderStatus.EXPIRED if order.payable else None


def _fits(bill: Bill, line: Allocation, today: date) -> bool:
    """Can ``bill`` still take ``line`` (nobody paid that part in the meantime)?"""
    if bill.kind is BillKind.OPEN:
        return bill.paid_fen == 0
    if line.item_code == LATE_FEE_CODE:
        return bill.late_fee_fen(today) >= line.amount_fen
    return bill.item(line.item_code).outstanding_fen >= line.amount_fen


def bills_paid_off(bills: list[Bill], credits: tuple[BillCredit, ...]) -> tuple[int, ...]:
    """The ids of ``bills`` that ``credits`` pay off (open-amount bills: any payment)."""
    return tuple(
        bill.id
        for bill in bills
        if bill.id is not None and _pays_off(bill, [c for c in credits if c.bill_id == bill.id])
    )


def _pays_off(bill: Bill, credits: list[BillCredit]) -> bool:
    if bill.kind is BillKind.OPEN:
        return True
    principal = sum(c.amount_fen for c in credits if c.item_code != LATE_FEE_CODE)
    return principal >= bill.outstanding_fen


def _to_suspense(
    conf: Confirmation,
    reason: SuspenseReason,
    *,
    refund: bool,
    order_status: OrderStatus | None = None,
) -> Decision:
    memo = f"{conf.channel} {conf.channel_txn_id} {reason.value}"
    entries = [
        JournalEntry.build(
            "suspense",
            [Posting(clearing(conf.channel), conf.amount_fen), Posting(SUSPENSE, -conf.amount_fen)],
            memo=memo,
            currency=conf.currency,
        )
    ]
    if refund:
        entries.append(suspense_refund_entry(conf.amount_fen, memo, conf.currency))
    return Decision(
        status=PaymentStatus.HELD if not refund else PaymentStatus.SUSPENSE,
        reason=reason,
        entries=tuple(entries),
        order_status=order_status,
        queue_refund=refund,
    )


def suspense_refund_entry(amount_fen: int, memo: str, currency: str) -> JournalEntry:
    return JournalEntry.build(
        "refund_queued",
        [Posting(SUSPENSE, amount_fen), Posting(REFUNDS_PAYABLE, -amount_fen)],
        memo=memo,
        currency=currency,
    )


def refund_entry(
    biller_code: str, parts: list[tuple[int, int]], fee_back_fen: int, memo: str, currency: str
) -> list[JournalEntry]:
    """Entries for refunding credited money: ``parts`` are (bill_id, amount) taken back from
    the biller; ``fee_back_fen`` is the share of our fee returned to the biller."""
    account = payable(biller_code)
    total = sum(amount for _bill, amount in parts)
    entries = [
        JournalEntry.build(
            "refund",
            [Posting(account, amount, bill_id) for bill_id, amount in parts]
            + [Posting(REFUNDS_PAYABLE, -total)],
            memo=memo,
            currency=currency,
        )
    ]
    if fee_back_fen:
        entries.append(
            JournalEntry.build(
                "fee_refund",
                [Posting(FEE_INCOME, fee_back_fen), Posting(account, -fee_back_fen)],
                memo=memo,
                currency=currency,
            )
        )
    return entries


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """A stored payment: one channel transaction, whatever became of it."""

    id: int
    channel: str
    channel_txn_id: str
    order_no: str
    order_id: int | None
    biller_id: int | None
    status: PaymentStatus
    reason: str | None
    amount_fen: int
    fee_fen: int
    refunded_fen: int
    currency: str
    paid_at: datetime
    received_at: datetime

    @property
    def refundable_fen(self) -> int:
        return self.amount_fen - self.refunded_fen
