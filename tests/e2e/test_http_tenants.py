"""A biller's key can never read or change another biller's data: every route of the app,
every method, aimed at the other biller's real identifiers, answers 403/404 and changes
nothing. Routes are taken from the app itself, so a new endpoint is covered (or this test
fails until it is classified)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters import schema as t
from billfold.adapters.http.app import create_app
from billfold.adapters.http.keys import Scope, create_key

BILLS = b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2024002,25.50\n"
NOT_TENANT = {"/v1/notify/{channel}"}  # authenticated by the channel's signature, not a key
LISTS = {"/v1/billers", "/v1/lookup"}  # no identifiers in the path: checked by content below


@pytest.fixture
def world(engine: Engine) -> Iterator[tuple[FastAPI, TestClient, dict[str, str], dict[str, str]]]:
    for code, name, kind in (("s1", "一中", BillerKind.SCHOOL), ("w2", "水司", BillerKind.UTILITY)):
        engine.create_biller(Biller(code=code, name=name, kind=kind))
        engine.import_bills(code, BILLS)
    order = engine.create_order("w2", ["T1"])
    paid = engine.confirm("counter", "W2-TXN", order.order_no, 1000)
    refund = engine.refund(paid.payment.id, 100, request_id="r1", reason="x", requested_by="ops")
    target = {
        "code": "w2",
        "bill_no": "T2",
        "order_no": order.order_no,
        "payment_id": str(paid.payment.id),
        "refund_no": refund.refund_no,
    }
    keys = {
        "write": create_key(engine, "s1", Scope.WRITE).secret,
        "read": create_key(engine, "s1", Scope.READ).secret,
    }
    app = create_app(engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client, keys, target


def snapshot(engine: Engine) -> dict[str, Any]:
    tables = (
        t.bills,
        t.bill_items,
        t.orders,
        t.payments,
        t.refunds,
        t.journal_postings,
        t.outbox_events,
        t.audit_log,
    )
    with engine.uow() as uow:
        counts = {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables
        }
        rows = {
            table.name: sorted(map(tuple, uow.conn.execute(select(table)).all()), key=repr)
            for table in (t.bills, t.bill_items, t.orders, t.payments, t.refunds)
        }
    return {"counts": counts, "rows": repr(rows)}


def test_every_endpoint_refuses_another_billers_data_and_changes_nothing(
    engine: Engine, world: tuple[FastAPI, TestClient, dict[str, str], dict[str, str]]
) -> None:
    app, client, keys, target = world
    before = snapshot(engine)
    tried = 0
    for template, operations in app.openapi()["paths"].items():  # every route the app serves
        if template in NOT_TENANT or template in LISTS:
            continue
        params = re.findall(r"{(\w+)}", template)
        assert params, f"{template}: classify this route in the tenant test"
        path = template.format(**{name: target[name] for name in params})
        for method in operations:
            for scope in ("write", "read"):
                headers = {"Authorization": f"Bearer {keys[scope]}", "Idempotency-Key": "k"}
                answer = client.request(method, path, json={}, headers=headers)
                assert answer.status_code in (403, 404), (method, path, scope, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                tried += 1
    assert tried >= 2 * 11
    headers = {"Authorization": f"Bearer {keys['write']}"}
    listed = client.get("/v1/billers", headers=headers).json()
    assert [b["code"] for b in listed] == ["s1"]
    found = client.get("/v1/lookup", params={"identifier": "2024002"}, headers=headers).json()
    assert {hit["biller_code"] for hit in found} == {"s1"}
    refused = client.get(
        "/v1/lookup", params={"identifier": "2024002", "biller": "w2"}, headers=headers
    )
    assert refused.status_code == 404
    assert snapshot(engine) == before
