"""Idempotency-Key under real concurrency: two requests with one key and different bodies at
the same moment. The key is claimed with the request's fingerprint before any work runs, so
whatever the timing a 201 always answers its own body and the other body is refused."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import insert, select

from billfold import FixedClock
from billfold.adapters.db.schema.api import api_idempotency
from billfold.adapters.http.idempotency import _fingerprint
from billfold.testing.http import ApiClient as Api

PAIRS = 150


def _race(
    api: Api, path: str, bodies: tuple[dict[str, Any], dict[str, Any]], key: str
) -> list[httpx.Response]:
    barrier = threading.Barrier(2)
    headers = api.auth("s1", **{"Idempotency-Key": key})

    def send(body: dict[str, Any]) -> httpx.Response:
        barrier.wait()
        return api.client.post(path, json=body, headers=headers)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(send, bodies))


def test_racing_orders_with_one_key_and_different_bills_never_answer_the_other_body(
    api: Api,
) -> None:
    wrong: list[str] = []
    statuses: list[int] = []
    for n in range(PAIRS):
        bodies = ({"bill_nos": ["T1"]}, {"bill_nos": ["T2"]})
        answers = _race(api, "/v1/billers/s1/orders", bodies, f"race-{n}")
        for body, answer in zip(bodies, answers, strict=True):
            statuses.append(answer.status_code)
            if answer.status_code == 201:
                got = [line["bill_no"] for line in answer.json()["lines"]]
                if got != body["bill_nos"]:
                    wrong.append(f"pair {n}: asked {body['bill_nos']}, got {got}")
            else:
                assert answer.status_code in (409, 422), answer.text
                assert answer.json()["code"] in (
                    "idempotency_key_reused",
                    "idempotency_key_in_progress",
                ), answer.text
        # whatever answer was stored replays to its own body, and refuses the other
        for body in bodies:
            again = api.client.post(
                "/v1/billers/s1/orders",
                json=body,
                headers=api.auth("s1", **{"Idempotency-Key": f"race-{n}"}),
            )
            if again.status_code == 201:
                got = [line["bill_no"] for line in again.json()["lines"]]
                if got != body["bill_nos"]:
                    wrong.append(f"pair {n} replay: asked {body['bill_nos']}, got {got}")
    assert wrong == []
    assert 0 < statuses.count(201) <= PAIRS  # at most one body per key ever made an order


def test_racing_refunds_with_one_key_and_different_amounts_refund_only_their_own_amount(
    api: Api,
) -> None:
    order = api.client.post(
        "/v1/billers/s1/orders",
        json={"bill_nos": ["T2"]},
        headers=api.auth("s1", **{"Idempotency-Key": "pay-T2"}),
    ).json()
    paid = api.engine.confirm("counter", "C-race", str(order["order_no"]), 2550)
    path = f"/v1/payments/{paid.payment.id}/refunds"
    refunded = 0
    for n in range(30):
        bodies = ({"amount": "0.01", "reason": "退费"}, {"amount": "0.02", "reason": "退费"})
        for body, answer in zip(bodies, _race(api, path, bodies, f"refund-{n}"), strict=True):
            if answer.status_code == 201:
                assert answer.json()["amount"] == body["amount"]
                refunded += {"0.01": 1, "0.02": 2}[body["amount"]]
            else:
                assert answer.status_code in (409, 422), answer.text
    assert api.engine.payment(paid.payment.id).refunded_fen == refunded


def test_a_claim_left_by_a_dead_request_blocks_until_stale_then_its_own_body_takes_it_over(
    api: Api, clock: FixedClock
) -> None:
    path, body = "/v1/billers/s1/orders", {"bill_nos": ["T1"]}
    fingerprint = _fingerprint("POST", path, {"bill_nos": ["T1"], "amount": None})
    key_id = api.keys["s1"].split("_")[1]  # a key reads bf_<key_id>_<secret>
    with api.engine.db.begin() as conn:  # what a request killed mid-work leaves behind
        conn.execute(
            insert(api_idempotency).values(
                principal=key_id,
                idempotency_key="dead",
                fingerprint=fingerprint,
                status_code=0,
                body="",
                created_at=clock.now(),
            )
        )
    headers = api.auth("s1", **{"Idempotency-Key": "dead"})
    busy = api.client.post(path, json=body, headers=headers)
    assert busy.status_code == 409 and busy.json()["code"] == "idempotency_key_in_progress"
    assert busy.headers["Retry-After"] == "1"
    other = api.client.post(path, json={"bill_nos": ["T2"]}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    clock.advance(minutes=6)
    taken = api.client.post(path, json=body, headers=headers)
    assert taken.status_code == 201 and taken.json()["lines"][0]["bill_no"] == "T1"
    again = api.client.post(path, json=body, headers=headers)
    assert again.json() == taken.json() and again.headers["Idempotent-Replayed"] == "true"


def test_a_refused_request_releases_its_key_for_a_retry(api: Api) -> None:
    headers = api.auth("s1", **{"Idempotency-Key": "retry-me"})
    refused = api.client.post("/v1/billers/s1/orders", json={"bill_nos": ["NOPE"]}, headers=headers)
    assert refused.status_code == 404
    with api.engine.db.connect() as conn:
        assert conn.execute(select(api_idempotency)).all() == []
    ok = api.client.post("/v1/billers/s1/orders", json={"bill_nos": ["T1"]}, headers=headers)
    assert ok.status_code == 201
