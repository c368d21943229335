"""Test doubles for WeChat Pay API v3: build notifications signed exactly like WeChat Pay does.

Shipped so that code embedding billfold can test its notification endpoint without mocks:
generate an RSA key pair, hand the public half to ``verify_notification`` under a serial, and
sign notifications with the private half. Not for production: the resource nonce defaults to
a value derived from ``nonce`` so that output is reproducible.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from billfold.channels.verification import rsa_sha256_sign
from billfold.channels.wechatpay_v3 import (
    AEAD_ALGORITHM,
    SIGNATURE_TYPE,
    api_v3_key_bytes,
    signed_message,
)
from billfold.clock import ensure_utc

__all__ = ["encrypt_resource", "sign_body", "sign_notification"]

_SHANGHAI = ZoneInfo("Asia/Shanghai")


def encrypt_resource(
    plaintext: bytes | str,
    *,
    api_v3_key: str | bytes,
    nonce: str,
    associated_data: str,
) -> str:
    """AEAD_AES_256_GCM as WeChat Pay applies it: base64(ciphertext || 16-byte tag)."""
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    sealed = AESGCM(api_v3_key_bytes(api_v3_key)).encrypt(
        nonce.encode("utf-8"), data, associated_data.encode("utf-8")
    )
    return base64.b64encode(sealed).decode("ascii")


def _unix_seconds(timestamp: int | datetime) -> int:
    if isinstance(timestamp, datetime):
        return int(ensure_utc(timestamp).timestamp())
    return int(timestamp)


def sign_body(
    body: bytes,
    *,
    private_key: rsa.RSAPrivateKey,
    serial: str,
    timestamp: int | datetime,
    nonce: str,
) -> dict[str, str]:
    """The ``Wechatpay-*`` headers WeChat Pay would send with ``body``."""
    seconds = str(_unix_seconds(timestamp))
    return {
        "Wechatpay-Timestamp": seconds,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        "Wechatpay-Signature": rsa_sha256_sign(signed_message(seconds, nonce, body), private_key),
    }


def sign_notification(
    resource: Mapping[str, Any],
    *,
    private_key: rsa.RSAPrivateKey,
    serial: str,
    api_v3_key: str | bytes,
    timestamp: int | datetime,
    nonce: str,
    event_type: str = "TRANSACTION.SUCCESS",
    notification_id: str | None = None,
    summary: str = "支付成功",
    original_type: str = "transaction",
    associated_data: str = "transaction",
    resource_nonce: str | None = None,
    algorithm: str = AEAD_ALGORITHM,
) -> tuple[dict[str, str], bytes]:
    """Encrypt ``resource`` and sign the envelope; returns ``(headers, body)``.

    ``create_time`` is the signing time in Asia/Shanghai (``2024-01-05T10:00:00+08:00``), as
    WeChat Pay writes it. ``notification_id`` and ``resource_nonce`` default to values derived
    from ``timestamp`` and ``nonce``.
    """
    seconds = _unix_seconds(timestamp)
    gcm_nonce = resource_nonce or hashlib.sha256(nonce.encode("utf-8")).hexdigest()[:12]
    plaintext = json.dumps(dict(resource), ensure_ascii=False, separators=(",", ":"))
    envelope = {
        "id": notification_id
        or str(uuid.uuid5(uuid.NAMESPACE_URL, f"wechatpay:{seconds}:{nonce}")),
        "create_time": datetime.fromtimestamp(seconds, _SHANGHAI).isoformat(timespec="seconds"),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": algorithm,
            "ciphertext": encrypt_resource(
                plaintext, api_v3_key=api_v3_key, nonce=gcm_nonce, associated_data=associated_data
            ),
            "associated_data": associated_data,
            "nonce": gcm_nonce,
        },
    }
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = sign_body(
        body, private_key=private_key, serial=serial, timestamp=seconds, nonce=nonce
    )
    return headers, body
