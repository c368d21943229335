"""Orders, payments and refunds over HTTP: the engine computes totals; an Idempotency-Key
repeat returns the first answer and moves no money twice."""

from __future__ import annotations

from sqlalchemy import Table, func, select

from billfold.adapters.db import schema as t
from billfold.testing.http import ApiClient as Api


def _count(api: Api, table: Table) -> int:
    with api.engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(table)).scalar_one())


def _order(api: Api, key: str = "k-1", bills: list[str] | None = None) -> dict[str, object]:
    answer = api.client.post(
        "/v1/billers/s1/orders",
        json={"bill_nos": bills or ["T2"]},
        headers=api.auth("s1", **{"Idempotency-Key": key}),
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_the_engine_computes_the_order_total(api: Api) -> None:
    order = _order(api)
    assert order["total"] == "25.50" and order["status"] == "created"
    lines = order["lines"]
    assert isinstance(lines, list)
    assert [(line["bill_no"], line["amount"]) for line in lines] == [("T2", "25.50")]
    got = api.client.get(f"/v1/orders/{order['order_no']}", headers=api.auth("s1-read"))
    assert got.json()["total"] == "25.50" and got.json()["biller_code"] == "s1"


def test_a_repeated_order_request_returns_the_first_order_and_creates_nothing(api: Api) -> None:
    first = api.client.post(
        "/v1/billers/s1/orders",
        json={"bill_nos": ["T1"]},
        headers=api.auth("s1", **{"Idempotency-Key": "abc"}),
    )
    again = api.client.post(
        "/v1/billers/s1/orders",
        json={"bill_nos": ["T1"]},
        headers=api.auth("s1", **{"Idempotency-Key": "abc"}),
    )
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(api, t.orders) == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(api: Api) -> None:
    _order(api, "same")
    other = api.client.post(
        "/v1/billers/s1/orders",
        json={"bill_nos": ["T1"]},
        headers=api.auth("s1", **{"Idempotency-Key": "same"}),
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert other.json()["detail"] == (
        "Idempotency-Key 'same' was used before for a different request"
    )
    assert _count(api, t.orders) == 1


def test_the_same_key_from_two_api_keys_is_two_requests(api: Api) -> None:
    _order(api, "shared")
    answer = api.client.post(
        "/v1/billers/s1/orders",
        json={"bill_nos": ["T2"]},
        headers=api.auth("office", **{"Idempotency-Key": "shared"}),
    )
    assert answer.status_code == 201
    assert _count(api, t.orders) == 2


def test_an_order_without_an_idempotency_key_is_refused_naming_the_header(api: Api) -> None:
    answer = api.client.post(
        "/v1/billers/s1/orders", json={"bill_nos": ["T1"]}, headers=api.auth("s1")
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "Idempotency-Key: Field required"
    assert _count(api, t.orders) == 0


def test_an_order_for_an_unknown_bill_names_it(api: Api) -> None:
    answer = api.client.post(
        "/v1/billers/s1/orders",
        json={"bill_nos": ["NOPE"]},
        headers=api.auth("s1", **{"Idempotency-Key": "x"}),
    )
    assert answer.status_code == 404
    assert answer.json()["detail"] == "bill 'NOPE' does not exist for biller s1"


def test_a_payment_is_read_and_refunded_once_per_idempotency_key(api: Api) -> None:
    order = _order(api)
    paid = api.engine.confirm("counter", "C-77", str(order["order_no"]), 2550)
    payment = api.client.get(f"/v1/payments/{paid.payment.id}", headers=api.auth("s1"))
    assert payment.json()["status"] == "credited" and payment.json()["amount"] == "25.50"
    headers = api.auth("s1", **{"Idempotency-Key": "refund-1"})
    body = {"amount": "5.50", "reason": "多缴退费"}
    first = api.client.post(f"/v1/payments/{paid.payment.id}/refunds", json=body, headers=headers)
    again = api.client.post(f"/v1/payments/{paid.payment.id}/refunds", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert again.json() == first.json() and first.json()["status"] == "pending"
    assert api.engine.payment(paid.payment.id).refunded_fen == 550
    refund = api.client.get(f"/v1/refunds/{first.json()['refund_no']}", headers=api.auth("s1"))
    assert refund.json()["amount"] == "5.50"
    assert api.engine.check_books() == []


def test_refunding_more_than_was_paid_is_refused_and_changes_nothing(api: Api) -> None:
    order = _order(api)
    paid = api.engine.confirm("counter", "C-78", str(order["order_no"]), 2550)
    answer = api.client.post(
        f"/v1/payments/{paid.payment.id}/refunds",
        json={"amount": "25.51", "reason": "x"},
        headers=api.auth("s1", **{"Idempotency-Key": "too-much"}),
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        f"amount: 25.51 is more than the 25.50 left to refund on payment {paid.payment.id}"
    )
    assert api.engine.payment(paid.payment.id).refunded_fen == 0
    assert _count(api, t.refunds) == 0
