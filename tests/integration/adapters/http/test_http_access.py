"""API keys and webhook endpoints managed over HTTP by an admin key: created (the secret
answered once), listed (never a secret), rotated (an API key's old secret works through the
grace period and not after; a webhook's changes at once), revoked; each change audited with
who and why; bad input refused, changing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from ops_world import Api, open_api  # type: ignore[import-not-found]

from billfold import Engine
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.api import api_keys
from billfold.adapters.http.keys import create_key
from billfold.adapters.outbox.endpoints import list_endpoints
from billfold.clock import FixedClock
from billfold.merchants.roles import Role


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    with open_api(engine) as world:
        world.keys["admin"] = create_key(engine, None, [Role.ADMIN]).secret
        yield world


def _as(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_key_is_made_rotated_with_grace_and_revoked(
    api: Api, engine: Engine, clock: FixedClock
) -> None:
    made = api.client.post(
        "/v1/keys",
        json={"biller_code": "s1", "roles": ["bursar"], "label": "一中收费系统",
              "by": "李管理员", "reason": "新系统上线"},
        headers=api.auth("admin"),
    )  # fmt: skip
    assert made.status_code == 201, made.text
    old = made.json()["secret"]
    key_id = made.json()["key"]["key_id"]
    assert made.json()["key"]["roles"] == ["bursar"]
    assert api.client.get("/v1/billers", headers=_as(old)).status_code == 200
    listed = api.client.get("/v1/keys", headers=api.auth("admin")).text
    assert key_id in listed and old.split("_", 2)[2] not in listed

    turned = api.client.post(
        f"/v1/keys/{key_id}/rotate", json={"grace_hours": 2, "by": "李管理员", "reason": "泄露"},
        headers=api.auth("admin"),
    )  # fmt: skip
    assert turned.status_code == 200, turned.text
    new = turned.json()["secret"]
    assert new != old and turned.json()["key"]["previous_valid_until"] == "2026-09-01T04:00:00Z"
    for secret in (old, new):
        assert api.client.get("/v1/billers", headers=_as(secret)).status_code == 200
    clock.advance(timedelta(hours=2))
    assert api.client.get("/v1/billers", headers=_as(old)).status_code == 401
    assert api.client.get("/v1/billers", headers=_as(new)).status_code == 200

    gone = api.client.post(
        f"/v1/keys/{key_id}/revoke", json={"by": "李管理员", "reason": "系统下线"},
        headers=api.auth("admin"),
    )  # fmt: skip
    assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
    assert api.client.get("/v1/billers", headers=_as(new)).status_code == 401
    again = api.client.post(
        f"/v1/keys/{key_id}/rotate", json={"by": "李管理员", "reason": "x"},
        headers=api.auth("admin"),
    )  # fmt: skip
    assert again.status_code == 409 and "is revoked; create a new one" in again.json()["detail"]
    trail = [(e["action"], e["reason"]) for e in engine.audit_log("api_key", key_id)]
    assert trail == [
        ("api_key.create", "新系统上线"), ("api_key.rotate", "泄露"), ("api_key.revoke", "系统下线"),
    ]  # fmt: skip
    assert all(
        e["actor"].startswith("李管理员 (api key ") for e in engine.audit_log("api_key", key_id)
    )


def test_a_rotation_without_grace_ends_the_old_secret_at_once(api: Api, engine: Engine) -> None:
    made = create_key(engine, "s1", [Role.VIEWER])
    turned = api.client.post(
        f"/v1/keys/{made.key.key_id}/rotate", json={"grace_hours": 0, "by": "a", "reason": "b"},
        headers=api.auth("admin"),
    )  # fmt: skip
    assert turned.json()["key"]["previous_valid_until"] is None
    assert api.client.get("/v1/billers", headers=_as(made.secret)).status_code == 401
    assert api.client.get("/v1/billers", headers=_as(turned.json()["secret"])).status_code == 200


def test_bad_key_requests_are_refused_and_change_nothing(api: Api) -> None:
    before = api.count(api_keys), api.count(t.audit_log)
    for body, message in (
        ({"roles": ["boss"], "by": "a", "reason": "b"}, "roles.0"),
        ({"roles": [], "by": "a", "reason": "b"}, "roles"),
        ({"roles": ["admin"], "reason": "b"}, "by"),
        ({"biller_code": "zz", "roles": ["admin"], "by": "a", "reason": "b"}, "biller 'zz'"),
    ):
        answer = api.client.post("/v1/keys", json=body, headers=api.auth("admin"))
        assert answer.status_code in (404, 422) and message in answer.json()["detail"], answer.text
    for grace in (-1, 169):
        answer = api.client.post(
            "/v1/keys/abc/rotate", json={"grace_hours": grace, "by": "a", "reason": "b"},
            headers=api.auth("admin"),
        )  # fmt: skip
        assert answer.status_code == 422 and "grace_hours" in answer.json()["detail"]
    unknown = api.client.post(
        "/v1/keys/abc/revoke", json={"by": "a", "reason": "b"}, headers=api.auth("admin")
    )
    assert unknown.status_code == 404 and unknown.json()["detail"] == "API key 'abc' does not exist"
    assert (api.count(api_keys), api.count(t.audit_log)) == before


def test_a_webhook_endpoint_is_added_rotated_and_switched_off(api: Api, engine: Engine) -> None:
    made = api.client.post(
        "/v1/billers/s1/webhooks",
        json={"url": "https://s1.example/hook", "events": ["payment.*"], "by": "李管理员",
              "reason": "接入缴费通知"},
        headers=api.auth("admin"),
    )  # fmt: skip
    assert made.status_code == 201, made.text
    endpoint_id, first = made.json()["endpoint"]["id"], made.json()["secret"]
    assert first and len(first) >= 16
    listed = api.client.get("/v1/billers/s1/webhooks", headers=api.auth("admin"))
    assert [e["id"] for e in listed.json()] == [endpoint_id] and first not in listed.text
    turned = api.client.post(
        f"/v1/webhooks/{endpoint_id}/rotate", json={"by": "李管理员", "reason": "定期轮换"},
        headers=api.auth("admin"),
    ).json()  # fmt: skip
    assert turned["secret"] != first
    (stored,) = [e for e in list_endpoints(engine, include_inactive=True) if e.id == endpoint_id]
    assert stored.secret == turned["secret"]
    off = api.client.post(
        f"/v1/webhooks/{endpoint_id}/deactivate", json={"by": "李管理员", "reason": "暂停"},
        headers=api.auth("admin"),
    )  # fmt: skip
    assert off.json()["endpoint"]["active"] is False and off.json()["secret"] is None
    trail = [(e["action"], e["reason"]) for e in engine.audit_log("webhook_endpoint")]
    assert trail == [
        ("webhook_endpoint.added", "接入缴费通知"),
        ("webhook_endpoint.secret_rotated", "定期轮换"),
        ("webhook_endpoint.deactivated", "暂停"),
    ]
    assert all(turned["secret"] not in str(e) for e in engine.audit_log("webhook_endpoint"))


def test_bad_webhook_requests_are_refused_and_change_nothing(api: Api) -> None:
    before = api.count(t.webhook_endpoints), api.count(t.audit_log)
    for body, message in (
        ({"url": "ftp://x", "by": "a", "reason": "b"}, "url: 'ftp://x' is not an http"),
        ({"url": "https://x.example", "events": ["Bad Type"], "by": "a", "reason": "b"}, "event"),
        ({"url": "https://x.example", "secret": "short", "by": "a", "reason": "b"}, "secret"),
    ):
        answer = api.client.post("/v1/billers/s1/webhooks", json=body, headers=api.auth("admin"))
        assert answer.status_code == 422 and message in answer.json()["detail"], answer.text
    assert (api.count(t.webhook_endpoints), api.count(t.audit_log)) == before
