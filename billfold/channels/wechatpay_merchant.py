"""A WeChat Pay merchant as the ``wechatpay`` channel knows it: its keys, read from a
biller's settings and secrets, and WeChat Pay's API v3 as the channel calls it.

Re-exported by :mod:`billfold.channels.wechatpay`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric import rsa

from billfold.channels.secrets import Secrets, private_key, secret, secret_map, text_setting
from billfold.channels.verification import load_public_key
from billfold.channels.wechatpay_v3 import api_v3_key_bytes
from billfold.errors import ConfigurationError

__all__ = ["WechatPayApi", "WechatPayMerchant", "load_merchant", "rfc3339"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class WechatPayMerchant:
    """One WeChat Pay merchant's keys (``repr`` shows no secret)."""

    mchid: str
    cert_serial: str
    private_key: rsa.RSAPrivateKey
    api_v3_key: bytes
    platform_keys: Mapping[str, rsa.RSAPublicKey]

    def __repr__(self) -> str:
        return f"WechatPayMerchant(mchid={self.mchid!r}, platform={sorted(self.platform_keys)})"


def load_merchant(
    secrets: Secrets, settings: Mapping[str, Any], *, where: str
) -> WechatPayMerchant:
    """A merchant's keys from a biller's settings: ``merchant_id`` (mchid), ``cert_serial``
    and, named by ``_env``/``_file`` settings, ``private_key`` (PEM), ``api_v3_key`` and
    ``platform_keys`` (serial or ``PUB_KEY_ID_...`` → PEM public key or certificate)."""
    mchid = text_setting(settings, "merchant_id", where)
    cert_serial = text_setting(settings, "cert_serial", where)
    try:
        merchant_key = private_key(secret(secrets, settings, "private_key", where=where))
        api_v3_key = api_v3_key_bytes(secret(secrets, settings, "api_v3_key", where=where).strip())
        platform_keys = {
            serial: load_public_key(pem)
            for serial, pem in secret_map(secrets, settings, "platform_keys", where=where).items()
        }
    except ConfigurationError as exc:
        if exc.message.startswith(where):
            raise
        raise ConfigurationError(f"{where}: {exc.message}") from None
    return WechatPayMerchant(mchid, cert_serial, merchant_key, api_v3_key, platform_keys)


def rfc3339(instant: datetime) -> str:
    """WeChat Pay's time format: ``2026-09-01T10:30:00+08:00``."""
    return instant.astimezone(SHANGHAI).isoformat(timespec="seconds")


class WechatPayApi(Protocol):
    """WeChat Pay's API v3 as the channel uses it; answers are WeChat Pay's own JSON."""

    def create_prepay(
        self,
        *,
        appid: str,
        mchid: str,
        out_trade_no: str,
        amount: int,
        description: str,
        payer_openid: str,
        notify_url: str,
        time_expire: str,
    ) -> str:
        """JSAPI/mini-program prepay; returns ``prepay_id``. Raises ChannelError on refusal."""
        ...

    def query(self, mchid: str, out_trade_no: str) -> Mapping[str, Any] | None:
        """The transaction by merchant order number; ``None`` for ORDER_NOT_EXIST."""
        ...

    def refund(
        self,
        *,
        mchid: str,
        out_trade_no: str,
        out_refund_no: str,
        refund: int,
        total: int,
        notify_url: str,
    ) -> Mapping[str, Any]:
        """The refund object, or an error object ``{"code": ..., "message": ...}``."""
        ...

    def close(self, mchid: str, out_trade_no: str) -> bool: ...
