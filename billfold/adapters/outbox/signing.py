"""Signing billfold webhooks, and verifying them on the receiving side.

Every webhook is a ``POST`` of the event's JSON body with these headers::

    Content-Type: application/json
    X-Billfold-Event-Id: 0b6f...            the event id; deduplicate on it
    X-Billfold-Event-Type: payment.confirmed
    X-Billfold-Timestamp: 1788228000        unix seconds when this attempt was signed
    X-Billfold-Signature: v1=<hex>          HMAC-SHA256(secret, "<timestamp>.<raw body>")

A receiver calls :func:`verify_webhook` with the endpoint's secret, the request headers and
the raw body bytes (before any JSON parsing), answers 2xx once the event is stored, and
ignores an event id it has already processed::

    try:
        event = verify_webhook(secret, request.headers, request.body, datetime.now(UTC))
    except WebhookRejected as exc:
        return 400, exc.reason
    if not seen_before(event.event_id):
        handle(event.event_type, event.body["data"])
    return 204

Receivers in other languages recompute ``hex(HMAC-SHA256(secret, f"{timestamp}.{body}"))``,
compare it in constant time with the ``v1=`` value, and check the timestamp is recent.

Each attempt is signed afresh, so a retry carries a new timestamp and signature but the
same event id and body. The signature header may hold several comma-separated ``v1=``
values; one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from billfold.clock import ensure_utc
from billfold.errors import ConfigurationError, SignatureInvalid

__all__ = [
    "DEFAULT_TOLERANCE",
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "VerifiedWebhook",
    "WebhookRejected",
    "sign",
    "signed_headers",
    "verify_webhook",
]

EVENT_ID_HEADER = "X-Billfold-Event-Id"
EVENT_TYPE_HEADER = "X-Billfold-Event-Type"
TIMESTAMP_HEADER = "X-Billfold-Timestamp"
SIGNATURE_HEADER = "X-Billfold-Signature"
DEFAULT_TOLERANCE = timedelta(minutes=5)
_SCHEME = "v1"


class WebhookRejected(SignatureInvalid):
    """A webhook failed verification; ``reason`` is a stable short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    """What :func:`verify_webhook` vouches for. ``body`` is the parsed event envelope."""

    event_id: str
    event_type: str
    signed_at: datetime
    body: dict[str, Any]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret`` (UTF-8)."""
    if not secret:
        raise ConfigurationError("webhook secret is empty")
    message = f"{timestamp}.".encode("ascii") + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, event_id: str, event_type: str, now: datetime, body: bytes
) -> dict[str, str]:
    """The full header set for one delivery attempt made at ``now``."""
    timestamp = int(ensure_utc(now).timestamp())
    return {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{_SCHEME}={sign(secret, timestamp, body)}",
    }


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> VerifiedWebhook:
    """Check a received billfold webhook and return its event, or raise :class:`WebhookRejected`.

    ``headers`` are matched case-insensitively; ``body`` must be the raw bytes received (a
    ``str`` is encoded as UTF-8). The timestamp must lie within ``tolerance`` of ``now``,
    which keeps captured requests from being replayed later. Deduplicate on ``event_id``:
    the same event may arrive more than once.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    lower = {k.lower(): v for k, v in headers.items()}
    stamp_text = _required(lower, TIMESTAMP_HEADER).strip()
    if not (stamp_text.isascii() and stamp_text.isdigit() and len(stamp_text) <= 12):
        raise WebhookRejected(
            "bad_timestamp", f"{TIMESTAMP_HEADER} {stamp_text[:20]!r} is not unix seconds"
        )
    timestamp = int(stamp_text)
    offered = _offered_signatures(_required(lower, SIGNATURE_HEADER))
    expected = sign(secret, timestamp, raw)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise WebhookRejected(
            "bad_signature",
            f"{SIGNATURE_HEADER} does not match: wrong secret, or the body or timestamp "
            "was altered",
        )
    signed_at = datetime.fromtimestamp(timestamp, UTC)
    skew = abs((ensure_utc(now) - signed_at).total_seconds())
    if skew > tolerance.total_seconds():
        raise WebhookRejected(
            "stale",
            f"{TIMESTAMP_HEADER} is {int(skew)} s away from now, more than the "
            f"{int(tolerance.total_seconds())} s tolerance (a replay, or clocks out of sync)",
        )
    return _envelope(lower, raw, signed_at)


def _required(lower: Mapping[str, str], name: str) -> str:
    value = lower.get(name.lower())
    if value is None or not value.strip():
        raise WebhookRejected("missing_header", f"header {name} is missing")
    return value


def _offered_signatures(header: str) -> list[str]:
    offered = []
    for part in header.split(","):
        scheme, sep, value = part.strip().partition("=")
        if sep and scheme == _SCHEME and value:
            offered.append(value.strip().lower())
    if not offered:
        raise WebhookRejected(
            "bad_signature", f"{SIGNATURE_HEADER} holds no {_SCHEME}=<hex> signature"
        )
    return offered


def _envelope(lower: Mapping[str, str], raw: bytes, signed_at: datetime) -> VerifiedWebhook:
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected("bad_body", f"the signed body is not UTF-8 JSON: {exc}") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("id"), str):
        raise WebhookRejected("bad_body", "the signed body is not a billfold event (no 'id')")
    event_id, event_type = parsed["id"], str(parsed.get("type", ""))
    for header, signed in ((EVENT_ID_HEADER, event_id), (EVENT_TYPE_HEADER, event_type)):
        claimed = lower.get(header.lower())
        if claimed is not None and claimed != signed:
            raise WebhookRejected(
                "header_mismatch", f"header {header} {claimed[:64]!r} differs from the signed body"
            )
    return VerifiedWebhook(event_id, event_type, signed_at, parsed)
