"""Bill.change as a property: whatever is asked, an accepted change never leaves an item
below what was paid, waived or refunded on it, and a refused one changes nothing."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.bill import Bill, BillItem
from billfold.errors import BillfoldError

fen = st.integers(min_value=0, max_value=10_000)


@given(
    amounts=st.lists(st.tuples(fen, fen, fen), min_size=1, max_size=3),
    asked=st.lists(st.one_of(st.none(), fen), min_size=3, max_size=3),
)
def test_an_accepted_change_keeps_what_was_paid_valid_and_a_refused_one_changes_nothing(
    amounts: list[tuple[int, int, int]], asked: list[int | None]
) -> None:
    items = []
    for n, (amount, paid, waived) in enumerate(amounts):
        total = amount + paid + waived + 1
        items.append(BillItem(f"i{n}", f"项目{n}", total, paid_fen=paid, waived_fen=waived))
    bill = Bill(biller_id=1, bill_no="B1", payer_id=1, items=items)
    wanted = {f"i{n}": a for n, a in enumerate(asked[: len(items)]) if a is not None}
    before = copy.deepcopy(bill)
    try:
        bill.change(wanted, [], None)
    except BillfoldError:
        assert bill == before
        return
    for item in bill.items:
        assert item.amount_fen >= item.paid_fen + item.waived_fen + item.refunded_fen
        assert item.amount_fen == wanted.get(item.code, item.amount_fen)
    assert bill.principal_fen > 0
    assert bill.outstanding_fen >= 0
