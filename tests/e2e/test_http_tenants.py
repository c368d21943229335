"""A biller's key can never read or change another biller's data: every route of the app,
every method, aimed at the other biller's real identifiers, answers 403/404 and changes
nothing. Routes are taken from the app itself, so a new endpoint is covered (or this test
fails until it is classified). Routes without identifiers are either the back office's
(403 for a biller's key) or lists, whose content is checked to hold only the caller's data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine, SettlementAccount
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import access as ta
from billfold.adapters.db.schema import mandates as tm
from billfold.adapters.db.schema import queues as tq
from billfold.adapters.db.schema import settlement as ts
from billfold.adapters.db.schema.api import api_keys
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.keys import Scope, create_key
from billfold.adapters.http.ratelimit import RateLimit
from billfold.adapters.outbox.endpoints import add_endpoint
from billfold.channels.autodebit_mandates import MandateBook
from billfold.collection.refund_transfer import TransferReason
from billfold.maker_checker import MakerChecker
from billfold.settlement.complaint import ComplaintKind
from billfold.settlement.complaints import ComplaintDesk, NewComplaint
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.settler import Profile, Settler

BILLS = b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2024002,25.50\n"
NOT_TENANT = {"/v1/notify/{channel}"}  # authenticated by the channel's signature, not a key
LISTS = {  # no identifiers in the path: checked by content below
    "/v1/approvals",
    "/v1/billers",
    "/v1/lookup",
    "/v1/reconciliation/discrepancies",
    "/v1/exports/discrepancies",
    "/v1/exports/settlements",
    "/v1/bills",
    "/v1/orders",
    "/v1/payments",
    "/v1/refunds",
    "/v1/suspense",
    "/v1/outbox/events",
    "/v1/outbox/deliveries",
    "/v1/exports/bills",
    "/v1/exports/orders",
    "/v1/exports/payments",
    "/v1/exports/refunds",
    "/v1/exports/suspense",
    "/v1/exports/outbox/events",
    "/v1/exports/outbox/deliveries",
    "/v1/complaints",
}
OFFICE = {  # spanning billers: a biller's key is refused outright
    "/v1/keys",
    "/v1/reconciliation/runs",
    "/v1/settlements",
    "/v1/exports/reconciliation",
    "/v1/audit",
    "/v1/exports/audit",
    "/v1/refund-transfers",
    "/v1/refund-transfers/files",
}
# A WeChat Pay trade bill with no trades: every payment of the day is 短款 (engine only)
EMPTY_WX_BILL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n"
    "`0,`0.00,`0.00,`0.00,`0.00,`0.00,`0.00\n"
).encode()
World = tuple[FastAPI, httpx.Client, dict[str, str], dict[str, str]]


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    for code, name, kind in (("s1", "一中", BillerKind.SCHOOL), ("w2", "水司", BillerKind.UTILITY)):
        account = SettlementAccount("工商银行", name, "6222020200112233")
        engine.create_biller(Biller(code=code, name=name, kind=kind, settlement_account=account))
        engine.import_bills(code, BILLS)
    order = engine.create_order("w2", ["T1"])
    paid = engine.confirm("counter", "W2-TXN", order.order_no, 1000)
    refund = engine.refund(paid.payment.id, 100, request_id="r1", reason="x", requested_by="ops")
    by_wallet = engine.create_order("w2", ["T2"])
    engine.confirm("wechatpay", "W2-WX", by_wallet.order_no, 2550)
    run = Reconciler(engine).reconcile(
        EMPTY_WX_BILL, format="wechatpay", business_date=engine.today()
    )
    (short,) = run.discrepancies
    mandate = MandateBook(engine).sign(
        "w2", "2024001", "6222020200445566", per_debit_limit_fen=10000,
        monthly_limit_fen=30000, actor="ops",
    )  # fmt: skip
    settler = Settler(engine)
    settler.set_profile("w2", Profile(settle_unreconciled=True), actor="ops", reason="T+0")
    batch = settler.draft("w2", engine.today("w2"), by="ops")
    proposal = MakerChecker(engine).propose(
        "settlement.approve", {"batch_no": batch.batch_no}, maker="key:x", biller_code="w2"
    )
    hook = add_endpoint(engine, "w2", "https://w2.example/hook", "s" * 32)
    complaint = ComplaintDesk(engine).open(
        NewComplaint("w2", ComplaintKind.OTHER, "ops", bill_no="T1"), answer=False
    )
    engine.refund_needs_transfer(refund.refund_no, TransferReason.OTHER, "card cancelled")
    target = {
        "code": "w2",
        "bill_no": "T2",
        "order_no": order.order_no,
        "payment_id": str(paid.payment.id),
        "refund_no": refund.refund_no,
        "mandate_no": mandate.mandate_no,
        "run_id": str(run.run.id),
        "discrepancy_id": str(short.id),
        "batch_no": batch.batch_no,
        "approval_id": str(proposal.id),
        "endpoint_id": str(hook.id),
        "key_id": create_key(engine, "w2", Scope.WRITE).key.key_id,
        "kind": "refund",  # an approval policy's kind; a complaint TAT's kind is refused as 404 first
        "complaint_no": complaint.complaint_no,
        "file_no": "RT-ANY",
    }
    keys = {
        "write": create_key(engine, "s1", Scope.WRITE).secret,
        "read": create_key(engine, "s1", Scope.READ).secret,
    }
    # every route twice per key is more than the default burst; limits are tested elsewhere
    app = create_app(engine, rate_limit=RateLimit(per_second=1000, burst=1000))
    with asgi_client(app) as client:
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
        tm.mandates,
        tm.mandate_debits,
        ts.recon_runs,
        ts.recon_discrepancies,
        ts.settlement_batches,
        ts.settlement_parts,
        ta.pending_approvals,
        ta.approval_policies,
        t.webhook_endpoints,
        api_keys,
        tq.complaints,
        tq.complaint_tats,
        tq.refund_transfers,
    )
    with engine.uow() as uow:
        counts = {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables
        }
        rows = {
            table.name: sorted(map(tuple, uow.conn.execute(select(table)).all()), key=repr)
            for table in (
                t.bills,
                t.bill_items,
                t.orders,
                t.payments,
                t.refunds,
                tm.mandates,
                ts.recon_discrepancies,
                ts.settlement_batches,
                ta.pending_approvals,
                t.webhook_endpoints,
                api_keys,
                tq.complaints,
                tq.refund_transfers,
            )
        }
    return {"counts": counts, "rows": repr(rows)}


def _refused(answer: httpx.Response, *what: object) -> None:
    assert answer.status_code in (403, 404), (*what, answer.text)
    assert answer.headers["content-type"] == "application/problem+json"


def test_every_endpoint_refuses_another_billers_data_and_changes_nothing(
    engine: Engine, world: World
) -> None:
    app, client, keys, target = world
    before = snapshot(engine)
    tried = 0
    for template, operations in app.openapi()["paths"].items():  # every route the app serves
        if template in NOT_TENANT or template in LISTS:
            continue
        params = re.findall(r"{(\w+)}", template)
        assert params or template in OFFICE, f"{template}: classify this route in the tenant test"
        path = template.format(**{name: target[name] for name in params})
        for method in operations:
            for scope in ("write", "read"):
                headers = {"Authorization": f"Bearer {keys[scope]}", "Idempotency-Key": "k"}
                answer = client.request(method, path, json={}, headers=headers)
                _refused(answer, method, path, scope)
                if not params:
                    assert answer.status_code == 403, (method, path, scope)
                tried += 1
    assert tried >= 2 * 32
    headers = {"Authorization": f"Bearer {keys['write']}"}
    listed = client.get("/v1/billers", headers=headers).json()
    assert [b["code"] for b in listed] == ["s1"]
    found = client.get("/v1/lookup", params={"identifier": "2024002"}, headers=headers).json()
    assert {hit["biller_code"] for hit in found} == {"s1"}
    refused = client.get(
        "/v1/lookup", params={"identifier": "2024002", "biller": "w2"}, headers=headers
    )
    assert refused.status_code == 404
    for status in ("open", None):
        params = {"status": status} if status else {}
        seen = client.get("/v1/reconciliation/discrepancies", params=params, headers=headers)
        assert seen.status_code == 200 and seen.json() == []
    seen = client.get("/v1/approvals", headers=headers)
    assert seen.status_code == 200 and seen.json() == []  # w2's proposal is not s1's
    exported = client.get("/v1/exports/discrepancies", headers=headers)
    assert exported.content.decode("utf-8-sig").count("\n") == 1  # the header only
    settled = client.get("/v1/exports/settlements", headers=headers)
    assert settled.status_code == 200 and target["batch_no"] not in settled.text
    _refused(client.get("/v1/exports/settlements", params={"biller": "w2"}, headers=headers))
    for params in ({}, {"overdue": "true"}, {"status": "open"}):
        mine = client.get("/v1/complaints", params=params, headers=headers)
        assert mine.status_code == 200 and mine.json() == [], params
    _refused(client.get("/v1/complaints", params={"biller": "w2"}, headers=headers))
    body = {"biller": "w2", "kind": "other", "bill_no": "T1", "opened_by": "x"}
    _refused(client.post("/v1/complaints", json=body, headers=headers))
    assert snapshot(engine) == before


FOUND_LISTS = {  # list → what names its biller in a row
    "/v1/bills": "biller",
    "/v1/orders": "biller",
    "/v1/payments": "biller",
    "/v1/refunds": "biller",
    "/v1/suspense": "biller",
    "/v1/outbox/events": "biller",
    "/v1/outbox/deliveries": "biller",
}


def test_a_billers_key_lists_only_its_own_rows_and_never_another_billers(
    engine: Engine, world: World
) -> None:
    _app, client, keys, _target = world
    office = create_key(engine, None, Scope.READ).secret
    before = snapshot(engine)
    for path, owner in FOUND_LISTS.items():
        for scope in ("write", "read"):
            headers = {"Authorization": f"Bearer {keys[scope]}"}
            mine = client.get(path, params={"limit": 500}, headers=headers)
            assert mine.status_code == 200, (path, mine.text)
            assert {row[owner] for row in mine.json()["items"]} <= {"s1"}, path
            other = client.get(path, params={"biller": "w2"}, headers=headers)
            _refused(other, path, scope)
            assert other.status_code == 404
        everyone = client.get(path, headers={"Authorization": f"Bearer {office}"}).json()
        if path not in ("/v1/outbox/deliveries", "/v1/suspense"):  # none of those in the world
            assert "w2" in {row[owner] for row in everyone["items"]}, path
        exported = client.get(
            f"/v1/exports{path[3:]}", headers={"Authorization": f"Bearer {keys['read']}"}
        )
        assert exported.status_code == 200 and ",w2," not in exported.content.decode("utf-8-sig"), (
            path
        )
        _refused(
            client.get(
                f"/v1/exports{path[3:]}",
                params={"biller": "w2"},
                headers={"Authorization": f"Bearer {keys['read']}"},
            )
        )
        unmasked = {"unmasked": "true", "reason": "x"}
        _refused(
            client.get(
                f"/v1/exports{path[3:]}",
                params=unmasked,
                headers={"Authorization": f"Bearer {keys['read']}"},
            )
        )
    bills = client.get("/v1/bills", headers={"Authorization": f"Bearer {keys['read']}"}).json()
    assert sorted(b["bill_no"] for b in bills["items"]) == ["T1", "T2"]
    audit = client.get("/v1/audit", headers={"Authorization": f"Bearer {keys['read']}"})
    _refused(audit)
    assert audit.status_code == 403
    assert client.get("/v1/audit", headers={"Authorization": f"Bearer {office}"}).json()["items"]
    assert snapshot(engine) == before
