"""Crediting a held payment after review, decided as a pure function.

A payment whose amount differs from its order is held (nothing credited, the money in
suspense). After review the back office may credit it instead of refunding it. The rule:

* the amount credited is the least of the amount held, the order's total and what the
  order's bills owe at the payment's business date (late fees as at the moment of payment);
* it is shared out over the order's bills by the one allocation rule, so crediting less
  than the bills owe is a part payment and must meet the bills' part-payment rules;
* whatever is held beyond that goes back: it stays in suspense with a refund queued, as for
  any money the engine cannot credit.

The service locks the payment, the order and its bills, calls :func:`decide_held_credit`
and writes the result with conditional updates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from billfold.collection.allocation import Allocation, allocate
from billfold.collection.bill import Bill
from billfold.collection.journal import FEE_INCOME, SUSPENSE, JournalEntry, Posting, payable
from billfold.collection.order import Order, OrderStatus
from billfold.collection.payment import (
    BillCredit,
    PaymentRecord,
    bills_paid_off,
    suspense_refund_entry,
)
from billfold.errors import InvalidInput, InvalidTransition

__all__ = ["CREDITABLE_ORDER_STATES", "HeldCredit", "decide_held_credit"]

#: Order states a held payment may still be credited to. An order that expired while its
#: payment was being reviewed counts, if the money arrived before the order expired.
CREDITABLE_ORDER_STATES = (OrderStatus.CREATED, OrderStatus.PAYING, OrderStatus.EXPIRED)


@dataclass(frozen=True, slots=True)
class HeldCredit:
    """What crediting a held payment does: bills credited, entries posted, money returned."""

    lines: tuple[Allocation, ...]
    credited_fen: int
    excess_fen: int  # stays in suspense, refund queued
    fee_fen: int
    entries: tuple[JournalEntry, ...]
    credits: tuple[BillCredit, ...]
    bills_now_paid: tuple[int, ...]


def decide_held_credit(
    payment: PaymentRecord,
    order: Order,
    bills: list[Bill],
    biller_code: str,
    fee_for: Callable[[int], int],
    today: date,
) -> HeldCredit:
    """Decide how a held ``payment`` is credited to its ``order`` (``bills`` locked).

    ``today`` is the payment's business date; ``fee_for`` gives our fee on an amount.
    Raises :class:`InvalidTransition` with the reason when it cannot be credited.
    """
    refuse = f"payment {payment.id} cannot be credited to order {order.order_no}"
    order_bills = _creditable_bills(payment, order, bills, refuse)
    owed = sum(bill.amount_due_fen(today) for bill in order_bills if bill.payable)
    if owed == 0:
        raise InvalidTransition(f"{refuse}: its bills were paid meanwhile; refund it instead")
    credited = min(payment.amount_fen, order.total_fen, owed)
    try:
        lines = allocate(order_bills, today, credited)
    except InvalidInput as exc:
        raise InvalidTransition(f"{refuse}: {exc.message}") from exc
    excess = payment.amount_fen - credited
    fee = fee_for(credited)
    credits = tuple(BillCredit(line.bill_id, line.item_code, line.amount_fen) for line in lines)
    return HeldCredit(
        lines=tuple(lines),
        credited_fen=credited,
        excess_fen=excess,
        fee_fen=fee,
        entries=_entries(payment, order, biller_code, lines, credited, fee, excess),
        credits=credits,
        bills_now_paid=bills_paid_off(order_bills, credits),
    )


def _creditable_bills(
    payment: PaymentRecord, order: Order, bills: list[Bill], refuse: str
) -> list[Bill]:
    """The order's bills, once each, if the order may still be credited; else refuse."""
    if order.status is OrderStatus.PAID:
        raise InvalidTransition(f"{refuse}: the order was paid meanwhile; refund it instead")
    if order.status not in CREDITABLE_ORDER_STATES:
        raise InvalidTransition(f"{refuse}: the order is {order.status.value}; refund it instead")
    if payment.paid_at >= order.expires_at:
        raise InvalidTransition(
            f"{refuse}: the money came after the order expired; refund it instead"
        )
    by_id = {bill.id: bill for bill in bills}
    order_bills: list[Bill] = []
    for bill_id in dict.fromkeys(line.bill_id for line in order.lines):
        bill = by_id.get(bill_id)
        if bill is None or bill.cancelled:
            name = bill.bill_no if bill is not None else str(bill_id)
            raise InvalidTransition(f"{refuse}: bill {name} was cancelled; refund it instead")
        order_bills.append(bill)
    return order_bills


def _entries(
    payment: PaymentRecord,
    order: Order,
    biller_code: str,
    lines: list[Allocation],
    credited: int,
    fee: int,
    excess: int,
) -> tuple[JournalEntry, ...]:
    """Suspense pays the bills, our fee is taken, the excess is queued to go back."""
    memo = f"held payment {payment.id} {payment.channel} {payment.channel_txn_id} credited"
    account = payable(biller_code)
    entries = [
        JournalEntry.build(
            "held_credit",
            [Posting(SUSPENSE, credited)]
            + [Posting(account, -line.amount_fen, line.bill_id) for line in lines],
            memo=memo,
            currency=payment.currency,
        )
    ]
    if fee:
        entries.append(
            JournalEntry.build(
                "fee",
                [Posting(account, fee), Posting(FEE_INCOME, -fee)],
                memo=order.order_no,
                currency=payment.currency,
            )
        )
    if excess:
        entries.append(suspense_refund_entry(excess, f"{memo}; excess returned", payment.currency))
    return tuple(entries)
