"""The back office's queues over HTTP: a refund by bank transfer from fall-back to confirmed
(payee masked in every answer, the file whole for the bank), and complaints opened by a
biller's key and worked by the back office; other billers and read keys are refused and
nothing changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import queues
from billfold.testing.http import ApiClient as Api

PAYEE = {"name": "张三丰", "account": "6222020200112233445", "bank": "工商银行北京分行"}


def _refund(api: Api) -> str:
    order = api.engine.create_order("s1", ["T2"])
    paid = api.engine.confirm("counter", "C-1", order.order_no, order.total_fen)
    refund = api.engine.refund(
        paid.payment.id, 550, request_id="r", reason="多缴", requested_by="c"
    )
    return refund.refund_no


def _counts(api: Api) -> dict[str, Any]:
    with api.engine.uow() as uow:
        counts = {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (
                t.journal_postings,
                t.audit_log,
                queues.refund_transfers,
                queues.complaints,
            )
        }
    return counts | {"balance": api.engine.trial_balance()}


def test_a_refund_goes_by_bank_transfer_over_http_with_the_payee_masked(api: Api) -> None:
    refund_no = _refund(api)
    base = f"/v1/refunds/{refund_no}/bank-transfer"
    office = api.auth("office")
    fell = api.client.post(base, json={"reason": "卡已注销", "by": "clerk-li"}, headers=office)
    assert fell.status_code == 200, fell.text
    assert fell.json()["stage"] == "awaiting_payee" and fell.json()["reason"] == "other"
    recorded = api.client.post(f"{base}/payee", json={**PAYEE, "by": "clerk-li"}, headers=office)
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["payee"] == {
        "name": "张**",
        "account": "***************3445",
        "bank": "工商银行北京分行",
    }
    assert "6222020200112233445" not in recorded.text
    before = _counts(api)
    own = api.client.post(f"{base}/approve", json={"by": "clerk-li"}, headers=office)
    assert own.status_code == 409 and "a second person must approve" in own.json()["detail"]
    assert _counts(api) == before
    approved = api.client.post(f"{base}/approve", json={"by": "boss-wang"}, headers=office)
    assert approved.json()["stage"] == "ready"
    listed = api.client.get("/v1/refund-transfers", params={"stage": "ready"}, headers=office)
    assert [x["refund_no"] for x in listed.json()] == [refund_no]
    made = api.client.post(
        "/v1/refund-transfers/files",
        json={"by": "clerk-li", "encoding": "gbk"},
        headers=api.auth("office", **{"Idempotency-Key": "file-1"}),
    )
    assert made.status_code == 201, made.text
    assert (made.json()["count"], made.json()["total"]) == (1, "5.50")
    csv = api.client.get(made.json()["download"], headers=office)
    assert csv.headers["content-type"] == "text/csv; charset=gbk"
    assert "6222020200112233445,张三丰" in csv.content.decode("gbk")
    confirm = {"by": "clerk-li", "reason": "网银回单 0031"}
    keyed = api.auth("office", **{"Idempotency-Key": "confirm-1"})
    done = api.client.post(f"{base}/confirm", json=confirm, headers=keyed)
    assert done.status_code == 200 and done.json()["stage"] == "paid", done.text
    again = api.client.post(f"{base}/confirm", json=confirm, headers=keyed)
    assert again.json() == done.json()
    assert api.engine.check_books() == []
    shown = api.client.get(base, headers=api.auth("s1"))
    assert shown.status_code == 200 and shown.json()["payee"]["name"] == "张**"


def test_bank_transfer_steps_are_the_back_offices_and_bad_payees_change_nothing(
    api: Api,
) -> None:
    refund_no = _refund(api)
    base = f"/v1/refunds/{refund_no}/bank-transfer"
    before = _counts(api)
    for key in ("s1", "w2", "s1-read"):
        answer = api.client.post(base, json={"reason": "x", "by": "y"}, headers=api.auth(key))
        assert answer.status_code in (403, 404), (key, answer.text)
    listed = api.client.get("/v1/refund-transfers", headers=api.auth("s1"))
    assert listed.status_code == 403
    api.client.post(base, json={"reason": "卡已注销", "by": "c"}, headers=api.auth("office"))
    middle = _counts(api)
    bad = api.client.post(
        f"{base}/payee",
        json={**PAYEE, "account": "6222-ABC", "by": "c"},
        headers=api.auth("office"),
    )
    assert bad.status_code == 422 and "is not a bank account number" in bad.json()["detail"]
    assert "6222-ABC" not in bad.text
    assert _counts(api) == middle != before


def _open(api: Api, key: str = "s1", **body: Any) -> Any:
    payload = {"biller": "s1", "kind": "wrong_amount", "bill_no": "T1", "opened_by": "张老师"}
    return api.client.post("/v1/complaints", json=payload | body, headers=api.auth(key))


def test_complaints_over_http_opened_by_the_biller_worked_by_the_back_office(api: Api) -> None:
    opened = _open(api, description="金额与通知不符", channel_ref="4200000001")
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert (body["status"], body["kind"], body["overdue"]) == ("open", "wrong_amount", False)
    number = body["complaint_no"]
    path = f"/v1/complaints/{number}"
    refused = api.client.post(
        f"{path}/resolve", json={"by": "x", "text": "ok"}, headers=api.auth("s1")
    )
    assert refused.status_code == 403
    office = api.auth("office")
    assigned = api.client.post(
        f"{path}/assign", json={"by": "boss", "to": "clerk-zhao"}, headers=office
    )
    assert assigned.json()["assigned_to"] == "clerk-zhao"
    resolved = api.client.post(
        f"{path}/resolve", json={"by": "clerk-zhao", "text": "已核实"}, headers=office
    )
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution"] == "已核实"
    reopened = api.client.post(
        f"{path}/reopen", json={"by": "张老师", "text": "仍不符"}, headers=api.auth("s1")
    )
    assert reopened.json()["status"] == "reopened" and reopened.json()["reopened"] == 1
    mine = api.client.get("/v1/complaints", params={"status": "reopened"}, headers=api.auth("s1"))
    assert [c["complaint_no"] for c in mine.json()] == [number]
    assert api.client.get("/v1/complaints", headers=api.auth("w2")).json() == []
    assert api.client.get(path, headers=api.auth("w2")).status_code == 404
    actions = [a["action"] for a in api.engine.audit_log("complaint", number)]
    assert actions == [
        "complaint_open",
        "complaint_assigned",
        "complaint_resolved",
        "complaint_reopened",
    ]


def test_overdue_filter_and_the_billers_tat_over_http(api: Api) -> None:
    office = api.auth("office")
    put = api.client.put(
        "/v1/billers/s1/complaint-tats/other",
        json={"hours": 1, "by": "admin", "reason": "合同"},
        headers=office,
    )
    assert put.status_code == 200 and put.json()["other"] == 1
    assert (
        api.client.get("/v1/billers/s1/complaint-tats", headers=api.auth("s1")).json()["other"] == 1
    )
    number = _open(api, kind="other").json()["complaint_no"]
    api.engine.clock.advance(hours=2)  # type: ignore[attr-defined]
    overdue = api.client.get("/v1/complaints", params={"overdue": "true"}, headers=office).json()
    assert [c["complaint_no"] for c in overdue] == [number] and overdue[0]["overdue"] is True


def test_bad_complaints_are_refused_clearly_and_change_nothing(api: Api) -> None:
    before = _counts(api)
    other = _open(api, "s1", biller="w2")
    assert other.status_code == 404
    kind = _open(api, kind="late")
    assert kind.status_code == 422 and kind.json()["errors"][0]["field"] == "kind"
    nothing = _open(api, bill_no=None)
    assert (
        nothing.status_code == 422 and "name the bill, order or payment" in nothing.json()["detail"]
    )
    missing = _open(api, bill_no="NOPE")
    assert missing.status_code == 404 and "bill 'NOPE' does not exist" in missing.json()["detail"]
    read = _open(api, "s1-read")
    assert read.status_code == 403
    assert _counts(api) == before
