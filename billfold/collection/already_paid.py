"""The guard before paying: a bill paid meanwhile (by another order) must not be paid again.

Two orders for one bill can exist (two tabs, two apps). Once one is paid, money for the
other can only go to suspense and back to the payer, so starting to pay it is refused with
:class:`~billfold.errors.BillsAlreadyPaid`, naming the bills. It asks what confirmation
asks (``payment.decide``): can each bill still take its line of the order?
"""

from __future__ import annotations

from collections.abc import Sequence

from billfold.collection.allocation import Allocation
from billfold.collection.bill import LATE_FEE_CODE, Bill, BillKind, StoredStatus
from billfold.errors import BillsAlreadyPaid

__all__ = ["refuse_paid_bills"]


def _taken(bill: Bill, line: Allocation | None) -> bool:
    if bill.stored_status is StoredStatus.PAID:
        return True
    if line is None or line.item_code == LATE_FEE_CODE:
        return False  # a late fee only grows while the bill stays unpaid
    if bill.kind is BillKind.OPEN:
        return bill.paid_fen > 0
    return bill.item(line.item_code).outstanding_fen < line.amount_fen


def refuse_paid_bills(bills: Sequence[Bill], lines: Sequence[Allocation] = ()) -> None:
    """Raise :class:`BillsAlreadyPaid` when a bill is paid, or can no longer take its line."""
    by_id = {bill.id: bill for bill in bills}
    paid = [bill.bill_no for bill in bills if _taken(bill, None)]
    paid += [
        line.bill_no
        for line in lines
        if line.bill_id in by_id and _taken(by_id[line.bill_id], line)
    ]
    if paid:
        names = sorted(set(paid))
        raise BillsAlreadyPaid(
            f"bills: {', '.join(names)} already paid through another order; "
            "paying again would only send the money back",
            names,
        )
