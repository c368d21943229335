"""The back office credits a held payment over HTTP: once, with an Idempotency-Key, with a
back-office key only; refusals carry the engine's reason and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ops_world import Api, open_api  # type: ignore[import-not-found]
from sqlalchemy import select

from billfold import Engine, FixedClock
from billfold.adapters.db import schema as t

TABLES = (t.payments, t.orders, t.bill_items, t.journal_postings, t.outbox_events, t.refunds)


@pytest.fixture
def api(engine: Engine, clock: FixedClock) -> Iterator[Api]:
    with open_api(engine) as world:
        yield world


def held(api: Api, fen: int, txn: str = "C-1") -> tuple[str, int]:
    order = api.engine.create_order("s1", ["T2"])
    payment = api.engine.confirm("counter", txn, order.order_no, fen).payment
    assert payment.status.value == "held"
    return order.order_no, payment.id


def rows(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    with api.engine.uow() as uow:
        return {
            table.name: [tuple(r) for r in uow.conn.execute(select(table).order_by(table.c.id))]
            for table in TABLES
        }


def test_the_back_office_credits_a_held_payment_once_and_returns_the_excess(api: Api) -> None:
    order_no, payment_id = held(api, 3000)
    path = f"/v1/payments/{payment_id}/credit"
    body = {"reason": "多缴 4.50 元，退回差额", "operator": "王会计"}
    first = api.client.post(path, json=body, headers=api.auth("office", "cr-1"))
    again = api.client.post(path, json=body, headers=api.auth("office", "cr-1"))
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["refunded"]) == ("credited", "4.50")
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert api.engine.order(order_no).status.value == "paid"
    assert api.engine.bill("s1", "T2").outstanding_fen == 0
    assert [r.amount_fen for r in api.engine.pending_refunds()] == [450]
    assert api.engine.check_books() == []
    (audit,) = [a for a in api.engine.audit_log("payment") if a["action"] == "credit_held"]
    assert audit["actor"].startswith("王会计 (api key ")


def test_a_new_key_for_a_payment_credited_already_answers_it_and_changes_nothing(
    api: Api,
) -> None:
    _, payment_id = held(api, 3000)
    path = f"/v1/payments/{payment_id}/credit"
    first = api.client.post(path, json={"reason": "ok"}, headers=api.auth("office", "cr-2"))
    before = rows(api)
    again = api.client.post(path, json={"reason": "ok"}, headers=api.auth("office", "cr-3"))
    assert again.status_code == 200 and again.json() == first.json()
    assert rows(api) == before


def test_a_billers_key_may_not_credit_and_nothing_changes(api: Api) -> None:
    _, payment_id = held(api, 3000)
    before = rows(api)
    answer = api.client.post(
        f"/v1/payments/{payment_id}/credit", json={"reason": "x"}, headers=api.auth("s1", "cr-4")
    )
    assert answer.status_code == 403 and answer.json()["code"] == "back_office_only"
    assert answer.json()["detail"].endswith("belongs to biller s1; this needs a back-office key")
    assert rows(api) == before


def test_a_credit_without_an_idempotency_key_is_refused(api: Api) -> None:
    _, payment_id = held(api, 3000)
    before = rows(api)
    answer = api.client.post(
        f"/v1/payments/{payment_id}/credit", json={"reason": "x"}, headers=api.auth("office")
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "Idempotency-Key: Field required"
    assert rows(api) == before


def test_a_part_payment_the_bill_does_not_take_is_refused_with_the_reason(api: Api) -> None:
    order_no, payment_id = held(api, 2000)
    before = rows(api)
    answer = api.client.post(
        f"/v1/payments/{payment_id}/credit",
        json={"reason": "x"},
        headers=api.auth("office", "cr-5"),
    )
    assert answer.status_code == 409 and answer.json()["code"] == "invalid_transition"
    assert answer.json()["detail"] == (
        f"payment {payment_id} cannot be credited to order {order_no}: amount: bill T2 must be "
        "paid in full (25.50); it does not take part payments"
    )
    assert rows(api) == before


def test_an_unknown_payment_is_not_found(api: Api) -> None:
    answer = api.client.post(
        "/v1/payments/999/credit", json={"reason": "x"}, headers=api.auth("office", "cr-6")
    )
    assert answer.status_code == 404
