"""Once a payment is fully refunded or reversed, every account it touched is back to zero —
including our fee, however the money reached the bills (confirmed, or held and credited
after review with the excess returned). SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from billfold import Bill, Biller, BillerKind, BillItem, Engine, FeeRule, IdentifierKind, Payer
from billfold.adapters.db import schema as t
from billfold.clock import FixedClock
from billfold.collection.payment import PaymentStatus


@pytest.fixture
def desk(engine: Engine) -> Engine:
    engine.create_biller(
        Biller(
            code="s1", name="一中", kind=BillerKind.SCHOOL, fee_rules=(FeeRule("wechat", bps=60),)
        )
    )
    return engine


def add_bill(engine: Engine, bill_no: str, amount_fen: int) -> None:
    engine.add_bill(
        "s1",
        Payer(IdentifierKind.STUDENT_NO, bill_no, "张三"),
        Bill(
            biller_id=0,
            bill_no=bill_no,
            payer_id=0,
            items=[BillItem("tuition", "学费", amount_fen)],
            allow_partial=True,
        ),
    )


def touched(engine: Engine, payment_id: int) -> dict[str, int]:
    """Balance per account of the journal entries this payment made (debits positive)."""
    p, e = t.journal_postings, t.journal_entries
    with engine.uow() as uow:
        rows = uow.conn.execute(
            select(p.c.account, func.sum(p.c.amount_fen))
            .select_from(p.join(e, e.c.id == p.c.entry_id))
            .where(e.c.payment_id == payment_id)
            .group_by(p.c.account)
        ).all()
    return {account: int(total) for account, total in rows}


def settle_refunds(engine: Engine) -> None:
    for refund in engine.pending_refunds():
        engine.complete_refund(refund.refund_no, channel_refund_id=f"R{refund.id}")


def test_a_payment_credited_after_review_and_refunded_in_full_returns_the_whole_fee(
    desk: Engine,
) -> None:
    add_bill(desk, "T1", 10_000)
    order = desk.create_order("s1", ["T1"])
    held = desk.confirm("wechat", "W1", order.order_no, 12_000)
    credit = desk.credit_held(held.payment.id, by="bursar", reason="paid twenty yuan too much")
    assert credit.payment.fee_fen == 60
    refund = desk.refund(
        credit.payment.id, 10_000, request_id="r1", reason="退学", requested_by="b"
    )
    assert refund.fee_fen == 60
    settle_refunds(desk)
    assert touched(desk, held.payment.id) == {
        "clearing:wechat": 0,
        "fee_income": 0,
        "payable:s1": 0,
        "refunds_payable": 0,
        "suspense": 0,
    }
    assert desk.check_books() == []


@dataclass(frozen=True)
class Story:
    principal: int
    over: int  # paid beyond the order: held, then credited after review
    parts: tuple[int, ...]  # part refunds, in per mille of what is left
    reverse: bool  # end by reversal where one is allowed, else refund the rest


stories = st.builds(
    Story,
    principal=st.integers(1, 2_000_000),
    over=st.one_of(st.just(0), st.integers(1, 500_000)),
    parts=st.lists(st.integers(1, 999), max_size=3).map(tuple),
    reverse=st.booleans(),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(story=stories)
def test_every_account_a_payment_touched_is_zero_once_it_is_refunded_or_reversed(
    desk: Engine, clock: FixedClock, story: Story
) -> None:
    clock.advance(minutes=1)
    bill_no = f"P{clock.now().timestamp():.0f}"
    add_bill(desk, bill_no, story.principal)
    order = desk.create_order("s1", [bill_no])
    paid = desk.confirm("wechat", bill_no, order.order_no, story.principal + story.over).payment
    if story.over:
        paid = desk.credit_held(paid.id, by="bursar", reason="review").payment
    for step, per_mille in enumerate(story.parts):
        amount = desk.payment(paid.id).refundable_fen * per_mille // 1000
        if amount:
            desk.refund(paid.id, amount, request_id=f"p{step}", reason="part", requested_by="b")
    left = desk.payment(paid.id)
    if story.reverse and not story.over and left.refunded_fen == 0:
        desk.reverse("wechat", bill_no, reason="冲正", requested_by="b")
        assert desk.payment(paid.id).status is PaymentStatus.REVERSED
    elif left.refundable_fen:
        desk.refund(
            paid.id, left.refundable_fen, request_id="rest", reason="全退", requested_by="b"
        )
    settle_refunds(desk)
    assert set(touched(desk, paid.id).values()) == {0}
    assert desk.bill("s1", bill_no).paid_fen == 0
