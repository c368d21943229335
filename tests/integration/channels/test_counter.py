"""The counter: a clerk collects, confirms with a receipt number, pays refunds out in cash."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.channels.base import CollectRequest
from billfold.channels.collect import Collector
from billfold.channels.counter import (
    CounterChannel,
    CounterReceipt,
    Tender,
    confirm_at_counter,
    confirm_cash_refund,
    refund_at_counter,
)
from billfold.channels.verification import NotificationRejected
from billfold.clock import FixedClock
from billfold.collection.order import OrderStatus
from billfold.collection.payment import PaymentStatus
from billfold.errors import Conflict, InvalidInput, NotFound

BILLS = "bill_no,payer_id,payer_name,amount\nH1,110101,王五,350.00\nH2,110102,赵六,80.00\n"


@pytest.fixture
def office(engine: Engine, clock: FixedClock) -> Collector:
    engine.create_biller(Biller(code="hk1", name="出入境管理", kind=BillerKind.GOVERNMENT))
    engine.import_bills("hk1", BILLS.encode())
    return Collector(engine, {"counter": CounterChannel(clock)})


def counter_audit(engine: Engine) -> list[dict[str, object]]:
    return [e for e in engine.audit_log("payment") if e["action"].startswith("counter_")]


def counts(engine: Engine) -> dict[str, int]:
    with engine.uow() as uow:
        return {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.payments, t.journal_postings, t.outbox_events, t.audit_log)
        }


def test_the_clerk_is_told_the_amount_to_collect(office: Collector) -> None:
    order = office.engine.create_order("hk1", ["H1"])
    start = office.start(order.order_no, "counter")
    assert start.action == "collect_at_counter"
    assert (start.data["amount_fen"], start.data["amount"]) == (35_000, "350.00")
    assert start.data["prompt"] == "收款 350.00 元"
    assert office.engine.order(order.order_no).status is OrderStatus.PAYING


def test_the_clerks_receipt_confirms_the_payment_and_records_the_operator(
    office: Collector,
) -> None:
    order = office.engine.create_order("hk1", ["H1"])
    office.start(order.order_no, "counter")
    result = confirm_at_counter(
        office, order.order_no, "R-0001", 35_000, operator="clerk-07", tender=Tender.CARD
    )
    assert result.credited and result.payment.channel_txn_id == "R-0001"
    assert office.engine.bill("hk1", "H1").paid_fen == 35_000
    [entry] = counter_audit(office.engine)
    assert (entry["actor"], entry["action"], entry["reason"]) == (
        "clerk-07",
        "counter_confirm",
        "receipt R-0001 (card)",
    )
    assert entry["target_id"] == str(result.payment.id)
    assert office.engine.check_books() == []


def test_a_receipt_confirmed_twice_credits_once(office: Collector) -> None:
    order = office.engine.create_order("hk1", ["H1"])
    first = confirm_at_counter(office, order.order_no, "R-0001", 35_000, operator="clerk-07")
    again = confirm_at_counter(office, order.order_no, "R-0001", 35_000, operator="clerk-07")
    assert first.credited and again.duplicate and again.payment.id == first.payment.id
    assert office.engine.bill("hk1", "H1").paid_fen == 35_000
    assert len(counter_audit(office.engine)) == 1


def test_a_receipt_number_used_for_another_order_is_refused(office: Collector) -> None:
    h1 = office.engine.create_order("hk1", ["H1"])
    h2 = office.engine.create_order("hk1", ["H2"])
    confirm_at_counter(office, h1.order_no, "R-0001", 35_000, operator="clerk-07")
    before = counts(office.engine)
    with pytest.raises(Conflict) as caught:
        confirm_at_counter(office, h2.order_no, "R-0001", 8_000, operator="clerk-07")
    assert caught.value.message == (
        f"receipt R-0001 was already used for order {h1.order_no}; "
        "nothing was recorded for this order"
    )
    assert counts(office.engine) == before
    assert office.engine.order(h2.order_no).status is OrderStatus.CREATED


def test_a_different_amount_taken_at_the_counter_is_held(office: Collector) -> None:
    order = office.engine.create_order("hk1", ["H1"])
    result = confirm_at_counter(office, order.order_no, "R-0002", 30_000, operator="clerk-07")
    assert result.status is PaymentStatus.HELD
    assert office.engine.bill("hk1", "H1").paid_fen == 0
    assert counter_audit(office.engine)[0]["after"] == {
        "amount": "300.00",
        "order_no": order.order_no,
        "status": "held",
    }


def test_a_confirmation_posted_as_json_is_credited(office: Collector) -> None:
    order = office.engine.create_order("hk1", ["H2"])
    body = json.dumps(
        {
            "order_no": order.order_no,
            "receipt_no": "R-0003",
            "amount_fen": 8_000,
            "operator": "clerk-02",
            "tender": "cash",
        }
    ).encode()
    result = office.notify("counter", {}, body)
    assert result is not None and result.credited
    assert office.channel("counter").reply(True).body == b'{"code":"SUCCESS"}'


MALFORMED: list[tuple[dict[str, object], str]] = [
    ({"operator": ""}, "body field operator must be a non-empty string"),
    ({"amount_fen": "80.00"}, "amount_fen '80.00' is not integer fen"),
    ({"tender": "cheque"}, "tender 'cheque' is not cash or card"),
    (
        {"receipt_no": "R 3"},
        "receipt_no: 'R 3' must be 1-64 letters, digits, '.', '/', '-' or '_'",
    ),
    ({"amount_fen": -5}, "amount: must be more than 0.00, got -0.05"),
    ({"order_no": "BF\x001"}, "order_no: contains a control character (U+0000)"),
    ({"operator": "c\x002"}, "operator: contains a control character (U+0000)"),
    ({"amount_fen": 10**19}, "amount: 100000000000000000.00 is over 10000000000000.00"),
]


def test_a_malformed_counter_confirmation_is_rejected_and_changes_nothing(
    office: Collector,
) -> None:
    content: dict[str, object] = {
        "order_no": "BF1",
        "receipt_no": "R-3",
        "amount_fen": 8_000,
        "operator": "c2",
    }
    before = counts(office.engine)
    for change, message in MALFORMED:
        with pytest.raises(NotificationRejected) as caught:
            office.notify("counter", {}, json.dumps(content | change).encode())
        assert (caught.value.reason, caught.value.message) == ("bad_body", message)
    assert counts(office.engine) == before


def test_a_receipt_needs_an_operator() -> None:
    with pytest.raises(InvalidInput) as caught:
        CounterReceipt("BF1", "R-1", 100, operator=" ")
    assert caught.value.message == "operator: the clerk confirming the payment is required"


def test_a_counter_order_is_never_settled_by_asking_the_counter(clock: FixedClock) -> None:
    channel = CounterChannel(clock)
    assert channel.query("BF1").state.value == "pending" and channel.query("BF1").event is None
    request = CollectRequest("BF1", "hk1", "出入境管理", 100, datetime(2026, 9, 1, tzinfo=UTC))
    assert channel.start(request).data["expires_at"] == "2026-09-01T00:00:00+00:00"
    assert channel.close("BF1") is True


# -- refunds -------------------------------------------------------------------------------------


def paid(office: Collector) -> int:
    order = office.engine.create_order("hk1", ["H1"])
    return confirm_at_counter(office, order.order_no, "R-9", 35_000, operator="clerk-07").payment.id


def refunds_paid_entries(engine: Engine) -> int:
    with engine.uow() as uow:
        query = select(func.count()).select_from(t.journal_entries)
        return int(
            uow.conn.execute(query.where(t.journal_entries.c.kind == "refund_paid")).scalar_one()
        )


def test_a_counter_refund_stays_pending_until_the_cashier_confirms_the_cash(
    office: Collector,
) -> None:
    refund = office.engine.refund(
        paid(office), 5_000, request_id="r1", reason="overcharged", requested_by="supervisor"
    )
    [payout] = office.pay_out_refunds()
    assert (payout.refund_no, payout.succeeded) == (refund.refund_no, True)
    assert payout.message.startswith("pay 50.00 out in cash at the counter, then confirm it")
    assert [r.refund_no for r in office.engine.pending_refunds()] == [refund.refund_no]
    assert refunds_paid_entries(office.engine) == 0  # no cash has gone out yet
    assert office.engine.check_books() == []


def test_confirming_the_cash_completes_the_refund_and_moves_the_journal_once(
    office: Collector, clock: FixedClock
) -> None:
    refund = office.engine.refund(
        paid(office), 5_000, request_id="r1", reason="overcharged", requested_by="supervisor"
    )
    office.pay_out_refunds()
    clock.advance(timedelta(minutes=3))
    done = confirm_cash_refund(office.engine, refund.refund_no, by="cashier-02")
    assert done.status.value == "succeeded" and done.completed_at == clock.now()
    assert refunds_paid_entries(office.engine) == 1
    again = confirm_cash_refund(office.engine, refund.refund_no, by="cashier-02")
    assert again == done and refunds_paid_entries(office.engine) == 1
    assert office.engine.pending_refunds() == [] and office.pay_out_refunds() == []
    entry = counter_audit(office.engine)[-1]
    assert (entry["actor"], entry["action"]) == ("cashier-02", "counter_refund")
    assert len(counter_audit(office.engine)) == 2  # the confirmation of the sale, then this
    assert office.engine.check_books() == []


@pytest.mark.parametrize(
    ("by", "message"),
    [
        ("", "by: the cashier who paid the refund out is required (1-100 characters)"),
        ("c\x00", "by: contains a control character (U+0000)"),
    ],
)
def test_a_cash_confirmation_needs_a_cashier_and_changes_nothing(
    office: Collector, by: str, message: str
) -> None:
    refund = office.engine.refund(
        paid(office), 5_000, request_id="r1", reason="overcharged", requested_by="supervisor"
    )
    with pytest.raises(InvalidInput) as caught:
        confirm_cash_refund(office.engine, refund.refund_no, by=by)
    assert caught.value.message == message
    assert refunds_paid_entries(office.engine) == 0
    with pytest.raises(NotFound, match="refund 'R-NOPE' does not exist"):
        confirm_cash_refund(office.engine, "R-NOPE", by="cashier-02")


def test_the_clerk_paying_a_refund_out_is_recorded(office: Collector, clock: FixedClock) -> None:
    refund = office.engine.refund(
        paid(office), 5_000, request_id="r1", reason="overcharged", requested_by="supervisor"
    )
    clock.advance(timedelta(minutes=5))
    done = refund_at_counter(office.engine, refund.refund_no, operator="clerk-03")
    assert done.status.value == "succeeded" and done.channel_refund_id == f"CTR-{refund.refund_no}"
    entry = counter_audit(office.engine)[-1]
    assert (entry["actor"], entry["action"]) == ("clerk-03", "counter_refund")
    with pytest.raises(NotFound) as caught:
        refund_at_counter(office.engine, refund.refund_no, operator="clerk-03")
    assert caught.value.message == f"no pending refund {refund.refund_no}"
    assert office.engine.check_books() == []


def test_a_refund_of_another_channels_payment_is_not_paid_at_the_counter(
    office: Collector,
) -> None:
    order = office.engine.create_order("hk1", ["H2"])
    payment = office.engine.confirm("qr", "QR-1", order.order_no, 8_000).payment
    refund = office.engine.refund(
        payment.id, 8_000, request_id="r2", reason="duplicate", requested_by="supervisor"
    )
    with pytest.raises(Conflict) as caught:
        refund_at_counter(office.engine, refund.refund_no, operator="clerk-03")
    assert caught.value.message == (
        f"refund {refund.refund_no} is of a qr payment; it is paid out through qr, "
        "not at the counter"
    )
