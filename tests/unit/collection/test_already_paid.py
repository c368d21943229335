"""The guard before paying: bills paid meanwhile are named, unpaid ones pass."""

from __future__ import annotations

import pytest

from billfold.collection.allocation import Allocation
from billfold.collection.already_paid import refuse_paid_bills
from billfold.collection.bill import Bill, BillItem
from billfold.errors import BillsAlreadyPaid


def _bill(bill_id: int, no: str, amount: int, paid: int = 0) -> Bill:
    made = Bill(
        biller_id=1,
        bill_no=no,
        payer_id=1,
        items=[BillItem("fee", "学费", amount, paid_fen=paid)],
        allow_partial=True,
    )
    made.id = bill_id
    return made


def test_unpaid_bills_and_lines_that_still_fit_pass() -> None:
    half = _bill(2, "B2", 1000, paid=400)
    refuse_paid_bills([_bill(1, "B1", 1000), half], [Allocation(2, "B2", "fee", 600)])


def test_a_paid_bill_is_refused_by_name() -> None:
    with pytest.raises(BillsAlreadyPaid) as refused:
        refuse_paid_bills([_bill(1, "B1", 1000), _bill(2, "B2", 500, paid=500)])
    assert refused.value.bill_nos == ["B2"] and refused.value.code == "bills_already_paid"


def test_a_line_the_bill_can_no_longer_take_is_refused() -> None:
    part_paid = _bill(1, "B1", 1000, paid=700)
    with pytest.raises(BillsAlreadyPaid, match="bills: B1 already paid through another order"):
        refuse_paid_bills([part_paid], [Allocation(1, "B1", "fee", 1000)])
