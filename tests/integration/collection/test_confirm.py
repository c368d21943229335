"""Every outcome of the one confirmation path, on SQLite and PostgreSQL."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from billfold import Biller, BillerKind, BillerStatus, Engine, FeeRule, Limits, PaymentStatus
from billfold.adapters.db import schema as t
from billfold.clock import FixedClock
from billfold.collection.order import OrderStatus
from billfold.errors import Conflict, InvalidInput, LimitExceeded, NotFound

BILLS = b"""bill_no,payer_id,payer_name,items,due_date,allow_partial,min_part
T1,2026001,\xe5\xbc\xa0\xe4\xb8\x89,tuition:T=4500.00;books:B=380.00,2026-09-10,yes,1000.00
T2,2026002,,tuition:T=4500.00,2026-09-10,no,
T3,2026003,,tuition:T=100.00,2026-09-10,no,
"""


@pytest.fixture
def school(engine: Engine) -> Engine:
    engine.create_biller(
        Biller(
            code="s1", name="一中", kind=BillerKind.SCHOOL, fee_rules=(FeeRule("wechat", bps=60),)
        )
    )
    engine.import_bills("s1", BILLS)
    return engine


def counts(engine: Engine) -> dict[str, int]:
    with engine.uow() as uow:
        return {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (
                t.payments,
                t.journal_postings,
                t.outbox_events,
                t.refunds,
                t.orders,
                t.bills,
            )
        }


def test_a_confirmed_payment_credits_bills_fees_and_events(school: Engine) -> None:
    order = school.create_order("s1", ["T1"])
    assert order.total_fen == 488_000
    result = school.confirm("wechat", "W1", order.order_no, 488_000)
    assert result.credited and result.payment.fee_fen == 2928
    assert school.order(order.order_no).status is OrderStatus.PAID
    assert school.bill("s1", "T1").paid_fen == 488_000
    assert school.trial_balance() == {
        "clearing:wechat": 488_000,
        "fee_income": -2928,
        "payable:s1": -(488_000 - 2928),
    }
    with school.uow() as uow:
        types = uow.conn.execute(
            select(t.outbox_events.c.event_type).order_by(t.outbox_events.c.id)
        ).scalars()
        assert [x for x in types if not x.startswith("bill.created")] == [
            "payment.confirmed",
            "bill.paid",
        ]
    assert school.check_books() == []


def test_a_different_amount_is_held_for_review_not_credited(school: Engine) -> None:
    order = school.create_order("s1", ["T2"])
    result = school.confirm("wechat", "W1", order.order_no, 449_999)
    assert result.status is PaymentStatus.HELD and result.payment.reason == "amount_mismatch"
    assert school.bill("s1", "T2").paid_fen == 0
    assert school.order(order.order_no).status is OrderStatus.CREATED
    assert school.trial_balance() == {"clearing:wechat": 449_999, "suspense": -449_999}
    assert school.pending_refunds() == []  # a person decides


def test_a_payment_after_expiry_goes_to_suspense_with_a_refund_queued(
    school: Engine, clock: FixedClock
) -> None:
    order = school.create_order("s1", ["T2"])
    clock.advance(minutes=31)
    assert school.expire_orders() == 1
    result = school.confirm("alipay", "A1", order.order_no, 450_000)
    assert result.status is PaymentStatus.SUSPENSE and result.payment.reason == "order_expired"
    [refund] = school.pending_refunds()
    assert refund.amount_fen == 450_000 and refund.kind.value == "suspense"
    assert school.trial_balance() == {
        "clearing:alipay": 450_000,
        "refunds_payable": -450_000,
        "suspense": 0,
    }
    school.complete_refund(refund.refund_no, channel_refund_id="ARF1")
    assert school.trial_balance() == {"clearing:alipay": 0, "refunds_payable": 0, "suspense": 0}


def test_a_late_notification_for_a_payment_made_in_time_is_still_credited(
    school: Engine, clock: FixedClock
) -> None:
    order = school.create_order("s1", ["T3"])
    paid_at = clock.now() + timedelta(minutes=10)
    clock.advance(hours=3)
    assert school.confirm("wechat", "W9", order.order_no, 10_000, paid_at=paid_at).credited


def test_an_unknown_order_is_kept_in_suspense(school: Engine) -> None:
    result = school.confirm("unionpay", "U1", "NO-SUCH-ORDER", 1234)
    assert result.status is PaymentStatus.SUSPENSE and result.payment.reason == "unknown_order"
    assert [r.amount_fen for r in school.pending_refunds()] == [1234]


def test_paying_a_bill_already_paid_elsewhere_goes_to_suspense(school: Engine) -> None:
    first = school.create_order("s1", ["T3"])
    second = school.create_order("s1", ["T3"])
    assert school.confirm("wechat", "W1", first.order_no, 10_000).credited
    late = school.confirm("alipay", "A1", second.order_no, 10_000)
    assert late.status is PaymentStatus.SUSPENSE and late.payment.reason == "already_paid"
    assert school.order(second.order_no).status is OrderStatus.FAILED
    assert school.bill("s1", "T3").paid_fen == 10_000
    assert school.check_books() == []


def test_part_payments_follow_priority_and_complete_the_bill(school: Engine) -> None:
    first = school.create_order("s1", ["T1"], amount_fen=300_000)
    school.confirm("counter", "C1", first.order_no, 300_000)
    bill = school.bill("s1", "T1")
    assert [(i.code, i.paid_fen) for i in bill.items] == [("tuition", 300_000), ("books", 0)]
    rest = school.create_order("s1", ["T1"])
    assert rest.total_fen == 188_000
    school.confirm("counter", "C2", rest.order_no, 188_000)
    assert school.bill("s1", "T1").status(school.today("s1")).value == "paid"


def test_refunds_are_capped_idempotent_and_journalled(school: Engine) -> None:
    order = school.create_order("s1", ["T1"])
    paid = school.confirm("wechat", "W1", order.order_no, 488_000).payment
    r1 = school.refund(
        paid.id, 38_000, request_id="R1", reason="books returned", requested_by="bursar"
    )
    again = school.refund(
        paid.id, 38_000, request_id="R1", reason="books returned", requested_by="bursar"
    )
    assert again.id == r1.id
    assert school.order(order.order_no).status is OrderStatus.PARTIALLY_REFUNDED
    before = counts(school)
    with pytest.raises(
        InvalidInput, match=r"amount: 4500.01 is more than the 4500.00 left to refund on payment"
    ):
        school.refund(paid.id, 450_001, request_id="R2", reason="x", requested_by="bursar")
    with pytest.raises(Conflict, match="refund request R1 was made before for 380.00, not 1.00"):
        school.refund(paid.id, 100, request_id="R1", reason="x", requested_by="bursar")
    assert counts(school) == before
    school.refund(paid.id, 450_000, request_id="R2", reason="withdrawal", requested_by="bursar")
    assert school.order(order.order_no).status is OrderStatus.REFUNDED
    assert school.bill("s1", "T1").status(school.today("s1")).value == "refunded"
    balance = school.trial_balance()
    assert balance["fee_income"] == 0  # the whole fee went back with the whole refund
    assert balance["payable:s1"] == 0
    assert school.check_books() == []
    assert [a["action"] for a in school.audit_log("payment")] == ["refund", "refund"]


def test_reversal_makes_the_bill_owed_again_and_is_idempotent(school: Engine) -> None:
    order = school.create_order("s1", ["T2"])
    school.confirm("pos", "P1", order.order_no, 450_000)
    reversed_ = school.reverse("pos", "P1", reason="terminal timeout", requested_by="pos-7")
    assert school.reverse("pos", "P1", reason="again", requested_by="pos-7").id == reversed_.id
    assert reversed_.status is PaymentStatus.REVERSED
    assert school.bill("s1", "T2").outstanding_fen == 450_000
    assert school.order(order.order_no).status is OrderStatus.REVERSED
    assert school.trial_balance()["clearing:pos"] == 0
    assert school.check_books() == []


def test_a_reversal_that_arrives_before_its_sale_blocks_the_sale(school: Engine) -> None:
    order = school.create_order("s1", ["T2"])
    school.reverse(
        "pos", "P2", reason="terminal timeout", requested_by="pos-7", order_no=order.order_no
    )
    late_sale = school.confirm("pos", "P2", order.order_no, 450_000)
    assert late_sale.duplicate and late_sale.status is PaymentStatus.REVERSED
    assert school.bill("s1", "T2").paid_fen == 0


def test_a_suspended_biller_takes_no_new_orders(school: Engine) -> None:
    school.set_biller_status("s1", BillerStatus.SUSPENDED, actor="ops", reason="due diligence")
    with pytest.raises(Conflict, match="biller s1 is suspended; it takes no new orders"):
        school.create_order("s1", ["T1"])


def test_limits_refuse_orders_and_change_nothing(school: Engine) -> None:
    school.set_limits("s1", Limits(single_payment_fen=400_000), actor="risk", reason="new merchant")
    before = counts(school)
    with pytest.raises(
        LimitExceeded, match="amount 4500.00 is over s1's single-payment limit of 4000.00"
    ):
        school.create_order("s1", ["T2"])
    school.set_limits("s1", Limits(daily_fen=459_999), actor="risk", reason="daily cap")
    school.create_order("s1", ["T2"])
    with pytest.raises(
        LimitExceeded, match="over its daily limit of 4599.99 \\(4500.00 used today\\)"
    ):
        school.create_order("s1", ["T3"])
    assert counts(school)["orders"] == before["orders"] + 1
    assert [a["action"] for a in school.audit_log("biller", "s1")][-2:] == [
        "set_limits",
        "set_limits",
    ]


def test_orders_refuse_bad_requests_clearly(school: Engine) -> None:
    with pytest.raises(NotFound, match="biller 'nope' does not exist"):
        school.create_order("nope", ["T1"])
    with pytest.raises(NotFound, match="bill 'T9' does not exist for biller s1"):
        school.create_order("s1", ["T9"])
    with pytest.raises(InvalidInput, match="one order pays the bills of one payer"):
        school.create_order("s1", ["T1", "T2"])
    with pytest.raises(InvalidInput, match="the same bill is listed twice"):
        school.create_order("s1", ["T1", "T1"])
    with pytest.raises(InvalidInput, match="amount: must be more than 0, got -5 fen"):
        school.confirm("wechat", "W1", "X", -5)


def test_the_same_idempotency_key_returns_the_same_order(school: Engine) -> None:
    a = school.create_order("s1", ["T2"], idempotency_key="k1")
    b = school.create_order("s1", ["T2"], idempotency_key="k1")
    assert a.order_no == b.order_no


def test_waivers_and_cancellations_are_audited(school: Engine) -> None:
    school.waive("s1", "T1", 100_000, reason="scholarship", granted_by="principal", request_id="w1")
    school.cancel_bill("s1", "T3", reason="duplicate bill", by="bursar")
    log = school.audit_log("bill")
    assert [
        (a["action"], a["actor"], a["before"]["outstanding"], a["after"]["outstanding"])
        for a in log
    ] == [
        ("waive", "principal", "4880.00", "3880.00"),
        ("cancel", "bursar", "100.00", "100.00"),
    ]
    assert log[1]["after"]["status"] == "cancelled"


def test_the_audit_log_is_append_only_in_the_database(school: Engine) -> None:
    school.waive("s1", "T1", 100, reason="r", granted_by="g", request_id="w2")
    with school.uow() as uow, pytest.raises(Exception, match="append-only"):
        uow.conn.execute(t.audit_log.update().values(reason="rewritten"))
    with school.uow() as uow, pytest.raises(Exception, match="append-only"):
        uow.conn.execute(t.audit_log.delete())


def test_a_repeat_ends_its_transaction_without_a_rollback(school: Engine) -> None:
    """A repeat writes nothing: its transaction ends with COMMIT. On PostgreSQL a ROLLBACK
    would also make psycopg drop every statement prepared on the connection."""
    order = school.create_order("s1", ["T3"])
    school.confirm("wechat", "W9", order.order_no, 10_000)
    sent: list[str] = []

    def seen(conn: Any, *_args: Any) -> None:
        sent.append("ROLLBACK")

    def committed(conn: Any) -> None:
        sent.append("COMMIT")

    event.listen(school.db, "rollback", seen)
    event.listen(school.db, "commit", committed)
    try:
        again = school.confirm("wechat", "W9", order.order_no, 10_000)
    finally:
        event.remove(school.db, "rollback", seen)
        event.remove(school.db, "commit", committed)
    assert again.duplicate and again.credited
    assert sent == ["COMMIT"], sent
    assert counts(school)["payments"] == 1
