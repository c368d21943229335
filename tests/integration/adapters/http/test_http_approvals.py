"""Maker-checker over HTTP: with the biller's policy on, settlement approval, reversal,
write-off and a refund above the threshold answer 202 with a proposal and change nothing;
the proposing key may not decide it (409 ``self_approval``), a key without the kind's checker
role gets 403; another key approves it and the action runs once; a rejection keeps it from
ever running. Every step is audited with the key and the person named."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ops_world import Api, open_api, wx_statement  # type: ignore[import-not-found]

from billfold import Engine, PaymentStatus
from billfold.adapters.db.schema import access
from billfold.adapters.http.keys import create_key
from billfold.merchants.roles import Role
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.settler import Profile, Settler

KINDS = ("settlement.approve", "payment.reverse", "discrepancy.write_off")


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    with open_api(engine) as world:
        for role in ("reconciler", "supervisor", "bursar", "admin"):
            world.keys[role] = create_key(engine, None, [Role(role)]).secret
        world.keys["s1-supervisor"] = create_key(engine, "s1", [Role.SUPERVISOR]).secret
        for kind in KINDS:  # open_api switched the second person off: back on, over HTTP
            answer = world.client.put(
                f"/v1/billers/s1/approval-policies/{kind}",
                json={"required": True, "by": "李管理员", "reason": "四眼原则"},
                headers=world.auth("admin"),
            )
            assert answer.status_code == 200, answer.text
        yield world


def _decide(api: Api, approval_id: int, verb: str, who: str, **body: Any) -> Any:
    return api.client.post(f"/v1/approvals/{approval_id}/{verb}", json=body, headers=api.auth(who))


def test_a_settlement_approval_needs_a_second_key(api: Api, engine: Engine) -> None:
    Settler(engine).set_profile("s1", Profile(settle_unreconciled=True), actor="o", reason="T+0")
    api.paid_order("s1", "T2", "counter", "C-1")
    draft = api.client.post(
        "/v1/billers/s1/settlements", json={"business_date": "2026-09-01", "by": "张出纳"},
        headers=api.auth("office"),
    ).json()  # fmt: skip
    path = f"/v1/settlements/{draft['batch_no']}/approve"
    asked = api.client.post(path, json={"by": "王主管"}, headers=api.auth("office", "a-1"))
    assert asked.status_code == 202, asked.text
    proposal = asked.json()
    assert (proposal["kind"], proposal["state"], proposal["biller_code"]) == (
        "settlement.approve", "proposed", "s1",
    )  # fmt: skip
    again = api.client.post(path, json={"by": "王主管"}, headers=api.auth("office", "a-1"))
    assert again.json() == proposal  # the same Idempotency-Key: the same proposal
    assert Settler(engine).batch(draft["batch_no"]).status.value == "draft"

    mine = _decide(api, proposal["id"], "approve", "office")
    assert mine.status_code == 409 and mine.json()["code"] == "self_approval"
    clerk = _decide(api, proposal["id"], "approve", "bursar")
    assert clerk.status_code == 403 and clerk.json()["code"] == "forbidden_role"
    assert clerk.json()["detail"].startswith(
        "deciding settlement.approve needs the role reconciler or supervisor; key "
    )
    assert Settler(engine).batch(draft["batch_no"]).status.value == "draft"

    done = _decide(api, proposal["id"], "approve", "supervisor", by="赵经理")
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "approved" and done.json()["result"]["status"] == "approved"
    batch = Settler(engine).batch(draft["batch_no"])
    assert batch.status.value == "approved"
    assert batch.approved_by.startswith("王主管 (api key ")
    twice = _decide(api, proposal["id"], "approve", "reconciler")
    assert twice.status_code == 409 and twice.json()["code"] == "invalid_transition"
    repeat = api.client.post(path, json={"by": "王主管"}, headers=api.auth("office", "a-2"))
    assert repeat.status_code == 200 and repeat.json()["status"] == "approved"
    assert api.count(access.pending_approvals) == 1  # no second proposal for a done batch
    listed = api.client.get("/v1/approvals", params={"state": "approved"}, headers=api.auth("s1"))
    assert [a["id"] for a in listed.json()] == [proposal["id"]]
    trail = [(e["action"], e["actor"]) for e in engine.audit_log("approval")]
    assert [a for a, _ in trail] == ["approval.propose", "approval.approve"]
    assert all(actor.startswith("key:") for _, actor in trail)


def test_a_rejected_reversal_never_runs(api: Api, engine: Engine) -> None:
    _, payment_id = api.paid_order("s1", "T2", "counter", "C-2")
    asked = api.client.post(
        f"/v1/payments/{payment_id}/reverse", json={"reason": "柜台冲正"},
        headers=api.auth("office", "r-1"),
    )  # fmt: skip
    assert asked.status_code == 202
    approval_id = asked.json()["id"]
    bad = _decide(api, approval_id, "reject", "reconciler")
    assert bad.status_code == 422 and "reason" in bad.json()["detail"]
    assert engine.payment(payment_id).status is PaymentStatus.CREDITED
    no = _decide(api, approval_id, "reject", "reconciler", reason="钱已到账，无需冲正")
    assert no.status_code == 200 and no.json()["state"] == "rejected"
    assert no.json()["decision_reason"] == "钱已到账，无需冲正"
    late = _decide(api, approval_id, "approve", "supervisor")
    assert late.status_code == 409
    assert engine.payment(payment_id).status is PaymentStatus.CREDITED


def test_a_write_off_runs_when_a_second_person_approves_it(api: Api, engine: Engine) -> None:
    api.paid_order("s1", "T1", "wechatpay", "W-1")
    run = Reconciler(engine).reconcile(
        wx_statement(), format="wechatpay", business_date=engine.today()
    )
    (short,) = run.discrepancies
    path = f"/v1/reconciliation/discrepancies/{short.id}/resolve"
    body = {"action": "write_off", "by": "钱对账", "reason": "渠道确认无此交易"}
    asked = api.client.post(path, json=body, headers=api.auth("office", "w-1"))
    assert asked.status_code == 202, asked.text
    assert Reconciler(engine).discrepancy(short.id).status.value == "open"
    done = _decide(api, asked.json()["id"], "approve", "reconciler")
    assert done.status_code == 200, done.text
    resolved = Reconciler(engine).discrepancy(short.id)
    assert resolved.status.value == "resolved" and resolved.action is not None
    assert resolved.action.value == "write_off"


def test_only_refunds_above_the_threshold_wait(api: Api, engine: Engine) -> None:
    _, payment_id = api.paid_order("s1", "T2", "counter", "C-3")  # 25.50
    policy = api.client.put(
        "/v1/billers/s1/approval-policies/refund",
        json={"required": True, "threshold": "10.00", "by": "李管理员", "reason": "大额退款复核"},
        headers=api.auth("admin"),
    )  # fmt: skip
    assert policy.json() == {"kind": "refund", "required": True, "threshold": "10.00"}
    small = api.client.post(
        f"/v1/payments/{payment_id}/refunds", json={"amount": "10.00", "reason": "多收"},
        headers=api.auth("office", "f-1"),
    )  # fmt: skip
    assert small.status_code == 201, small.text
    large = api.client.post(
        f"/v1/payments/{payment_id}/refunds", json={"amount": "15.50", "reason": "退学"},
        headers=api.auth("office", "f-2"),
    )  # fmt: skip
    assert large.status_code == 202
    assert api.count(access.pending_approvals) == 1
    done = _decide(api, large.json()["id"], "approve", "reconciler")
    assert done.status_code == 200 and done.json()["result"]["status"] == "pending"
    refunds = {r.amount_fen for r in engine.pending_refunds()}
    assert refunds == {1000, 1550}


def test_a_billers_key_decides_only_its_own_billers_proposals(api: Api, engine: Engine) -> None:
    _, payment_id = api.paid_order("s1", "T2", "counter", "C-4")
    asked = api.client.post(
        f"/v1/payments/{payment_id}/reverse", json={"reason": "冲正"},
        headers=api.auth("office", "r-2"),
    ).json()  # fmt: skip
    hidden = _decide(api, asked["id"], "approve", "w2")
    assert hidden.status_code == 404
    own = _decide(api, asked["id"], "approve", "s1-supervisor")
    assert own.status_code == 200, own.text
    assert engine.payment(payment_id).status is PaymentStatus.REVERSED


def test_bad_policy_inputs_are_refused_and_change_nothing(api: Api, engine: Engine) -> None:
    before = api.count(access.approval_policies)
    for kind, body, code, message in (
        ("nope", {"required": True, "by": "a", "reason": "b"}, 404, "approval kind 'nope'"),
        ("refund", {"required": True, "by": "a", "reason": "b"}, 422, "threshold: refund needs"),
        ("refund", {"required": True, "threshold": "-1", "by": "a", "reason": "b"}, 422, "threshold"),
    ):  # fmt: skip
        answer = api.client.put(
            f"/v1/billers/s1/approval-policies/{kind}", json=body, headers=api.auth("admin")
        )
        assert answer.status_code == code and message in answer.json()["detail"], answer.text
    assert api.count(access.approval_policies) == before
