"""Settlement batches over HTTP: the back office drafts, approves, pays (the payout CSV for
the bank) and confirms, each step journalled once per Idempotency-Key; a biller's key reads
its own batches and nothing else; steps out of order are refused and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ops_world import ACCOUNT, Api, open_api  # type: ignore[import-not-found]

from billfold import Engine
from billfold.settlement.settler import Profile, Settler

DAY = "2026-09-01"


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    with open_api(engine) as world:
        for code in ("s1", "w2"):
            Settler(engine).set_profile(
                code, Profile(settle_unreconciled=True), actor="ops", reason="T+0 deal"
            )
            world.paid_order(code, "T2", "counter", f"C-{code}")
        yield world


def _draft(api: Api, code: str = "s1", who: str = "office") -> Any:
    return api.client.post(
        f"/v1/billers/{code}/settlements",
        json={"business_date": DAY, "by": "张出纳"},
        headers=api.auth(who),
    )


def _step(api: Api, batch_no: str, step: str, key: str, who: str = "office") -> Any:
    return api.client.post(
        f"/v1/settlements/{batch_no}/{step}", json={"by": "王主管"}, headers=api.auth(who, key)
    )


def test_a_batch_goes_from_draft_to_confirmed_and_the_books_balance(api: Api) -> None:
    draft = _draft(api)
    assert draft.status_code == 200, draft.text
    batch = draft.json()
    batch_no = batch["batch_no"]
    assert (batch["status"], batch["gross"], batch["net"], batch["payments"]) == (
        "draft",
        "25.50",
        "25.50",
        1,
    )
    assert batch["parts"] == [
        {"account_name": "一中", "account": "************2233", "bank_name": "工商银行",
         "amount": "25.50"}
    ]  # fmt: skip
    approved = _step(api, batch_no, "approve", "a-1")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["approved_by"].startswith("王主管 (api key ")
    replay = _step(api, batch_no, "approve", "a-1")
    assert replay.json() == approved.json() and replay.headers["Idempotent-Replayed"] == "true"
    assert api.engine.trial_balance()["settlement_payable:s1"] == -2550
    payout = api.client.get(f"/v1/settlements/{batch_no}/payout", headers=api.auth("office"))
    assert payout.status_code == 200
    assert payout.headers["content-type"] == "text/csv; charset=utf-8"
    assert payout.headers["content-disposition"] == (
        f'attachment; filename="{batch_no}-payout.csv"'
    )
    assert payout.content.startswith(b"\xef\xbb\xbf")
    assert payout.content.decode("utf-8-sig").splitlines() == [
        "序号,收款账号,收款户名,收款银行,金额,用途,业务参考号",
        f"1,{ACCOUNT},一中,工商银行,25.50,20260901 代收款结算,{batch_no}-1",
    ]
    assert _step(api, batch_no, "pay", "p-1").json()["status"] == "paid"
    done = _step(api, batch_no, "confirm", "c-1")
    assert done.json()["status"] == "confirmed"
    balance = api.engine.trial_balance()
    assert balance["payouts_in_transit"] == 0 and balance["bank:collection"] == -2550
    assert api.engine.check_books() == []
    got = api.client.get(f"/v1/settlements/{batch_no}", headers=api.auth("s1-read"))
    assert got.json() == done.json()


def test_paying_a_draft_is_refused_and_changes_nothing(api: Api) -> None:
    batch_no = _draft(api).json()["batch_no"]
    answer = _step(api, batch_no, "pay", "p-2")
    assert answer.status_code == 409 and answer.json()["code"] == "invalid_transition"
    assert answer.json()["detail"] == (
        f"batch {batch_no} is draft; it cannot become paid; the next step is approved"
    )
    payout = api.client.get(f"/v1/settlements/{batch_no}/payout", headers=api.auth("office"))
    assert payout.status_code == 409
    assert payout.json()["detail"] == f"batch {batch_no} is a draft; approve it first"
    assert Settler(api.engine).batch(batch_no).status.value == "draft"
    assert "settlement_payable:s1" not in api.engine.trial_balance()


def test_a_billers_key_reads_its_own_batches_but_may_not_work_them(api: Api) -> None:
    batch_no = _draft(api).json()["batch_no"]
    _draft(api, "w2")
    assert _draft(api, who="s1").status_code == 403
    for step in ("approve", "pay", "confirm"):
        refused = _step(api, batch_no, step, f"k-{step}", who="s1")
        assert refused.status_code == 403 and refused.json()["code"] == "back_office_only"
    payout = api.client.get(f"/v1/settlements/{batch_no}/payout", headers=api.auth("s1"))
    assert payout.status_code == 403
    everyone = api.client.get("/v1/settlements", headers=api.auth("s1"))
    assert everyone.status_code == 403
    own = api.client.get("/v1/billers/s1/settlements", headers=api.auth("s1-read"))
    assert [b["batch_no"] for b in own.json()] == [batch_no]
    assert Settler(api.engine).batch(batch_no).status.value == "draft"
    listed = api.client.get(
        "/v1/settlements", params={"date": DAY}, headers=api.auth("office-read")
    )
    assert sorted(b["biller_code"] for b in listed.json()) == ["s1", "w2"]


def test_a_step_without_an_idempotency_key_is_refused(api: Api) -> None:
    batch_no = _draft(api).json()["batch_no"]
    answer = api.client.post(
        f"/v1/settlements/{batch_no}/approve", json={"by": "x"}, headers=api.auth("office")
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "Idempotency-Key: Field required"
    assert Settler(api.engine).batch(batch_no).status.value == "draft"


def test_a_draft_without_a_date_is_refused_naming_the_field(api: Api) -> None:
    answer = api.client.post(
        "/v1/billers/s1/settlements", json={"by": "x"}, headers=api.auth("office")
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "business_date: Field required"
    assert Settler(api.engine).batches() == []


def test_an_approved_batch_is_not_redrafted(api: Api) -> None:
    batch_no = _draft(api).json()["batch_no"]
    _step(api, batch_no, "approve", "a-2")
    answer = _draft(api)
    assert answer.status_code == 409
    assert answer.json()["detail"] == (
        f"batch {batch_no} is approved; an approved batch is not redrafted"
    )
