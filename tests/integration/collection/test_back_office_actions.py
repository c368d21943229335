"""Changing a bill, cancelling an order: audited with who and why, refused with a clear
message (changing nothing) when they would make a payment invalid, and safe against a
payment racing the cancel (one wins; no money is lost) on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine, OrderStatus, PaymentStatus
from billfold.adapters.db import schema as t
from billfold.collection.bill_actions import BillChange
from billfold.errors import InvalidInput, InvalidTransition, NotFound

CSV = b"bill_no,payer_id,amount,due_date\nB1,1001,100.00,2026-09-30\nB2,1002,50.00,\n"


@pytest.fixture
def school(engine: Engine) -> Engine:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", CSV)
    return engine


def _state(engine: Engine) -> Any:
    with engine.uow() as uow:
        return [
            sorted(map(tuple, uow.conn.execute(select(table)).all()), key=repr)
            for table in (t.bills, t.bill_items, t.orders, t.payments, t.audit_log, t.outbox_events)
        ]


def test_changing_a_bill_is_audited_with_before_and_after(school: Engine) -> None:
    change = BillChange(
        "s1",
        "B1",
        reason="学费标准调整",
        by="王老师",
        amount_fen=12000,
        due_date=date(2026, 10, 15),
    )
    bill = school.change_bill(change)
    assert (bill.principal_fen, bill.due_date) == (12000, date(2026, 10, 15))
    assert school.bill("s1", "B1").principal_fen == 12000
    (entry,) = school.audit_log("bill", "s1/B1")
    assert (entry["actor"], entry["action"], entry["reason"]) == (
        "王老师",
        "change",
        "学费标准调整",
    )
    assert entry["before"]["amount"] == "100.00" and entry["after"]["amount"] == "120.00"
    assert entry["after"]["due_date"] == "2026-10-15"
    added = school.change_bill(
        BillChange(
            "s1",
            "B2",
            reason="加书本费",
            by="王老师",
            items={"book": 3000},
            names={"book": "书本费"},
        )
    )
    assert [(i.code, i.amount_fen) for i in added.items] == [("fee", 5000), ("book", 3000)]
    order = school.create_order("s1", ["B2"])
    assert order.total_fen == 8000


def test_a_part_paid_bill_never_goes_below_what_was_paid(school: Engine) -> None:
    with school.uow() as uow:
        uow.conn.execute(t.bills.update().values(allow_partial=True))
        uow.commit()
    order = school.create_order("s1", ["B1"], amount_fen=6000)
    school.confirm("counter", "P1", order.order_no, 6000)
    before = _state(school)
    with pytest.raises(
        InvalidInput,
        match=r"item fee: 50.00 is less than the 60.00 already paid or waived on bill B1",
    ):
        school.change_bill(BillChange("s1", "B1", reason="x", by="y", amount_fen=5000))
    assert _state(school) == before
    bill = school.change_bill(BillChange("s1", "B1", reason="减少", by="y", amount_fen=6000))
    assert bill.stored_status.value == "paid"  # exactly what was paid: settled
    with pytest.raises(
        InvalidTransition, match="bill B1 is paid; only an unpaid or part-paid bill"
    ):
        school.change_bill(BillChange("s1", "B1", reason="x", by="y", amount_fen=7000))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(amount_fen=-1), "amount: cannot be negative"),
        (dict(amount_fen=0), "bill B1: amount must be more than 0.00"),
        (dict(items={"nope": 100}), "item nope: a new item needs a name"),
        (dict(reason=" "), "change: a reason and who changes the bill are required"),
        (dict(), "change: nothing to change"),
    ],
)
def test_a_bad_change_is_refused_and_changes_nothing(
    school: Engine, change: dict[str, Any], message: str
) -> None:
    before = _state(school)
    fields: dict[str, Any] = {"reason": "r", "by": "b", **change}
    with pytest.raises(InvalidInput, match=message):
        school.change_bill(BillChange("s1", "B1", **fields))
    assert _state(school) == before


def test_a_bill_in_an_order_that_may_still_be_paid_keeps_its_amount(school: Engine) -> None:
    order = school.create_order("s1", ["B1"])
    before = _state(school)
    with pytest.raises(InvalidTransition, match=f"bill B1 is in order {order.order_no}"):
        school.change_bill(BillChange("s1", "B1", reason="r", by="b", amount_fen=1))
    assert _state(school) == before
    school.cancel_order(order.order_no, reason="改价", by="王老师")
    assert (
        school.change_bill(BillChange("s1", "B1", reason="r", by="b", amount_fen=1)).principal_fen
        == 1
    )


def test_cancelling_an_order_is_audited_and_a_late_payment_goes_to_suspense(school: Engine) -> None:
    order = school.create_order("s1", ["B1"])
    cancelled = school.cancel_order(order.order_no, reason="家长要求", by="王老师")
    assert cancelled.status is OrderStatus.CANCELLED
    (entry,) = school.audit_log("order", order.order_no)
    assert (entry["actor"], entry["action"], entry["reason"]) == (
        "王老师",
        "cancel_order",
        "家长要求",
    )
    late = school.confirm("counter", "LATE", order.order_no, order.total_fen)
    assert late.status is PaymentStatus.SUSPENSE and late.payment.reason == "order_cancelled"
    (row,) = school.find("suspense").rows
    assert row["actions"] == ["await_refund"] and row["refund_status"] == "pending"
    assert school.bill("s1", "B1").paid_fen == 0
    assert school.check_books() == []


def test_an_order_being_paid_or_paid_or_elsewhere_is_not_cancelled(school: Engine) -> None:
    paying = school.start_payment(school.create_order("s1", ["B1"]).order_no, "wechatpay")
    before = _state(school)
    with pytest.raises(
        InvalidTransition, match="is being paid through wechatpay; a payment is in flight"
    ):
        school.cancel_order(paying.order_no, reason="r", by="b")
    with pytest.raises(NotFound, match="does not exist"):
        school.cancel_order(paying.order_no, reason="r", by="b", biller_id=999)
    with pytest.raises(InvalidInput, match="a reason and who cancels"):
        school.cancel_order(paying.order_no, reason="", by="b")
    assert _state(school) == before
    paid = school.create_order("s1", ["B2"])
    school.confirm("counter", "P2", paid.order_no, paid.total_fen)
    with pytest.raises(InvalidTransition, match="is paid; only an order not yet being paid"):
        school.cancel_order(paid.order_no, reason="r", by="b")


def _race(school: Engine, order_no: str, total: int, txn: str) -> dict[str, Any]:
    """Cancel and pay ``order_no`` on two threads released together."""
    barrier = threading.Barrier(2)
    outcome: dict[str, Any] = {}

    def cancel() -> None:
        barrier.wait(timeout=30)
        try:
            outcome["cancel"] = school.cancel_order(order_no, reason="race", by="ops").status
        except Exception as exc:  # judged by the test
            outcome["cancel"] = exc

    def pay() -> None:
        barrier.wait(timeout=30)
        outcome["pay"] = school.confirm("counter", txn, order_no, total)

    threads = [threading.Thread(target=cancel), threading.Thread(target=pay)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcome


def test_a_payment_racing_a_cancel_one_wins_and_no_money_is_lost(school: Engine) -> None:
    for round_no in range(6):
        order = school.create_order("s1", ["B1"])
        outcome = _race(school, order.order_no, order.total_fen, f"RACE-{round_no}")
        paid = outcome["pay"]
        if (
            outcome["cancel"] is OrderStatus.CANCELLED
        ):  # the cancel won: the money waits in suspense
            assert (
                paid.status is PaymentStatus.SUSPENSE and paid.payment.reason == "order_cancelled"
            )
            assert school.bill("s1", "B1").paid_fen == 0
        else:  # the payment won: the cancel was refused and the bill is paid
            assert isinstance(outcome["cancel"], InvalidTransition), outcome
            assert paid.status is PaymentStatus.CREDITED
            break
    assert school.check_books() == []
    with school.uow() as uow:
        payments = uow.conn.execute(select(func.sum(t.payments.c.amount_fen))).scalar_one()
    total_seen = sum(r["amount_fen"] for r in school.find("payments", {"limit": "500"}).rows)
    assert payments == total_seen
