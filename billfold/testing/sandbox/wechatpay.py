"""WeChat Pay's side of the sandbox: prepay, query, refund and close on a SandboxGateway, and
notifications really signed and encrypted with test keys.

:class:`SandboxWechatMerchant` generates one merchant's key pairs (the merchant's API key and
the WeChat Pay platform key), the secrets the channel reads and the biller configuration
naming them. :class:`SandboxWechatPay` implements :class:`~billfold.channels.wechatpay.
WechatPayApi` and registers the notification builder, so the gateway delivers genuine
``TRANSACTION.SUCCESS`` callbacks (late, twice or never, as its chaos says); an accepted
refund sends a ``REFUND.SUCCESS`` callback at once. Not for production: keys are made here.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from billfold.channels.base import Decline, RemoteState
from billfold.channels.wechatpay import CHANNEL, rfc3339
from billfold.errors import ChannelError, InvariantViolated
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing.sandbox.gateway import Delivery, RemoteOrder, SandboxGateway
from billfold.testing.wechatpay_v3 import sign_notification

__all__ = ["SandboxWechatMerchant", "SandboxWechatPay"]

_TRADE_STATES = {
    RemoteState.PAID: ("SUCCESS", "支付成功"),
    RemoteState.PENDING: ("NOTPAY", "未支付"),
    RemoteState.CLOSED: ("CLOSED", "已关闭"),
    RemoteState.FAILED: ("PAYERROR", "支付失败"),
}


def _pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_public(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


#: How WeChat Pay v3 refuses a refund it can never make (申请退款 answers).
_REFUND_REFUSALS: dict[Decline | None, dict[str, str]] = {
    Decline.NOT_FOUND: {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在或未支付"},
    Decline.REFUND_WINDOW_CLOSED: {
        "code": "INVALID_REQUEST",
        "message": "交易时间超过一年的订单无法提交退款",
    },
    Decline.ACCOUNT_CLOSED: {
        "code": "USER_ACCOUNT_ABNORMAL",
        "message": "用户账户异常或已注销，不能原路退回，请使用其他方式进行退款",
    },
}


@dataclass(frozen=True, slots=True)
class SandboxWechatMerchant:
    """A sandbox merchant: its keys, and WeChat Pay's platform key for it."""

    mchid: str
    appid: str
    api_v3_key: str
    merchant_key: rsa.RSAPrivateKey = field(repr=False)
    merchant_serial: str
    platform_key: rsa.RSAPrivateKey = field(repr=False)
    platform_serial: str

    @classmethod
    def generate(cls, mchid: str, appid: str) -> SandboxWechatMerchant:
        seed = hashlib.sha256(f"billfold-sandbox-wechatpay:{mchid}".encode()).hexdigest()
        return cls(
            mchid=mchid,
            appid=appid,
            api_v3_key=seed[:32],
            merchant_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            merchant_serial=seed[32:72].upper(),
            platform_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            platform_serial=f"PUB_KEY_ID_01{mchid}{seed[:8].upper()}",
        )

    def _ref(self, what: str) -> str:
        return f"BILLFOLD_SANDBOX_WECHATPAY_{self.mchid}_{what}"

    def secrets(self) -> dict[str, bytes]:
        """What :class:`~billfold.channels.secrets.DictSecrets` needs for :meth:`config`."""
        return {
            self._ref("API_V3_KEY"): self.api_v3_key.encode("ascii"),
            f"sandbox/wechatpay/{self.mchid}/apiclient_key.pem": _pem_private(self.merchant_key),
            f"sandbox/wechatpay/{self.mchid}/pub_key.pem": _pem_public(
                self.platform_key.public_key()
            ),
        }

    def config(self, *, sole: bool = False, **extra: Any) -> ChannelConfig:
        """The biller's channel configuration: ids, and where each secret lives."""
        settings = {
            "cert_serial": self.merchant_serial,
            "private_key_file": f"sandbox/wechatpay/{self.mchid}/apiclient_key.pem",
            "api_v3_key_env": self._ref("API_V3_KEY"),
            "platform_keys_file": {
                self.platform_serial: f"sandbox/wechatpay/{self.mchid}/pub_key.pem"
            },
            **extra,
        }
        return ChannelConfig(
            CHANNEL, sole=sole, merchant_id=self.mchid, app_id=self.appid, settings=settings
        )


@dataclass(slots=True)
class _Prepay:
    appid: str
    mchid: str
    description: str
    openid: str
    notify_url: str
    prepay_id: str


class SandboxWechatPay:
    """WeChat Pay API v3 played by a :class:`SandboxGateway` (implements ``WechatPayApi``)."""

    def __init__(
        self,
        gateway: SandboxGateway,
        merchants: Iterable[SandboxWechatMerchant],
        *,
        channel: str = CHANNEL,
    ) -> None:
        self.gateway = gateway
        self.channel = channel
        self.merchants = {m.mchid: m for m in merchants}
        self.prepays: dict[str, _Prepay] = {}
        self._counter = itertools.count(1)
        self._notified_refunds: set[str] = set()
        gateway.register(channel, self.notification)

    def _merchant(self, mchid: str) -> SandboxWechatMerchant:
        merchant = self.merchants.get(mchid)
        if merchant is None:
            raise ChannelError(f"sandbox WeChat Pay: MCH_NOT_EXISTS: no merchant {mchid}")
        return merchant

    # -- the API ----------------------------------------------------------------------------
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
        self._merchant(mchid)
        if not description or amount <= 0:
            raise ChannelError("sandbox WeChat Pay: PARAM_ERROR: description and amount needed")
        known = self.prepays.get(out_trade_no)
        if known is not None:  # the same order again: WeChat Pay answers the same prepay
            return known.prepay_id
        self.gateway.open(self.channel, out_trade_no, amount, payer_openid)
        digest = hashlib.sha256(out_trade_no.encode()).hexdigest()[:16]
        prepay_id = f"wx{self.gateway.clock.now():%d%H%M%S}{digest}"
        self.prepays[out_trade_no] = _Prepay(
            appid, mchid, description, payer_openid, notify_url, prepay_id
        )
        return prepay_id

    def query(self, mchid: str, out_trade_no: str) -> Mapping[str, Any] | None:
        remote = self.gateway.query(self.channel, out_trade_no)
        prepay = self.prepays.get(out_trade_no)
        if remote is None or prepay is None or prepay.mchid != mchid:
            return None
        return self._transaction(remote, prepay)

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
        prepay = self.prepays.get(out_trade_no)
        if prepay is None or prepay.mchid != mchid:
            return {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
        refund_id, decline = self.gateway.refund(self.channel, out_trade_no, out_refund_no, refund)
        if decline is Decline.CARD_CANCELLED:  # accepted, then 退款异常 in a notification
            refund_id = self.gateway._id("SRF", self.channel, out_refund_no)
        elif refund_id is None:
            return _REFUND_REFUSALS.get(
                decline, {"code": "INVALID_REQUEST", "message": "退款金额超过订单可退金额"}
            )
        remote = self.gateway.query(self.channel, out_trade_no)
        if not (remote is not None and remote.txn_id is not None):
            raise InvariantViolated("expected remote is not None and remote.txn_id is not None")
        answer = {
            "refund_id": refund_id,
            "out_refund_no": out_refund_no,
            "transaction_id": remote.txn_id,
            "out_trade_no": out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(self.gateway.clock.now()),
            "status": "PROCESSING",
            "amount": {"refund": refund, "total": total, "currency": "CNY"},
        }
        if refund_id not in self._notified_refunds:
            self._notified_refunds.add(refund_id)
            self._send_refund_notification(
                prepay, remote, answer, abnormal=decline is Decline.CARD_CANCELLED
            )
        return answer

    def close(self, mchid: str, out_trade_no: str) -> bool:
        prepay = self.prepays.get(out_trade_no)
        if prepay is None or prepay.mchid != mchid:
            return False
        return self.gateway.close(self.channel, out_trade_no)

    # -- what WeChat Pay sends --------------------------------------------------------------
    def _transaction(self, remote: RemoteOrder, prepay: _Prepay) -> dict[str, Any]:
        state, description = _TRADE_STATES.get(remote.state, ("NOTPAY", "未支付"))
        if remote.state is RemoteState.PAID and remote.refunds:
            state, description = "REFUND", "转入退款"
        paid = remote.state is RemoteState.PAID
        total = remote.paid_fen if paid else remote.amount_fen
        transaction: dict[str, Any] = {
            "appid": prepay.appid,
            "mchid": prepay.mchid,
            "out_trade_no": remote.order_no,
            "trade_type": "JSAPI",
            "trade_state": state,
            "trade_state_desc": description,
            "payer": {"openid": prepay.openid},
            "amount": {"total": total, "currency": "CNY"},
        }
        if paid and remote.txn_id and remote.paid_at:
            transaction["transaction_id"] = remote.txn_id
            transaction["bank_type"] = "OTHERS"
            transaction["success_time"] = rfc3339(remote.paid_at)
            transaction["amount"].update(payer_total=total, payer_currency="CNY")
        return transaction

    def _nonce(self, *parts: str) -> str:
        seed = ":".join((*parts, str(next(self._counter))))
        return hashlib.sha256(seed.encode()).hexdigest()[:32].upper()

    def notification(
        self, remote: RemoteOrder, send_time: datetime
    ) -> tuple[dict[str, str], bytes]:
        """The gateway's builder: a signed, encrypted TRANSACTION.SUCCESS callback."""
        prepay = self.prepays[remote.order_no]
        merchant = self._merchant(prepay.mchid)
        return sign_notification(
            self._transaction(remote, prepay),
            private_key=merchant.platform_key,
            serial=merchant.platform_serial,
            api_v3_key=merchant.api_v3_key,
            timestamp=send_time,
            nonce=self._nonce(remote.order_no, send_time.isoformat()),
        )

    def _send_refund_notification(
        self, prepay: _Prepay, remote: RemoteOrder, answer: Mapping[str, Any], *, abnormal: bool
    ) -> None:
        merchant = self._merchant(prepay.mchid)
        now = self.gateway.clock.now()
        amount = answer["amount"]
        resource = {
            "mchid": prepay.mchid,
            "out_trade_no": remote.order_no,
            "transaction_id": remote.txn_id,
            "out_refund_no": answer["out_refund_no"],
            "refund_id": answer["refund_id"],
            "refund_status": "ABNORMAL" if abnormal else "SUCCESS",
            "user_received_account": answer["user_received_account"],
            "amount": {
                "total": amount["total"],
                "refund": amount["refund"],
                "payer_total": amount["total"],
                "payer_refund": amount["refund"],
            },
        }
        if not abnormal:
            resource["success_time"] = rfc3339(now)
        headers, body = sign_notification(
            resource,
            private_key=merchant.platform_key,
            serial=merchant.platform_serial,
            api_v3_key=merchant.api_v3_key,
            timestamp=now,
            nonce=self._nonce(str(answer["refund_id"]), now.isoformat()),
            event_type="REFUND.ABNORMAL" if abnormal else "REFUND.SUCCESS",
            summary="退款异常" if abnormal else "退款成功",
            original_type="refund",
            associated_data="refund",
        )
        self.gateway.outbox.append(Delivery(self.channel, headers, body, now, remote.order_no))
