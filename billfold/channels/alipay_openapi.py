"""Alipay's OpenAPI as the ``alipay`` channel calls it: a seller's app and its keys (read
from a biller's settings and secrets), requests signed RSA2 with the app's private key, and
Alipay's time format.

Request signing includes ``sign_type`` (only ``sign`` is left out), unlike notification
verification (:mod:`billfold.channels.alipay_rsa2`); :func:`request_content` builds that
string. Re-exported by :mod:`billfold.channels.alipay`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric import rsa

from billfold.channels.secrets import Secrets, private_key, secret, text_setting
from billfold.channels.verification import (
    decode_base64_signature,
    load_public_key,
    rsa_sha256_sign,
    rsa_sha256_verify,
)
from billfold.errors import ConfigurationError

__all__ = [
    "SHANGHAI",
    "TIME_FORMAT",
    "AlipayApi",
    "AlipayApp",
    "alipay_time",
    "load_app",
    "request_content",
    "signed_request",
    "verify_request",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class AlipayApp:
    """One Alipay app of a seller: the app's private key, Alipay's public key for it."""

    app_id: str
    seller_id: str
    app_private_key: rsa.RSAPrivateKey
    alipay_public_key: rsa.RSAPublicKey

    def __repr__(self) -> str:
        return f"AlipayApp(app_id={self.app_id!r}, seller_id={self.seller_id!r})"


def load_app(secrets: Secrets, settings: Mapping[str, Any], *, where: str) -> AlipayApp:
    """An app from a biller's settings: ``app_id``, ``merchant_id`` (the seller's 2088… id)
    and, named by ``_env``/``_file`` settings, ``app_private_key`` and ``alipay_public_key``
    (PEM or the bare base64 Alipay's console shows)."""
    app_id = text_setting(settings, "app_id", where)
    seller_id = text_setting(settings, "merchant_id", where)
    try:
        private = private_key(secret(secrets, settings, "app_private_key", where=where))
        public = load_public_key(secret(secrets, settings, "alipay_public_key", where=where))
    except ConfigurationError as exc:
        if exc.message.startswith(where):
            raise
        raise ConfigurationError(f"{where}: {exc.message}") from None
    return AlipayApp(app_id, seller_id, private, public)


def alipay_time(instant: datetime) -> str:
    """Alipay's time format, Beijing time: ``2026-09-01 10:30:00``."""
    return instant.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def request_content(params: Mapping[str, str]) -> str:
    """What an Alipay OpenAPI request signs: sorted ``key=value`` pairs without ``sign`` and
    without empty values (``sign_type`` included, unlike a notification)."""
    kept = sorted((k, v) for k, v in params.items() if k and v and k != "sign")
    return "&".join(f"{key}={value}" for key, value in kept)


def signed_request(
    app: AlipayApp,
    method: str,
    biz_content: Mapping[str, Any],
    now: datetime,
    *,
    notify_url: str | None = None,
) -> dict[str, str]:
    """The common request parameters of ``method``, signed RSA2 with the app's key."""
    params = {
        "app_id": app.app_id,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": alipay_time(now),
        "version": "1.0",
        "biz_content": json.dumps(dict(biz_content), ensure_ascii=False, separators=(",", ":")),
    }
    if notify_url:
        params["notify_url"] = notify_url
    params["sign"] = rsa_sha256_sign(request_content(params).encode("utf-8"), app.app_private_key)
    return params


def verify_request(params: Mapping[str, str], app_public_key: rsa.RSAPublicKey) -> bool:
    """Check a request's RSA2 signature as Alipay's gateway does."""
    signature = decode_base64_signature(params.get("sign", ""))
    if signature is None or params.get("sign_type") != "RSA2":
        return False
    return rsa_sha256_verify(request_content(params).encode("utf-8"), signature, app_public_key)


class AlipayApi(Protocol):
    """Alipay's OpenAPI gateway: one endpoint, the ``method`` parameter says what to do."""

    def execute(self, params: Mapping[str, str]) -> Mapping[str, Any]:
        """POST signed request parameters; returns the ``<method>_response`` object (its
        signature already checked by the client)."""
        ...
