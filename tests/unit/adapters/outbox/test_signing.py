from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.adapters.outbox.signing import (
    WebhookRejected,
    sign,
    signed_headers,
    verify_webhook,
)
from billfold.errors import ConfigurationError, SignatureInvalid

SECRET = "whsec-test-0123456789"
NOW = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)  # unix 1788228000
BODY = b'{"id":"evt-1","type":"bill.paid"}'
# printf '1788228000.{"id":"evt-1","type":"bill.paid"}' | openssl dgst -sha256 -hmac SECRET
OPENSSL_HEX = "d4d3fe190f3baf237f258b6a0e0c76c8ea9e4f0bfe92d2a3dd15c467ca284449"


def _headers(**changes: str) -> dict[str, str]:
    headers = signed_headers(SECRET, "evt-1", "bill.paid", NOW, BODY)
    headers.update(changes)
    return headers


def _rejected(headers: dict[str, str], body: bytes = BODY, now: datetime = NOW) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as info:
        verify_webhook(SECRET, headers, body, now)
    return info.value


def test_signature_is_hmac_sha256_over_timestamp_dot_body_as_openssl_computes_it() -> None:
    assert sign(SECRET, 1788228000, BODY) == OPENSSL_HEX


def test_signed_headers_carry_event_id_type_timestamp_and_v1_signature() -> None:
    assert _headers() == {
        "Content-Type": "application/json",
        "X-Billfold-Event-Id": "evt-1",
        "X-Billfold-Event-Type": "bill.paid",
        "X-Billfold-Timestamp": "1788228000",
        "X-Billfold-Signature": f"v1={OPENSSL_HEX}",
    }


def test_a_genuine_webhook_verifies_and_yields_its_event() -> None:
    verified = verify_webhook(SECRET, _headers(), BODY, NOW + timedelta(seconds=30))
    assert verified.event_id == "evt-1"
    assert verified.event_type == "bill.paid"
    assert verified.signed_at == NOW
    assert verified.body == {"id": "evt-1", "type": "bill.paid"}


def test_header_names_match_case_insensitively_and_str_bodies_are_utf8() -> None:
    lower = {k.lower(): v for k, v in _headers().items()}
    assert verify_webhook(SECRET, lower, BODY.decode(), NOW).event_id == "evt-1"


def test_any_one_matching_signature_among_several_is_enough() -> None:
    headers = _headers(**{"X-Billfold-Signature": f"v1=deadbeef, v1={OPENSSL_HEX}"})
    assert verify_webhook(SECRET, headers, BODY, NOW).event_id == "evt-1"


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="does not match: wrong secret"):
        verify_webhook("another-secret-0123456", _headers(), BODY, NOW)


def test_a_changed_body_is_rejected() -> None:
    error = _rejected(_headers(), BODY.replace(b"evt-1", b"evt-2"))
    assert error.reason == "bad_signature"


def test_a_changed_timestamp_is_rejected() -> None:
    error = _rejected(_headers(**{"X-Billfold-Timestamp": "1788228001"}))
    assert error.reason == "bad_signature"


@pytest.mark.parametrize("header", ["X-Billfold-Timestamp", "X-Billfold-Signature"])
def test_a_missing_header_is_named(header: str) -> None:
    headers = _headers()
    del headers[header]
    error = _rejected(headers)
    assert (error.reason, error.message) == ("missing_header", f"header {header} is missing")


def test_a_timestamp_that_is_not_unix_seconds_is_rejected() -> None:
    error = _rejected(_headers(**{"X-Billfold-Timestamp": "2026-09-01T02:00:00Z"}))
    assert error.reason == "bad_timestamp"
    assert "'2026-09-01T02:00:00Z' is not unix seconds" in error.message


def test_an_absurdly_long_timestamp_is_rejected_before_any_date_arithmetic() -> None:
    error = _rejected(_headers(**{"X-Billfold-Timestamp": "9" * 30}))
    assert error.reason == "bad_timestamp"


def test_a_signature_header_without_v1_is_rejected() -> None:
    error = _rejected(_headers(**{"X-Billfold-Signature": f"v0={OPENSSL_HEX}"}))
    assert error.message == "X-Billfold-Signature holds no v1=<hex> signature"


@pytest.mark.parametrize("offset", [timedelta(minutes=5, seconds=1), -timedelta(minutes=6)])
def test_a_timestamp_outside_the_tolerance_is_a_replay(offset: timedelta) -> None:
    error = _rejected(_headers(), now=NOW + offset)
    assert error.reason == "stale"
    assert "more than the 300 s tolerance" in error.message


def test_the_tolerance_is_inclusive() -> None:
    assert verify_webhook(SECRET, _headers(), BODY, NOW + timedelta(minutes=5)).event_id


def test_an_event_id_header_that_differs_from_the_signed_body_is_rejected() -> None:
    error = _rejected(_headers(**{"X-Billfold-Event-Id": "evt-9"}))
    assert error.reason == "header_mismatch"
    assert "X-Billfold-Event-Id 'evt-9' differs from the signed body" in error.message


def test_a_signed_body_that_is_not_an_event_is_rejected() -> None:
    body = b"[1, 2]"
    headers = signed_headers(SECRET, "evt-1", "bill.paid", NOW, body)
    error = _rejected(headers, body)
    assert error.message == "the signed body is not a billfold event (no 'id')"


def test_an_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="webhook secret is empty"):
        sign("", 1, b"{}")


@given(
    secret=st.text(min_size=1, max_size=64),
    event_id=st.uuids().map(str),
    data=st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=4),
    seconds=st.integers(min_value=0, max_value=300),
)
def test_whatever_billfold_signs_verifies_and_any_flipped_byte_does_not(
    secret: str, event_id: str, data: dict[str, object], seconds: int
) -> None:
    import json

    body = json.dumps({"id": event_id, "type": "x.y", "data": data}, ensure_ascii=False).encode()
    headers = signed_headers(secret, event_id, "x.y", NOW, body)
    later = NOW + timedelta(seconds=seconds)
    assert verify_webhook(secret, headers, body, later).event_id == event_id
    tampered = body[:-1] + bytes([body[-1] ^ 1])
    with pytest.raises(WebhookRejected):
        verify_webhook(secret, headers, tampered, later)
