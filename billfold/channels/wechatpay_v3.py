"""WeChat Pay API v3: verifying payment notifications, signing mini-program pay parameters.

Built to WeChat Pay's public API v3 documentation (签名验证, 支付通知, 证书和回调报文解密):

* A notification carries the headers ``Wechatpay-Timestamp`` (unix seconds),
  ``Wechatpay-Nonce``, ``Wechatpay-Signature`` (base64), ``Wechatpay-Serial`` (the serial of
  the WeChat Pay platform certificate, or a WeChat Pay public key id ``PUB_KEY_ID_...``) and
  ``Wechatpay-Signature-Type`` (``WECHATPAY2-SHA256-RSA2048``). Header names are
  case-insensitive.
* The signature is SHA256withRSA (PKCS#1 v1.5) over ``"{timestamp}\\n{nonce}\\n{body}\\n"``
  where ``body`` is the raw request body, byte for byte.
* The body is a JSON envelope (``id``, ``create_time``, ``event_type``, ``resource_type``,
  ``summary``, ``resource``); ``resource`` is encrypted with AEAD_AES_256_GCM: the key is the
  32-byte APIv3 key, the nonce is ``resource.nonce``, the associated data is
  ``resource.associated_data``, and ``resource.ciphertext`` is base64 of the ciphertext with
  the 16-byte tag appended.
* WeChat Pay probes merchants with signatures starting ``WECHATPAY/SIGNTEST/``; those must fail.

The checks run cheapest first, and the nonce is recorded only after the signature is valid,
so a forger cannot burn nonces: headers → serial → timestamp → signature → nonce → decrypt.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from billfold.channels.verification import (
    Mismatch,
    NotificationRejected,
    certificate_serial,
    decode_base64_signature,
    load_private_key,
    load_public_key,
    rsa_sha256_sign,
    rsa_sha256_verify,
)
from billfold.clock import ensure_utc
from billfold.errors import ConfigurationError, InvalidInput

__all__ = [
    "AEAD_ALGORITHM",
    "SIGNATURE_TYPE",
    "Mismatch",
    "NotificationRejected",
    "WechatPayNotification",
    "WechatPayReason",
    "api_v3_key_bytes",
    "certificate_serial",
    "check_transaction",
    "decrypt_resource",
    "load_private_key",
    "load_public_key",
    "mini_program_pay_params",
    "signed_message",
    "verify_notification",
]

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
AEAD_ALGORITHM = "AEAD_AES_256_GCM"
SIGNATURE_PROBE_PREFIX = "WECHATPAY/SIGNTEST/"

_REQUIRED_HEADERS = (
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Signature",
    "Wechatpay-Serial",
)
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")


class WechatPayReason(StrEnum):
    """Stable codes for why a WeChat Pay notification was rejected."""

    MISSING_HEADER = "missing_header"
    UNSUPPORTED_SIGNATURE_TYPE = "unsupported_signature_type"
    BAD_TIMESTAMP = "bad_timestamp"
    UNKNOWN_SERIAL = "unknown_serial"
    TIMESTAMP_SKEW = "timestamp_skew"
    SIGNATURE_PROBE = "signature_probe"
    MALFORMED_SIGNATURE = "malformed_signature"
    SIGNATURE_MISMATCH = "signature_mismatch"
    REPLAYED_NONCE = "replayed_nonce"
    BODY_NOT_JSON = "body_not_json"
    BAD_ENVELOPE = "bad_envelope"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    DECRYPTION_FAILED = "decryption_failed"
    RESOURCE_NOT_JSON = "resource_not_json"


@dataclass(frozen=True, slots=True)
class WechatPayNotification:
    """A verified notification: the envelope plus the decrypted ``resource``.

    For ``TRANSACTION.SUCCESS`` the resource holds ``appid``, ``mchid``, ``out_trade_no``,
    ``transaction_id``, ``trade_state``, ``amount`` (``total``, ``payer_total``, ``currency``
    in integer fen), ``success_time``, ``payer.openid`` and so on, exactly as WeChat sent it.
    """

    id: str
    create_time: str
    event_type: str
    resource_type: str
    summary: str
    original_type: str
    resource: dict[str, Any]
    serial: str
    signed_at: datetime

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "create_time": self.create_time,
            "event_type": self.event_type,
            "resource_type": self.resource_type,
            "summary": self.summary,
            "original_type": self.original_type,
            "serial": self.serial,
            "signed_at": self.signed_at.isoformat(),
            "resource": self.resource,
        }


@dataclass(frozen=True, slots=True)
class _SignedHeaders:
    timestamp: str
    nonce: str
    signature: str
    serial: str


def _reject(reason: WechatPayReason, message: str) -> NotificationRejected:
    return NotificationRejected(reason, message)


def api_v3_key_bytes(api_v3_key: str | bytes) -> bytes:
    """The APIv3 key as the 32 bytes AES-256 needs; a wrong length is a configuration error."""
    key = api_v3_key.encode("utf-8") if isinstance(api_v3_key, str) else bytes(api_v3_key)
    if len(key) != 32:
        raise ConfigurationError(f"the WeChat Pay APIv3 key must be 32 bytes, got {len(key)}")
    return key


def signed_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """The exact bytes WeChat Pay signs: ``timestamp\\nnonce\\nbody\\n``."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def _read_headers(headers: Mapping[str, str]) -> _SignedHeaders:
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    missing = [name for name in _REQUIRED_HEADERS if not lowered.get(name.lower())]
    if missing:
        noun = "header" if len(missing) == 1 else "headers"
        raise _reject(WechatPayReason.MISSING_HEADER, f"missing {noun} {', '.join(missing)}")
    signature_type = lowered.get("wechatpay-signature-type")
    if signature_type and signature_type != SIGNATURE_TYPE:
        raise _reject(
            WechatPayReason.UNSUPPORTED_SIGNATURE_TYPE,
            f"Wechatpay-Signature-Type {signature_type!r} is not supported; "
            f"only {SIGNATURE_TYPE} is",
        )
    timestamp = lowered["wechatpay-timestamp"]
    if not _TIMESTAMP_RE.match(timestamp):
        raise _reject(
            WechatPayReason.BAD_TIMESTAMP,
            f"Wechatpay-Timestamp {timestamp!r} is not unix seconds",
        )
    return _SignedHeaders(
        timestamp=timestamp,
        nonce=lowered["wechatpay-nonce"],
        signature=lowered["wechatpay-signature"],
        serial=lowered["wechatpay-serial"],
    )


def _platform_key(platform_keys: Mapping[str, rsa.RSAPublicKey], serial: str) -> rsa.RSAPublicKey:
    key = platform_keys.get(serial)
    if key is None:  # certificate serials are hex; accept either case
        key = next((k for s, k in platform_keys.items() if s.upper() == serial.upper()), None)
    if key is None:
        known = ", ".join(sorted(platform_keys)) or "none configured"
        raise _reject(
            WechatPayReason.UNKNOWN_SERIAL,
            f"unknown Wechatpay-Serial {serial!r}: no platform certificate or WeChat Pay "
            f"public key with that serial (known: {known})",
        )
    return key


def _describe_window(max_skew: timedelta) -> str:
    seconds = int(max_skew.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _check_timestamp(timestamp: str, now: datetime, max_skew: timedelta) -> datetime:
    offset = int(timestamp) - now.timestamp()
    if abs(offset) > max_skew.total_seconds():
        direction = "in the future" if offset > 0 else "old"
        raise _reject(
            WechatPayReason.TIMESTAMP_SKEW,
            f"Wechatpay-Timestamp {timestamp} is outside ±{_describe_window(max_skew)} of now "
            f"{now.isoformat()} ({abs(int(offset))} s {direction})",
        )
    return datetime.fromtimestamp(int(timestamp), UTC)


def _check_signature(signed: _SignedHeaders, body: bytes, public_key: rsa.RSAPublicKey) -> None:
    if signed.signature.startswith(SIGNATURE_PROBE_PREFIX):
        raise _reject(
            WechatPayReason.SIGNATURE_PROBE,
            "Wechatpay-Signature is a WeChat Pay signature probe (WECHATPAY/SIGNTEST/); "
            "probes must be rejected",
        )
    raw = decode_base64_signature(signed.signature)
    if raw is None:
        raise _reject(WechatPayReason.MALFORMED_SIGNATURE, "Wechatpay-Signature is not base64")
    message = signed_message(signed.timestamp, signed.nonce, body)
    if not rsa_sha256_verify(message, raw, public_key):
        raise _reject(
            WechatPayReason.SIGNATURE_MISMATCH,
            f"signature does not match the body for platform key {signed.serial}",
        )


def _json_object(data: bytes, reason: WechatPayReason, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _reject(reason, f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _reject(reason, f"{what} is not a JSON object")
    return value


def _text_field(mapping: Mapping[str, Any], name: str, where: str, *, required: bool) -> str:
    value = mapping.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _reject(WechatPayReason.BAD_ENVELOPE, f"{where}{name} is missing or not a string")
    return value


def decrypt_resource(
    ciphertext: str,
    *,
    api_v3_key: str | bytes,
    nonce: str | bytes,
    associated_data: str | bytes,
) -> bytes:
    """Decrypt an AEAD_AES_256_GCM resource (notifications and platform certificates)."""
    key = api_v3_key_bytes(api_v3_key)
    nonce_bytes = nonce.encode("utf-8") if isinstance(nonce, str) else nonce
    aad = associated_data.encode("utf-8") if isinstance(associated_data, str) else associated_data
    try:
        sealed = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise _reject(WechatPayReason.BAD_ENVELOPE, "resource.ciphertext is not base64") from None
    try:
        return AESGCM(key).decrypt(nonce_bytes, sealed, aad)
    except InvalidTag:
        raise _reject(
            WechatPayReason.DECRYPTION_FAILED,
            "resource decryption failed (wrong APIv3 key or tampered ciphertext)",
        ) from None
    except ValueError as exc:  # nonce of an impossible length
        raise _reject(WechatPayReason.BAD_ENVELOPE, f"resource.nonce is unusable: {exc}") from None


def _authentic(
    headers: Mapping[str, str],
    body: bytes | str,
    platform_keys: Mapping[str, rsa.RSAPublicKey],
    now: datetime,
    max_skew: timedelta,
    nonce_seen: Callable[[str], bool] | None,
) -> tuple[_SignedHeaders, datetime, bytes]:
    """The signing headers, the platform key named by the serial, a fresh timestamp, the
    signature over timestamp, nonce and body (returned as bytes); then a nonce never seen."""
    signed = _read_headers(headers)
    public_key = _platform_key(platform_keys, signed.serial)
    signed_at = _check_timestamp(signed.timestamp, now, max_skew)
    body_bytes = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    _check_signature(signed, body_bytes, public_key)
    if nonce_seen is not None and nonce_seen(signed.nonce):
        raise _reject(
            WechatPayReason.REPLAYED_NONCE,
            f"replayed nonce {signed.nonce!r}: this notification was already received",
        )
    return signed, signed_at, body_bytes


def _resource(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope's encrypted resource, in the one algorithm API v3 uses."""
    resource = envelope.get("resource")
    if not isinstance(resource, dict):
        raise _reject(WechatPayReason.BAD_ENVELOPE, "body has no resource object")
    algorithm = _text_field(resource, "algorithm", "resource.", required=True)
    if algorithm != AEAD_ALGORITHM:
        raise _reject(
            WechatPayReason.UNSUPPORTED_ALGORITHM,
            f"resource.algorithm {algorithm!r} is not {AEAD_ALGORITHM}",
        )
    return resource


def verify_notification(
    headers: Mapping[str, str],
    body: bytes | str,
    platform_keys: Mapping[str, rsa.RSAPublicKey],
    api_v3_key: str | bytes,
    now: datetime,
    *,
    max_skew: timedelta = timedelta(minutes=5),
    nonce_seen: Callable[[str], bool] | None = None,
) -> WechatPayNotification:
    """Verify a WeChat Pay API v3 notification and decrypt its resource.

    ``platform_keys`` maps ``Wechatpay-Serial`` values (platform certificate serials or
    ``PUB_KEY_ID_...`` ids) to public keys. ``nonce_seen(nonce)`` returns True when the nonce
    was seen before and records it otherwise; it is called only once the signature is valid.
    ``body`` must be the raw request body (a ``str`` is encoded as UTF-8).

    Raises :class:`NotificationRejected` (a ``SignatureInvalid``) with a ``reason`` code.
    """
    key = api_v3_key_bytes(api_v3_key)
    signed, signed_at, body_bytes = _authentic(
        headers, body, platform_keys, ensure_utc(now), max_skew, nonce_seen
    )
    envelope = _json_object(body_bytes, WechatPayReason.BODY_NOT_JSON, "body")
    resource = _resource(envelope)
    plaintext = decrypt_resource(
        _text_field(resource, "ciphertext", "resource.", required=True),
        api_v3_key=key,
        nonce=_text_field(resource, "nonce", "resource.", required=True),
        associated_data=_text_field(resource, "associated_data", "resource.", required=False),
    )
    return WechatPayNotification(
        id=_text_field(envelope, "id", "", required=True),
        create_time=_text_field(envelope, "create_time", "", required=True),
        event_type=_text_field(envelope, "event_type", "", required=True),
        resource_type=_text_field(envelope, "resource_type", "", required=True),
        summary=_text_field(envelope, "summary", "", required=False),
        original_type=_text_field(resource, "original_type", "resource.", required=False),
        resource=_json_object(plaintext, WechatPayReason.RESOURCE_NOT_JSON, "decrypted resource"),
        serial=signed.serial,
        signed_at=signed_at,
    )


def _got(value: Any) -> str | int | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return repr(value)


def check_transaction(
    resource: Mapping[str, Any],
    *,
    appid: str,
    mchid: str,
    out_trade_no: str,
    total_fen: int,
    currency: str = "CNY",
) -> list[Mismatch]:
    """Compare a decrypted transaction with what was ordered; an empty list means all match."""
    mismatches: list[Mismatch] = []
    for field, expected in (("appid", appid), ("mchid", mchid), ("out_trade_no", out_trade_no)):
        got = resource.get(field)
        if got != expected:
            mismatches.append(Mismatch(field, expected, _got(got)))
    amount = resource.get("amount")
    amount = amount if isinstance(amount, Mapping) else {}
    total = amount.get("total")
    if isinstance(total, bool) or not isinstance(total, int) or total != total_fen:
        mismatches.append(Mismatch("amount.total", total_fen, _got(total)))
    if amount.get("currency") != currency:
        mismatches.append(Mismatch("amount.currency", currency, _got(amount.get("currency"))))
    return mismatches


def mini_program_pay_params(
    appid: str,
    prepay_id: str,
    merchant_private_key: rsa.RSAPrivateKey,
    now: datetime,
    nonce: str,
) -> dict[str, str]:
    """Parameters for ``wx.requestPayment`` (mini-program) or JSAPI ``chooseWXPay``.

    ``paySign`` is base64 SHA256withRSA over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``
    with the merchant's API private key.
    """
    if not appid:
        raise InvalidInput("appId: must not be empty")
    if not prepay_id:
        raise InvalidInput("prepay_id: must not be empty")
    if not nonce or len(nonce) > 32:
        raise InvalidInput(f"nonceStr: must be 1 to 32 characters, got {len(nonce)}")
    timestamp = str(int(ensure_utc(now).timestamp()))
    package = f"prepay_id={prepay_id}"
    message = f"{appid}\n{timestamp}\n{nonce}\n{package}\n".encode()
    return {
        "appId": appid,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": rsa_sha256_sign(message, merchant_private_key),
    }
