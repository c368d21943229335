"""Reconciliation over HTTP: the back office uploads a channel statement to start a run,
reads runs, lists discrepancies and resolves them; a biller's key sees only its own
discrepancies and may neither start nor resolve; refusals change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ops_world import WX_MCH, Api, open_api, wx_line, wx_statement  # type: ignore[import-not-found]

from billfold import Engine
from billfold.adapters.db.schema.settlement import recon_discrepancies, recon_runs
from billfold.merchants.channel_config import ChannelConfig


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    """s1 and w2 take WeChat Pay under one merchant account (a service provider's): its
    statement covers both."""
    with open_api(engine) as world:
        for code in ("s1", "w2"):
            engine.set_channel_config(
                code, ChannelConfig("wechatpay", merchant_id=WX_MCH), actor="t", reason="setup"
            )
        yield world


def _day(api: Api) -> bytes:
    """s1 is paid twice and w2 once through WeChat Pay; the statement shows one of them."""
    seen, _ = api.paid_order("s1", "T1", "wechatpay", "W1")
    api.paid_order("s1", "T2", "wechatpay", "W2")
    api.paid_order("w2", "T1", "wechatpay", "W3")
    return wx_statement(wx_line("W1", seen, 1000))


def _upload(api: Api, data: bytes, who: str = "office", key: str = "run-1", **form: str) -> Any:
    fields = {"format": "wechatpay", "date": "2026-09-01", **form}
    return api.client.post(
        "/v1/reconciliation/runs",
        files={"file": ("wx-20260901.csv", data, "text/csv")},
        data=fields,
        headers=api.auth(who, key),
    )


def _engine_only(api: Api) -> dict[str, Any]:
    found = api.client.get(
        "/v1/reconciliation/discrepancies", params={"status": "open"}, headers=api.auth("office")
    ).json()
    return {d["biller_code"]: d for d in found}


def test_an_uploaded_statement_is_reconciled_once(api: Api) -> None:
    data = _day(api)
    first = _upload(api, data)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (
        body["created"] is True and body["run"]["slot"] == "channel/wechatpay/1900000109/2026-09-01"
    )
    assert (body["run"]["lines"], body["run"]["matched"], body["run"]["engine"]) == (1, 1, 3)
    assert body["run"]["file_name"] == "wx-20260901.csv"
    assert sorted((d["code"], d["biller_code"]) for d in body["discrepancies"]) == [
        ("engine_only", "s1"),
        ("engine_only", "w2"),
    ]
    replay = _upload(api, data)
    assert replay.json() == body and replay.headers["Idempotent-Replayed"] == "true"
    same_file = _upload(api, data, key="run-2")
    assert same_file.status_code == 200 and same_file.json()["created"] is False
    assert same_file.json()["run"]["id"] == body["run"]["id"]
    assert api.count(recon_runs) == 1 and api.count(recon_discrepancies) == 2
    run = api.client.get(
        f"/v1/reconciliation/runs/{body['run']['id']}", headers=api.auth("office-read")
    )
    assert run.json() == body["run"]
    runs = api.client.get(
        "/v1/reconciliation/runs", params={"date": "2026-09-01"}, headers=api.auth("office")
    )
    assert [r["id"] for r in runs.json()] == [body["run"]["id"]]


def test_a_billers_key_may_not_start_or_read_runs(api: Api) -> None:
    data = _day(api)
    answer = _upload(api, data, who="s1")
    assert answer.status_code == 403 and answer.json()["code"] == "back_office_only"
    assert api.count(recon_runs) == 0
    run_id = _upload(api, data).json()["run"]["id"]
    for path in ("/v1/reconciliation/runs", f"/v1/reconciliation/runs/{run_id}"):
        refused = api.client.get(path, headers=api.auth("s1"))
        assert refused.status_code == 403, path


def test_an_unknown_format_is_refused_by_name_and_nothing_is_stored(api: Api) -> None:
    answer = _upload(api, _day(api), format="swift")
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "format: unknown statement format 'swift'; known: alipay, camt053, camt054, "
        "generic-csv, mt940, wechatpay"
    )
    assert api.count(recon_runs) == 0


def test_a_bad_date_is_refused_naming_the_field(api: Api) -> None:
    answer = _upload(api, _day(api), date="2026-13-01")
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "date"
    assert api.count(recon_runs) == 0


def test_a_statement_without_its_header_is_refused(api: Api) -> None:
    api.paid_order("s1", "T1", "wechatpay", "W1")
    answer = _upload(api, b"hello\n", reject="true")
    assert answer.status_code == 422 and answer.json()["code"] == "statement_rejected"
    assert api.count(recon_runs) == 0


def test_a_billers_key_sees_only_its_own_discrepancies(api: Api) -> None:
    _upload(api, _day(api))
    mine = api.client.get("/v1/reconciliation/discrepancies", headers=api.auth("s1-read"))
    assert [d["biller_code"] for d in mine.json()] == ["s1"]
    others = _engine_only(api)["w2"]
    hidden = api.client.get(
        f"/v1/reconciliation/discrepancies/{others['id']}", headers=api.auth("s1")
    )
    assert hidden.status_code == 404
    assert hidden.json()["detail"] == f"discrepancy {others['id']} does not exist"
    own = _engine_only(api)["s1"]
    got = api.client.get(f"/v1/reconciliation/discrepancies/{own['id']}", headers=api.auth("s1"))
    assert got.json() == own


def test_the_back_office_resolves_a_discrepancy_recording_who_and_why(api: Api) -> None:
    _upload(api, _day(api))
    target = _engine_only(api)["s1"]
    path = f"/v1/reconciliation/discrepancies/{target['id']}/resolve"
    body = {"action": "accept", "by": "李对账", "reason": "渠道次日补单"}
    first = api.client.post(path, json=body, headers=api.auth("office", "res-1"))
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "resolved" and first.json()["action"] == "accept"
    assert first.json()["resolved_by"].startswith("李对账 (api key ")
    replay = api.client.post(path, json=body, headers=api.auth("office", "res-1"))
    assert replay.json() == first.json()
    again = api.client.post(path, json=body, headers=api.auth("office", "res-2"))
    assert again.status_code == 422
    assert again.json()["detail"] == (
        f"discrepancy {target['id']} is resolved; only open ones can be resolved"
    )
    resolved = api.client.get(
        "/v1/reconciliation/discrepancies",
        params={"status": "resolved"},
        headers=api.auth("office"),
    )
    assert [d["id"] for d in resolved.json()] == [target["id"]]


def test_an_action_that_does_not_fit_is_refused_and_the_discrepancy_stays_open(
    api: Api,
) -> None:
    _upload(api, _day(api))
    target = _engine_only(api)["s1"]
    answer = api.client.post(
        f"/v1/reconciliation/discrepancies/{target['id']}/resolve",
        json={"action": "credit", "by": "李对账", "reason": "x"},
        headers=api.auth("office", "res-3"),
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "action: credit does not resolve a engine_only discrepancy; use reverse, write_off, accept"
    )
    assert _engine_only(api)["s1"]["status"] == "open"


def test_a_billers_key_may_not_resolve_even_its_own(api: Api) -> None:
    _upload(api, _day(api))
    target = _engine_only(api)["s1"]
    answer = api.client.post(
        f"/v1/reconciliation/discrepancies/{target['id']}/resolve",
        json={"action": "accept", "by": "x", "reason": "x"},
        headers=api.auth("s1", "res-4"),
    )
    assert answer.status_code == 403 and answer.json()["code"] == "back_office_only"
    assert _engine_only(api)["s1"]["status"] == "open"


def test_an_unknown_action_is_refused_naming_the_field(api: Api) -> None:
    _upload(api, _day(api))
    target = _engine_only(api)["s1"]
    answer = api.client.post(
        f"/v1/reconciliation/discrepancies/{target['id']}/resolve",
        json={"action": "ignore", "by": "x", "reason": "x"},
        headers=api.auth("office", "res-5"),
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "action"
    assert _engine_only(api)["s1"]["status"] == "open"
