from datetime import date

import pytest

from billfold.collection.bill import Bill, BillItem, BillKind, BillStatus
from billfold.errors import InvalidInput, InvalidTransition


def tuition() -> Bill:
    b = Bill(
        biller_id=1,
        bill_no="T1",
        payer_id=1,
        items=[BillItem("tuition", "学费", 450_000, 10), BillItem("books", "教材费", 38_000, 20)],
        due_date=date(2026, 9, 10),
    )
    b.id = 1
    return b


def test_status_is_derived_from_amounts_and_the_date() -> None:
    b = tuition()
    assert b.status(date(2026, 9, 1)) is BillStatus.OPEN
    assert b.status(date(2026, 9, 11)) is BillStatus.OVERDUE
    b.items[0].paid_fen = 450_000
    assert b.status(date(2026, 9, 1)) is BillStatus.PARTIALLY_PAID
    b.items[1].paid_fen = 38_000
    assert b.status(date(2026, 9, 30)) is BillStatus.PAID
    b.items[0].paid_fen, b.items[0].refunded_fen = 0, 450_000
    b.items[1].paid_fen, b.items[1].refunded_fen = 0, 38_000
    assert b.status(date(2026, 9, 30)) is BillStatus.REFUNDED


def test_a_waiver_reduces_what_is_owed_by_priority() -> None:
    b = tuition()
    b.waive(None, 460_000, "scholarship", "principal Wang")
    assert (b.items[0].waived_fen, b.items[1].waived_fen) == (450_000, 10_000)
    assert b.outstanding_fen == 28_000


def test_a_waiver_above_what_is_owed_is_refused_and_changes_nothing() -> None:
    b = tuition()
    with pytest.raises(
        InvalidInput,
        match=r"waiver: 400.00 is more than the 380.00 still owed on bill T1 item books",
    ):
        b.waive("books", 40_000, "hardship", "bursar")
    assert b.waived_fen == 0


def test_cancel_needs_a_reason_and_nothing_paid() -> None:
    b = tuition()
    b.items[1].paid_fen = 100
    with pytest.raises(
        InvalidTransition, match="bill T1 has 1.00 paid; refund it before cancelling"
    ):
        b.cancel("withdrawn")
    b.items[1].paid_fen = 0
    b.cancel("withdrawn")
    assert b.status(date(2026, 9, 1)) is BillStatus.CANCELLED
    with pytest.raises(InvalidTransition, match="already cancelled"):
        b.cancel("again")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"items": []}, "bill X: a bill needs at least one item"),
        ({"items": [BillItem("a", "a", 0)]}, "bill X: amount must be more than 0.00"),
        ({"kind": BillKind.FINE}, "bill X: a fine needs its decision number"),
        ({"kind": BillKind.OPEN}, "bill X: an open-amount bill needs min and max"),
        (
            {"items": [BillItem("a", "a", 1), BillItem("a", "b", 1)]},
            "bill X: item codes repeat (a, a)",
        ),
    ],
)
def test_malformed_bills_are_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "biller_id": 1,
        "bill_no": "X",
        "payer_id": 1,
        "items": [BillItem("a", "a", 100)],
    }
    args.update(kwargs)
    with pytest.raises(InvalidInput) as caught:
        Bill(**args)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_late_fees_already_paid_are_not_charged_again() -> None:
    from billfold.collection.latefee import LateFeeRule

    b = tuition()
    b.late_fee_rule = LateFeeRule.daily(10)
    accrued = b.late_fee_fen(date(2026, 9, 20))
    b.late_fee_paid_fen = accrued
    assert b.late_fee_fen(date(2026, 9, 20)) == 0
    assert b.late_fee_fen(date(2026, 9, 21)) > 0
