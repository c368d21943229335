"""Auto-debit mandates over HTTP: signed for a payer (only the masked account is kept),
listed per biller, read, revoked at once; bad input is refused by name and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ops_world import Api, open_api  # type: ignore[import-not-found]

from billfold import Engine
from billfold.adapters.db.schema.mandates import mandates as mandates_table

SIGNED = {
    "payer_id": "2024001",
    "account_no": "6222 0202 0011 2233",
    "per_debit_limit": "100.00",
    "monthly_limit": "300.00",
    "operator": "柜员",
}


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    with open_api(engine) as world:
        yield world


def _sign(api: Api, who: str = "s1", **change: Any) -> Any:
    return api.client.post(
        "/v1/billers/s1/mandates", json={**SIGNED, **change}, headers=api.auth(who)
    )


def test_a_signed_mandate_is_pending_and_keeps_only_the_masked_account(api: Api) -> None:
    answer = _sign(api)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "pending" and body["biller_code"] == "s1"
    assert body["payer_id"] == "2024001" and body["account"] == "************2233"
    assert (body["per_debit_limit"], body["monthly_limit"]) == ("100.00", "300.00")
    assert body["valid_from"] == "2026-09-01" and body["valid_until"] is None
    assert "6222020200112233" not in repr(api.engine.audit_log("mandate"))
    got = api.client.get(f"/v1/mandates/{body['mandate_no']}", headers=api.auth("s1-read"))
    assert got.json() == body
    listed = api.client.get("/v1/billers/s1/mandates", headers=api.auth("s1-read")).json()
    assert [m["mandate_no"] for m in listed] == [body["mandate_no"]]
    debits = api.client.get(f"/v1/mandates/{body['mandate_no']}/debits", headers=api.auth("s1"))
    assert debits.status_code == 200 and debits.json() == []


def test_a_mandate_is_revoked_at_once_and_only_once(api: Api) -> None:
    mandate_no = _sign(api).json()["mandate_no"]
    path = f"/v1/mandates/{mandate_no}/revoke"
    answer = api.client.post(path, json={"reason": "家长解约"}, headers=api.auth("s1"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "revoked" and answer.json()["status_reason"] == "家长解约"
    again = api.client.post(path, json={"reason": "again"}, headers=api.auth("s1"))
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert again.json()["detail"] == (f"mandate {mandate_no} is revoked; it cannot become revoked")
    listed = api.client.get(
        "/v1/billers/s1/mandates", params={"status": "pending"}, headers=api.auth("s1")
    )
    assert listed.json() == []


def test_a_limit_per_debit_above_the_monthly_limit_is_refused_and_nothing_is_stored(
    api: Api,
) -> None:
    answer = _sign(api, per_debit_limit="500.00")
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "per_debit_limit: 500.00 is more than the monthly limit of 300.00"
    )
    assert api.count(mandates_table) == 0


def test_an_amount_with_three_decimals_is_refused_naming_the_field(api: Api) -> None:
    answer = _sign(api, monthly_limit="300.001")
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "monthly_limit"
    assert api.count(mandates_table) == 0


def test_a_payer_the_biller_does_not_know_is_refused(api: Api) -> None:
    answer = _sign(api, payer_id="9999999")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "payer '9999999' is not known to biller s1"
    assert api.count(mandates_table) == 0


def test_a_second_live_mandate_for_one_payer_is_refused(api: Api) -> None:
    first = _sign(api).json()["mandate_no"]
    answer = _sign(api)
    assert answer.status_code == 409
    assert answer.json()["detail"] == (
        f"payer 2024001 already has mandate {first} (pending) with s1; revoke it first"
    )
    assert api.count(mandates_table) == 1


def test_a_repeat_with_an_idempotency_key_returns_the_first_mandate(api: Api) -> None:
    headers = api.auth("s1", "sign-1")
    first = api.client.post("/v1/billers/s1/mandates", json=SIGNED, headers=headers)
    again = api.client.post("/v1/billers/s1/mandates", json=SIGNED, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert api.count(mandates_table) == 1


def test_a_read_key_may_not_sign_or_revoke(api: Api) -> None:
    answer = _sign(api, who="s1-read")
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden_role"
    mandate_no = _sign(api).json()["mandate_no"]
    revoke = api.client.post(
        f"/v1/mandates/{mandate_no}/revoke", json={"reason": "x"}, headers=api.auth("s1-read")
    )
    assert revoke.status_code == 403
    assert (
        api.client.get(f"/v1/mandates/{mandate_no}", headers=api.auth("s1")).json()["status"]
        == "pending"
    )
