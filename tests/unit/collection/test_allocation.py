from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.allocation import allocate
from billfold.collection.bill import LATE_FEE_CODE, Bill, BillItem, BillKind
from billfold.collection.latefee import LateFeeRule
from billfold.errors import InvalidInput

TODAY = date(2026, 9, 20)


def bill(
    bill_id: int, no: str, due: date | None, *items: tuple[str, int, int], **kw: object
) -> Bill:
    made = Bill(
        biller_id=1,
        bill_no=no,
        payer_id=1,
        items=[BillItem(code, code, amount, priority) for code, amount, priority in items],
        due_date=due,
        **kw,  # type: ignore[arg-type]
    )
    made.id = bill_id
    return made


def test_full_payment_covers_every_item_and_the_late_fee() -> None:
    b = bill(
        1, "W1", date(2026, 9, 10), ("water", 10_000, 100), late_fee_rule=LateFeeRule.daily(10)
    )
    lines = allocate([b], TODAY)
    assert [(a.item_code, a.amount_fen) for a in lines] == [(LATE_FEE_CODE, 100), ("water", 10_000)]


def test_part_payment_goes_late_fee_first_then_priority_then_oldest_due_date() -> None:
    older = bill(
        1, "B-OLD", date(2026, 7, 1), ("tuition", 5000, 10), ("books", 800, 50), allow_partial=True
    )
    newer = bill(2, "B-NEW", date(2026, 8, 1), ("tuition", 5000, 10), allow_partial=True)
    lines = allocate([newer, older], TODAY, amount_fen=9000)
    assert [(a.bill_no, a.item_code, a.amount_fen) for a in lines] == [
        ("B-OLD", "tuition", 5000),
        ("B-NEW", "tuition", 4000),
    ]


def test_a_bill_that_takes_no_part_payments_must_be_paid_whole() -> None:
    b = bill(1, "F1", DUE := date(2026, 9, 30), ("fine", 20_000, 100))
    assert DUE
    with pytest.raises(InvalidInput, match=r"bill F1 must be paid in full \(200.00\)"):
        allocate([b], TODAY, amount_fen=10_000)


def test_a_part_below_the_minimum_is_refused() -> None:
    b = bill(1, "T1", None, ("tuition", 450_000, 100), allow_partial=True, min_part_fen=100_000)
    with pytest.raises(InvalidInput, match="below the minimum part payment 1000.00 for bill T1"):
        allocate([b], TODAY, amount_fen=50_000)


def test_more_than_is_due_is_refused() -> None:
    b = bill(1, "T1", None, ("tuition", 100, 100))
    with pytest.raises(InvalidInput, match=r"amount: 2.00 is more than the 1.00 due"):
        allocate([b], TODAY, amount_fen=200)


def test_open_amount_bills_take_the_payers_amount_within_bounds() -> None:
    b = bill(
        1,
        "TOPUP",
        None,
        ("card", 0, 100),
        kind=BillKind.OPEN,
        open_min_fen=1000,
        open_max_fen=50_000,
    )
    assert allocate([b], TODAY, amount_fen=2000)[0].amount_fen == 2000
    with pytest.raises(InvalidInput, match=r"outside 10.00–500.00 for bill TOPUP"):
        allocate([b], TODAY, amount_fen=999)
    with pytest.raises(InvalidInput, match="the payer states the amount"):
        allocate([b], TODAY)


def test_a_paid_bill_cannot_be_ordered_again() -> None:
    b = bill(1, "T1", None, ("tuition", 100, 100))
    b.items[0].paid_fen = 100
    with pytest.raises(InvalidInput, match="bill T1: is paid, not payable"):
        allocate([b], TODAY)


@given(
    st.lists(
        st.tuples(st.integers(1, 10_000), st.integers(1, 5), st.integers(0, 60)),
        min_size=1,
        max_size=6,
    ),
    st.data(),
)
def test_allocation_never_exceeds_what_is_owed_and_sums_to_the_amount(
    specs: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    bills = [
        bill(
            i + 1, f"B{i}", date(2026, 8, 1 + days % 28), ("item", amount, prio), allow_partial=True
        )
        for i, (amount, prio, days) in enumerate(specs)
    ]
    due = sum(b.amount_due_fen(TODAY) for b in bills)
    amount = data.draw(st.integers(1, due))
    try:
        lines = allocate(bills, TODAY, amount_fen=amount)
    except InvalidInput as exc:  # a bill left with nothing is a clear refusal, never a wrong split
        assert "nothing would reach bill" in str(exc)
        return
    assert sum(a.amount_fen for a in lines) == amount
    for b in bills:
        assert sum(a.amount_fen for a in lines if a.bill_id == b.id) <= b.amount_due_fen(TODAY)
