"""Starting to pay an order through a channel, and reversing a payment, over HTTP: the
channel's answer reaches the caller, repeats with an Idempotency-Key return the first answer,
and refusals change nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ops_world import Api, open_api  # type: ignore[import-not-found]

from billfold import Engine, FixedClock
from billfold.adapters.db import schema as t
from billfold.channels.counter import CounterChannel
from billfold.merchants.channel_config import ChannelConfig


@pytest.fixture
def api(engine: Engine, clock: FixedClock) -> Iterator[Api]:
    with open_api(engine, {"counter": CounterChannel(clock)}) as world:
        yield world


def _order(api: Api, bill_no: str = "T2") -> str:
    return api.engine.create_order("s1", [bill_no]).order_no


def test_paying_an_order_answers_what_the_counter_needs_and_marks_it_paying(api: Api) -> None:
    order_no = _order(api)
    answer = api.client.post(
        f"/v1/orders/{order_no}/pay", json={"channel": "counter"}, headers=api.auth("s1")
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["channel"], body["action"], body["order_no"]) == (
        "counter",
        "collect_at_counter",
        order_no,
    )
    assert body["data"]["amount"] == "25.50" and body["data"]["prompt"] == "收款 25.50 元"
    assert body["order"]["status"] == "paying" and body["order"]["channel"] == "counter"
    assert api.engine.order(order_no).channel == "counter"


def test_a_repeated_pay_request_with_a_key_returns_the_first_answer(api: Api) -> None:
    order_no = _order(api)
    path = f"/v1/orders/{order_no}/pay"
    first = api.client.post(path, json={"channel": "counter"}, headers=api.auth("s1", "p-1"))
    again = api.client.post(path, json={"channel": "counter"}, headers=api.auth("s1", "p-1"))
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"


def test_paying_through_a_channel_that_is_not_set_up_is_refused_and_changes_nothing(
    api: Api,
) -> None:
    order_no = _order(api)
    answer = api.client.post(
        f"/v1/orders/{order_no}/pay", json={"channel": "wechatpay"}, headers=api.auth("s1")
    )
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_input"
    assert answer.json()["detail"] == (
        "channel: 'wechatpay' is not set up in this billfold; set up: counter"
    )
    assert api.engine.order(order_no).status.value == "created"


def test_a_biller_whose_sole_channel_is_another_refuses_the_counter(api: Api) -> None:
    api.engine.set_channel_config(
        "s1", ChannelConfig("mobile_banking", sole=True), actor="ops", reason="sole channel"
    )
    order_no = _order(api)
    answer = api.client.post(
        f"/v1/orders/{order_no}/pay", json={"channel": "counter"}, headers=api.auth("s1")
    )
    assert answer.status_code == 409 and answer.json()["code"] == "channel_refused"
    assert answer.json()["detail"] == (
        "s1 collects only through mobile_banking (its designated sole channel); "
        "counter is not accepted"
    )
    assert api.engine.order(order_no).status.value == "created"


def test_a_read_key_may_not_start_a_payment(api: Api) -> None:
    order_no = _order(api)
    answer = api.client.post(
        f"/v1/orders/{order_no}/pay", json={"channel": "counter"}, headers=api.auth("s1-read")
    )
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden_role"
    assert api.engine.order(order_no).channel is None


def test_paying_a_paid_order_is_refused(api: Api) -> None:
    order_no, _ = api.paid_order("s1", "T1", "counter", "C-1")
    answer = api.client.post(
        f"/v1/orders/{order_no}/pay", json={"channel": "counter"}, headers=api.auth("s1")
    )
    assert answer.status_code == 409
    assert answer.json()["detail"] == f"order {order_no} is paid; create a new order"


def test_the_back_office_reverses_a_payment_once(api: Api) -> None:
    order_no, payment_id = api.paid_order("s1", "T2", "counter", "C-2")
    path = f"/v1/payments/{payment_id}/reverse"
    body = {"reason": "柜台冲正", "operator": "王会计"}
    first = api.client.post(path, json=body, headers=api.auth("office", "rev-1"))
    again = api.client.post(path, json=body, headers=api.auth("office", "rev-1"))
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "reversed" and again.json() == first.json()
    assert api.engine.order(order_no).status.value == "reversed"
    assert api.engine.bill("s1", "T2").outstanding_fen == 2550
    assert api.engine.check_books() == []
    (audit,) = [a for a in api.engine.audit_log("payment") if a["action"] == "reverse"]
    assert audit["actor"].startswith("王会计 (api key ")


def test_a_billers_key_may_not_reverse_and_nothing_changes(api: Api) -> None:
    order_no, payment_id = api.paid_order("s1", "T2", "counter", "C-3")
    answer = api.client.post(
        f"/v1/payments/{payment_id}/reverse",
        json={"reason": "x"},
        headers=api.auth("s1", "rev-2"),
    )
    assert answer.status_code == 403 and answer.json()["code"] == "back_office_only"
    assert answer.json()["detail"].endswith("belongs to biller s1; this needs a back-office key")
    assert api.engine.payment(payment_id).status.value == "credited"
    assert api.engine.order(order_no).status.value == "paid"


def test_a_reversal_without_an_idempotency_key_is_refused(api: Api) -> None:
    _, payment_id = api.paid_order("s1", "T2", "counter", "C-4")
    answer = api.client.post(
        f"/v1/payments/{payment_id}/reverse", json={"reason": "x"}, headers=api.auth("office")
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "Idempotency-Key: Field required"
    assert api.engine.payment(payment_id).status.value == "credited"
    assert api.count(t.journal_postings) > 0


def test_a_refunded_payment_is_not_reversed(api: Api) -> None:
    _, payment_id = api.paid_order("s1", "T2", "counter", "C-5")
    api.engine.refund(payment_id, 100, request_id="r", reason="多缴", requested_by="ops")
    answer = api.client.post(
        f"/v1/payments/{payment_id}/reverse",
        json={"reason": "x"},
        headers=api.auth("office", "rev-3"),
    )
    assert answer.status_code == 409 and answer.json()["code"] == "invalid_transition"
    assert answer.json()["detail"] == (
        f"payment {payment_id} has refunds; refund the rest instead of reversing it"
    )
    assert api.engine.payment(payment_id).status.value == "credited"


def test_paying_an_order_whose_bill_another_order_paid_is_refused_and_changes_nothing(
    api: Api,
) -> None:
    second = _order(api, "T1")  # two orders for one bill: two tabs, two apps
    first, _ = api.paid_order("s1", "T1", "counter", "C-first")
    answer = api.client.post(
        f"/v1/orders/{second}/pay", json={"channel": "counter"}, headers=api.auth("s1")
    )
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["code"] == "bills_already_paid" and problem["bill_nos"] == ["T1"]
    assert problem["detail"].startswith("bills: T1 already paid through another order")
    assert answer.headers["content-type"] == "application/problem+json"
    assert api.engine.order(second).status.value == "created"
    assert api.engine.order(first).status.value == "paid"


def test_a_new_order_for_a_paid_bill_is_refused_with_the_code(api: Api) -> None:
    api.paid_order("s1", "T1", "counter", "C-first")
    answer = api.client.post(
        "/v1/billers/s1/orders",
        json={"bill_nos": ["T1"]},
        headers=api.auth("s1", "after-paid"),
    )
    assert answer.status_code == 409 and answer.json()["code"] == "bills_already_paid"
