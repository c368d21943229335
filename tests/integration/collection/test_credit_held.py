"""Crediting a held payment after review: exactly once, by the allocation rule, with the
excess returned; every refusal names its reason and changes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from billfold import (
    Bill,
    Biller,
    BillerKind,
    BillItem,
    Engine,
    FeeRule,
    IdentifierKind,
    LateFeeRule,
    Payer,
    PaymentStatus,
)
from billfold.adapters.db import schema as t
from billfold.clock import FixedClock
from billfold.collection.crediting import CreditResult
from billfold.collection.order import OrderStatus
from billfold.errors import InvalidInput, InvalidTransition, NotFound

BILLS = b"""bill_no,payer_id,payer_name,items,due_date,allow_partial,min_part
T1,2026001,\xe5\xbc\xa0\xe4\xb8\x89,tuition:T=4500.00;books:B=380.00,2026-09-10,yes,1000.00
T2,2026002,,tuition:T=4500.00,2026-09-10,no,
T3,2026003,,tuition:T=100.00,2026-09-10,no,
"""
TABLES = (
    t.payments,
    t.journal_entries,
    t.journal_postings,
    t.outbox_events,
    t.refunds,
    t.orders,
    t.order_lines,
    t.bills,
    t.bill_items,
    t.audit_log,
)


@pytest.fixture
def school(engine: Engine) -> Engine:
    engine.create_biller(
        Biller(
            code="s1", name="一中", kind=BillerKind.SCHOOL, fee_rules=(FeeRule("wechat", bps=60),)
        )
    )
    engine.import_bills("s1", BILLS)
    return engine


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the crediting could touch, to prove a refusal changed nothing."""
    with engine.uow() as uow:
        return {
            table.name: [
                tuple(row) for row in uow.conn.execute(select(table).order_by(table.c.id)).all()
            ]
            for table in TABLES
        }


def events(engine: Engine) -> list[str]:
    with engine.uow() as uow:
        types = uow.conn.execute(
            select(t.outbox_events.c.event_type).order_by(t.outbox_events.c.id)
        ).scalars()
        return [x for x in types if not x.startswith("bill.created")]


def count(engine: Engine, table: Any) -> int:
    with engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(table)).scalar_one())


def held(engine: Engine, bills: list[str], paid_fen: int, txn: str = "W1") -> tuple[str, int]:
    order = engine.create_order("s1", bills)
    result = engine.confirm("wechat", txn, order.order_no, paid_fen)
    assert result.status is PaymentStatus.HELD and result.payment.reason == "amount_mismatch"
    return order.order_no, result.payment.id


def refused(engine: Engine, payment_id: int, error: type[Exception], message: str) -> None:
    before = snapshot(engine)
    with pytest.raises(error) as caught:
        engine.credit_held(payment_id, by="bursar", reason="reviewed")
    assert str(caught.value) == message
    assert snapshot(engine) == before


# -- crediting ---------------------------------------------------------------------------------


def test_a_held_payment_that_matches_what_the_bill_owes_now_is_credited_in_full(
    school: Engine,
) -> None:
    order_no, payment_id = held(school, ["T2"], 440_000)
    # the review finds a 100.00 waiver granted after the order was made: 4400.00 is right
    school.waive("s1", "T2", 10_000, reason="sibling discount", granted_by="head", request_id="w3")
    result = school.credit_held(payment_id, by="bursar", reason="waiver confirmed by the head")
    assert not result.already_credited and result.refund is None
    assert result.credited_fen == 440_000
    assert result.payment.status is PaymentStatus.CREDITED
    assert result.payment.fee_fen == 2640 and result.payment.refunded_fen == 0
    bill = school.bill("s1", "T2")
    assert bill.paid_fen == 440_000 and bill.outstanding_fen == 0
    order = school.order(order_no)
    assert (order.status, order.total_fen, order.payment_id) == (
        OrderStatus.PAID,
        440_000,
        payment_id,
    )
    assert school.trial_balance() == {
        "clearing:wechat": 440_000,
        "fee_income": -2640,
        "payable:s1": -(440_000 - 2640),
        "suspense": 0,
    }
    assert events(school)[-2:] == ["payment.confirmed", "bill.paid"]
    [audit] = school.audit_log("payment")
    assert (audit["action"], audit["actor"], audit["reason"]) == (
        "credit_held",
        "bursar",
        "waiver confirmed by the head",
    )
    assert school.check_books() == []


def test_less_than_the_order_is_a_part_payment_where_the_bill_allows_it(school: Engine) -> None:
    order_no, payment_id = held(school, ["T1"], 300_000)
    result = school.credit_held(payment_id, by="bursar", reason="payer confirmed a part")
    assert result.credited_fen == 300_000 and result.refund is None
    bill = school.bill("s1", "T1")
    assert [(i.code, i.paid_fen) for i in bill.items] == [("tuition", 300_000), ("books", 0)]
    order = school.order(order_no)
    assert order.status is OrderStatus.PAID and order.total_fen == 300_000
    assert [(line.item_code, line.amount_fen) for line in order.lines] == [("tuition", 300_000)]
    assert events(school)[-2:] == ["payment.confirmed", "bill.partially_paid"]
    assert school.pending_refunds() == []
    assert school.check_books() == []
    # the rest can still be paid, and a refund takes back what was credited
    rest = school.create_order("s1", ["T1"])
    assert rest.total_fen == 188_000
    school.refund(payment_id, 300_000, request_id="R1", reason="withdrawal", requested_by="b")
    assert school.bill("s1", "T1").paid_fen == 0
    assert school.check_books() == []


def test_less_than_the_order_is_refused_where_the_bill_takes_no_part_payments(
    school: Engine,
) -> None:
    order_no, payment_id = held(school, ["T2"], 449_999)
    refused(
        school,
        payment_id,
        InvalidTransition,
        f"payment {payment_id} cannot be credited to order {order_no}: amount: bill T2 must "
        "be paid in full (4500.00); it does not take part payments",
    )
    assert school.payment(payment_id).status is PaymentStatus.HELD


def test_less_than_the_minimum_part_is_refused(school: Engine) -> None:
    order_no, payment_id = held(school, ["T1"], 50_000)
    refused(
        school,
        payment_id,
        InvalidTransition,
        f"payment {payment_id} cannot be credited to order {order_no}: amount: 500.00 is "
        "below the minimum part payment 1000.00 for bill T1",
    )


def test_more_than_the_order_credits_the_order_and_returns_the_excess(school: Engine) -> None:
    order_no, payment_id = held(school, ["T3"], 12_000)
    result = school.credit_held(payment_id, by="bursar", reason="paid twenty yuan too much")
    assert result.credited_fen == 10_000
    assert result.refund is not None and result.refund.amount_fen == 2000
    assert result.refund.kind.value == "suspense"
    assert result.payment.refunded_fen == 2000 and result.payment.fee_fen == 60
    assert school.bill("s1", "T3").paid_fen == 10_000
    assert school.order(order_no).total_fen == 10_000
    assert [r.amount_fen for r in school.pending_refunds()] == [2000]
    assert school.trial_balance() == {
        "clearing:wechat": 12_000,
        "fee_income": -60,
        "payable:s1": -(10_000 - 60),
        "refunds_payable": -2000,
        "suspense": 0,
    }
    assert events(school)[-3:] == ["payment.confirmed", "bill.paid", "refund.created"]
    school.complete_refund(result.refund.refund_no, channel_refund_id="WRF1")
    assert school.trial_balance()["clearing:wechat"] == 10_000
    assert school.check_books() == []


def test_a_part_credit_of_an_overdue_bill_pays_the_late_fee_first(engine: Engine) -> None:
    engine.create_biller(Biller(code="w1", name="水务", kind=BillerKind.UTILITY))
    bill = Bill(
        biller_id=0,
        bill_no="W1",
        payer_id=0,
        items=[BillItem("water", "水费", 10_000)],
        due_date=date(2026, 8, 1),  # a month overdue on the fixture clock
        late_fee_rule=LateFeeRule.fixed(500),
        allow_partial=True,
    )
    engine.add_bill("w1", Payer(IdentifierKind.ACCOUNT_NO, "H001"), bill)
    order = engine.create_order("w1", ["W1"])
    assert order.total_fen == 10_500
    # the payer paid the printed 100.00 and left out the late fee
    payment = engine.confirm("wechat", "W1", order.order_no, 10_000).payment
    assert payment.status is PaymentStatus.HELD
    assert engine.credit_held(payment.id, by="clerk", reason="part").credited_fen == 10_000
    assert [(ln.item_code, ln.amount_fen) for ln in engine.order(order.order_no).lines] == [
        ("late_fee", 500),
        ("water", 9500),
    ]
    paid = engine.bill("w1", "W1")
    assert (paid.late_fee_paid_fen, paid.paid_fen, paid.outstanding_fen) == (500, 9500, 500)
    assert engine.check_books() == []


def test_more_than_a_part_payment_order_credits_only_the_order(school: Engine) -> None:
    order = school.create_order("s1", ["T1"], amount_fen=300_000)
    payment = school.confirm("wechat", "W1", order.order_no, 320_000).payment
    result = school.credit_held(payment.id, by="bursar", reason="the payer meant the part")
    assert result.credited_fen == 300_000
    assert result.refund is not None and result.refund.amount_fen == 20_000
    assert school.bill("s1", "T1").paid_fen == 300_000
    assert school.check_books() == []


def test_an_order_that_expired_during_the_review_is_still_credited(
    school: Engine, clock: FixedClock
) -> None:
    order_no, payment_id = held(school, ["T3"], 9000)
    clock.advance(hours=20)
    assert school.expire_orders() == 1
    school.waive("s1", "T3", 1000, reason="hardship", granted_by="head", request_id="w4")
    assert (
        school.credit_held(payment_id, by="bursar", reason="hardship waiver").credited_fen == 9000
    )
    assert school.order(order_no).status is OrderStatus.PAID
    assert school.check_books() == []


# -- exactly once ------------------------------------------------------------------------------


def test_a_repeat_answers_already_credited_and_changes_nothing(school: Engine) -> None:
    _order_no, payment_id = held(school, ["T3"], 12_000)
    first = school.credit_held(payment_id, by="bursar", reason="reviewed")
    before = snapshot(school)
    again = school.credit_held(payment_id, by="someone else", reason="again")
    assert again.already_credited and again.payment == first.payment
    assert again.credited_fen == 10_000 and again.refund is None
    assert snapshot(school) == before


def test_twenty_simultaneous_credits_of_one_held_payment_credit_it_once(school: Engine) -> None:
    _order_no, payment_id = held(school, ["T3"], 12_000)
    barrier = threading.Barrier(20)
    results: list[CreditResult | Exception] = []

    def run() -> None:
        barrier.wait(timeout=30)
        try:
            results.append(school.credit_held(payment_id, by="bursar", reason="reviewed"))
        except Exception as exc:  # judged below
            results.append(exc)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert sum(not r.already_credited for r in results if isinstance(r, CreditResult)) == 1
    assert school.bill("s1", "T3").paid_fen == 10_000
    assert count(school, t.refunds) == 1
    assert events(school).count("payment.confirmed") == 1
    assert [a["action"] for a in school.audit_log("payment")] == ["credit_held"]
    assert school.check_books() == []


# -- refusals ----------------------------------------------------------------------------------


def test_an_order_paid_meanwhile_is_refused(school: Engine) -> None:
    order_no, payment_id = held(school, ["T3"], 9000)
    assert school.confirm("alipay", "A1", order_no, 10_000).credited
    refused(
        school,
        payment_id,
        InvalidTransition,
        f"payment {payment_id} cannot be credited to order {order_no}: the order was paid "
        "meanwhile; refund it instead",
    )


def test_bills_paid_meanwhile_through_another_order_are_refused(school: Engine) -> None:
    order_no, payment_id = held(school, ["T3"], 9000)
    other = school.create_order("s1", ["T3"])
    assert school.confirm("alipay", "A1", other.order_no, 10_000).credited
    refused(
        school,
        payment_id,
        InvalidTransition,
        f"payment {payment_id} cannot be credited to order {order_no}: its bills were paid "
        "meanwhile; refund it instead",
    )


def test_a_cancelled_bill_is_refused(school: Engine) -> None:
    order_no, payment_id = held(school, ["T3"], 9000)
    school.cancel_bill("s1", "T3", reason="left the school", by="registrar")
    refused(
        school,
        payment_id,
        InvalidTransition,
        f"payment {payment_id} cannot be credited to order {order_no}: bill T3 was "
        "cancelled; refund it instead",
    )


def test_money_that_came_after_the_order_expired_is_refused(
    school: Engine, clock: FixedClock
) -> None:
    order = school.create_order("s1", ["T3"])
    clock.advance(minutes=31)
    payment = school.confirm("wechat", "W1", order.order_no, 9000).payment
    assert payment.status is PaymentStatus.HELD
    refused(
        school,
        payment.id,
        InvalidTransition,
        f"payment {payment.id} cannot be credited to order {order.order_no}: the money came "
        "after the order expired; refund it instead",
    )


def test_an_unknown_payment_is_refused(school: Engine) -> None:
    refused(school, 999, NotFound, "payment 999 does not exist")


def test_a_payment_that_is_not_held_is_refused(school: Engine) -> None:
    order = school.create_order("s1", ["T3"])
    credited = school.confirm("wechat", "W1", order.order_no, 10_000).payment
    refused(
        school,
        credited.id,
        InvalidTransition,
        f"payment {credited.id} is credited; only a held payment can be credited after review",
    )
    lost = school.confirm("wechat", "W2", "NO-SUCH-ORDER", 500).payment
    refused(
        school,
        lost.id,
        InvalidTransition,
        f"payment {lost.id} is suspense; only a held payment can be credited after review",
    )


def test_a_currency_mismatch_is_refused(school: Engine) -> None:
    order = school.create_order("s1", ["T3"])
    payment = school.confirm("wechat", "W1", order.order_no, 10_000, currency="HKD").payment
    assert payment.status is PaymentStatus.HELD
    refused(
        school,
        payment.id,
        InvalidTransition,
        f"payment {payment.id} is held for currency_mismatch; only an amount mismatch can be "
        "credited after review, refund it instead",
    )


def test_a_partly_refunded_held_payment_is_refused(school: Engine) -> None:
    _order_no, payment_id = held(school, ["T1"], 300_000)
    school.refund(payment_id, 1000, request_id="R1", reason="asked back", requested_by="b")
    refused(
        school,
        payment_id,
        InvalidTransition,
        f"payment {payment_id} has refunds (10.00); refund the rest instead of crediting it",
    )


@pytest.mark.parametrize(("by", "reason"), [("", "reviewed"), ("bursar", "  ")])
def test_who_and_why_are_required(school: Engine, by: str, reason: str) -> None:
    _order_no, payment_id = held(school, ["T3"], 9000)
    before = snapshot(school)
    with pytest.raises(InvalidInput) as caught:
        school.credit_held(payment_id, by=by, reason=reason)
    assert str(caught.value) == "credit: a reason and who decides are required"
    assert snapshot(school) == before


# -- property ----------------------------------------------------------------------------------


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    paid=st.integers(min_value=1, max_value=600_000),
    ordered=st.one_of(st.none(), st.integers(100_000, 488_000)),
    waived=st.integers(0, 38_000),
)
@example(paid=487_679, ordered=487_679, waived=322)  # exact: credited, 3.21 left to waive
def test_whatever_is_held_the_books_balance_and_no_more_than_owed_is_credited(
    school: Engine, clock: FixedClock, paid: int, ordered: int | None, waived: int
) -> None:
    clock.advance(minutes=1)
    bill_no = f"P{clock.now().timestamp():.0f}"
    school.import_bills(
        "s1",
        b"bill_no,payer_id,items,due_date,allow_partial,min_part\n"
        + f"{bill_no},{bill_no},tuition:T=4500.00;books:B=380.00,2026-09-10,yes,1000.00\n".encode(),
    )
    order = school.create_order("s1", [bill_no], amount_fen=ordered)
    result = school.confirm("wechat", bill_no, order.order_no, paid)
    # an exact payment is credited at once and may leave less than ``waived`` to waive
    waived = min(waived, school.bill("s1", bill_no).item("books").outstanding_fen)
    if waived:
        school.waive(
            "s1",
            bill_no,
            waived,
            reason="review",
            granted_by="head",
            item_code="books",
            request_id=f"w-{bill_no}",
        )
    owed = school.bill("s1", bill_no).amount_due_fen(school.today("s1"))
    try:
        credit = school.credit_held(result.payment.id, by="bursar", reason="property")
    except InvalidTransition:
        assert school.payment(result.payment.id).status in (
            PaymentStatus.HELD,
            PaymentStatus.CREDITED,  # an exact amount needs no review
        )
        assert school.bill("s1", bill_no).paid_fen == (paid if result.credited else 0)
    else:
        assert credit.credited_fen == min(paid, order.total_fen, owed)
        assert school.bill("s1", bill_no).paid_fen == credit.credited_fen
        returned = credit.refund.amount_fen if credit.refund else 0
        assert credit.credited_fen + returned == paid
    assert school.check_books() == []
