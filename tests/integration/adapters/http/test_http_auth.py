"""Keys, scopes, rate limits, request ids and body limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import structlog
from sqlalchemy import select

from billfold.adapters.db.schema.api import api_keys
from billfold.adapters.http.keys import revoke_key
from billfold.clock import FixedClock
from billfold.testing.http import ApiClient as Api


def test_a_request_without_a_key_is_refused_with_www_authenticate(api: Api) -> None:
    answer = api.client.get("/v1/billers")
    assert answer.status_code == 401 and answer.json()["code"] == "unauthenticated"
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="billfold"'


def test_a_wrong_secret_for_a_real_key_id_is_refused(api: Api) -> None:
    forged = api.keys["s1"][:-4] + "AAAA"
    answer = api.client.get("/v1/billers", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401 and answer.json()["code"] == "invalid_api_key"


def test_a_revoked_key_is_refused_at_once(api: Api) -> None:
    key_id = api.keys["s1"].split("_")[1]
    assert api.client.get("/v1/billers", headers=api.auth("s1")).status_code == 200
    assert revoke_key(api.engine, key_id).revoked_at is not None
    answer = api.client.get("/v1/billers", headers=api.auth("s1"))
    assert answer.status_code == 401 and answer.json()["detail"] == (
        "the API key is unknown or revoked"
    )


def test_keys_are_stored_only_as_hashes(api: Api) -> None:
    with api.engine.db.connect() as conn:
        stored = [tuple(str(v) for v in row) for row in conn.execute(select(api_keys)).all()]
    for secret in api.keys.values():
        assert not any(secret.split("_", 2)[2] in value for row in stored for value in row)


def test_a_read_key_cannot_write(api: Api) -> None:
    answer = api.client.post(
        "/v1/billers/s1/bills/T1/cancel", json={"reason": "x"}, headers=api.auth("s1-read")
    )
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden_role"
    assert "this needs the role bursar" in answer.json()["detail"]
    assert not api.engine.bill("s1", "T1").cancelled


def test_every_answer_carries_a_request_id_that_the_logs_carry_too(api: Api) -> None:
    merge = structlog.contextvars.merge_contextvars  # as configure_logging() does
    with structlog.testing.capture_logs(processors=[merge]) as logs:
        answer = api.client.get("/v1/billers", headers=api.auth("s1", **{"X-Request-ID": "req-42"}))
        made_up = api.client.get("/v1/billers/zz", headers=api.auth("s1"))
    assert answer.headers["X-Request-ID"] == "req-42"
    assert len(made_up.headers["X-Request-ID"]) == 32
    assert made_up.json()["request_id"] == made_up.headers["X-Request-ID"]
    assert {"event": "request", "request_id": "req-42", "status": 200}.items() <= logs[0].items()


def test_a_key_over_its_rate_is_told_when_to_retry(slow_api: Api, clock: FixedClock) -> None:
    codes = [slow_api.client.get("/v1/billers", headers=slow_api.auth("s1")) for _ in range(3)]
    assert [c.status_code for c in codes] == [200, 200, 429]
    assert codes[2].headers["Retry-After"] == "2"
    assert codes[2].json()["code"] == "rate_limited"
    other = slow_api.client.get("/v1/billers", headers=slow_api.auth("w2"))
    assert other.status_code == 200  # buckets are per key
    clock.advance(timedelta(seconds=2))
    assert slow_api.client.get("/v1/billers", headers=slow_api.auth("s1")).status_code == 200


def test_a_body_over_the_limit_is_refused_with_413_and_nothing_is_read(slow_api: Api) -> None:
    big = {"reason": "x" * 300}
    answer = slow_api.client.post(
        "/v1/billers/s1/bills/T1/cancel", json=big, headers=slow_api.auth("s1")
    )
    assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"
    assert answer.json()["detail"] == "the request body is larger than 200 bytes"
    assert not slow_api.engine.bill("s1", "T1").cancelled


def test_a_streamed_body_over_the_limit_is_refused_too(slow_api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"reason": "'
        yield b"x" * 300
        yield b'"}'

    answer = slow_api.client.post(
        "/v1/billers/s1/bills/T1/cancel",
        content=chunks(),
        headers=slow_api.auth("s1", **{"Content-Type": "application/json"}),
    )
    assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"
    assert not slow_api.engine.bill("s1", "T1").cancelled


def test_an_unknown_path_is_a_problem_too(api: Api) -> None:
    answer = api.client.get("/v1/nothing-here", headers=api.auth("s1"))
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
