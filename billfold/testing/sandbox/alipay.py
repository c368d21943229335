"""Alipay's side of the sandbox: the OpenAPI gateway on a SandboxGateway, and notifications
really signed RSA2 with a test Alipay key.

:class:`SandboxAlipayApp` generates one app's key pairs (the app's key and Alipay's key for
it), the secrets the channel reads and the biller configuration naming them.
:class:`SandboxAlipay` implements :class:`~billfold.channels.alipay.AlipayApi`: it checks
each request's signature as Alipay's gateway does, answers ``alipay.trade.create``,
``.query``, ``.refund`` and ``.close`` in Alipay's response format, and registers the
notification builder, so the gateway delivers genuine ``trade_status_sync`` forms. Not for
production: keys are made here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from billfold.channels.alipay import CHANNEL, SUCCESS_CODE, alipay_time, verify_request
from billfold.channels.alipay_rsa2 import signed_notification_form
from billfold.channels.base import Decline, RemoteState
from billfold.errors import InvalidInput, InvariantViolated
from billfold.merchants.channel_config import ChannelConfig
from billfold.money import format_yuan, parse_yuan
from billfold.testing.sandbox.gateway import RemoteOrder, SandboxGateway

__all__ = ["SandboxAlipay", "SandboxAlipayApp"]

_TRADE_STATUS = {
    RemoteState.PENDING: "WAIT_BUYER_PAY",
    RemoteState.PAID: "TRADE_SUCCESS",
    RemoteState.CLOSED: "TRADE_CLOSED",
    RemoteState.FAILED: "WAIT_BUYER_PAY",  # a failed attempt leaves the trade open
}


def _business_error(sub_code: str, sub_msg: str) -> dict[str, str]:
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}


#: How alipay.trade.refund refuses (sub_code, sub_msg). A cancelled card is Alipay's own
#: business (it refunds to the balance), so only window and account refusals are played.
_REFUND_REFUSALS: dict[Decline | None, tuple[str, str]] = {
    Decline.NOT_FOUND: ("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"),
    Decline.REFUND_WINDOW_CLOSED: ("ACQ.TRADE_HAS_FINISHED", "交易已完结"),
    Decline.ACCOUNT_CLOSED: ("ACQ.BUYER_ERROR", "买家状态非法"),
}


@dataclass(frozen=True, slots=True)
class SandboxAlipayApp:
    """A sandbox app: the seller's app key pair and Alipay's key pair for the app."""

    app_id: str
    seller_id: str
    app_key: rsa.RSAPrivateKey = field(repr=False)
    alipay_key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def generate(cls, app_id: str, seller_id: str) -> SandboxAlipayApp:
        return cls(
            app_id,
            seller_id,
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )

    def _ref(self, what: str) -> str:
        return f"BILLFOLD_SANDBOX_ALIPAY_{self.app_id}_{what}"

    def secrets(self) -> dict[str, bytes]:
        """What :class:`~billfold.channels.secrets.DictSecrets` needs for :meth:`config`."""
        private = self.app_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = self.alipay_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {self._ref("APP_PRIVATE_KEY"): private, f"sandbox/alipay/{self.app_id}.pem": public}

    def config(self, *, sole: bool = False, **extra: Any) -> ChannelConfig:
        settings = {
            "app_private_key_env": self._ref("APP_PRIVATE_KEY"),
            "alipay_public_key_file": f"sandbox/alipay/{self.app_id}.pem",
            **extra,
        }
        return ChannelConfig(
            CHANNEL, sole=sole, merchant_id=self.seller_id, app_id=self.app_id, settings=settings
        )


@dataclass(slots=True)
class _Trade:
    app_id: str
    trade_no: str
    subject: str
    buyer: str
    notify_url: str
    created_at: datetime


class SandboxAlipay:
    """Alipay's OpenAPI gateway played by a :class:`SandboxGateway` (implements ``AlipayApi``)."""

    def __init__(
        self, gateway: SandboxGateway, apps: Iterable[SandboxAlipayApp], *, channel: str = CHANNEL
    ) -> None:
        self.gateway = gateway
        self.channel = channel
        self.apps = {app.app_id: app for app in apps}
        self.trades: dict[str, _Trade] = {}
        self.requests: list[Mapping[str, str]] = []
        gateway.register(channel, self.notification)

    def execute(self, params: Mapping[str, str]) -> Mapping[str, Any]:
        self.requests.append(dict(params))
        app = self.apps.get(params.get("app_id", ""))
        if app is None:
            return {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id"}
        if not verify_request(params, app.app_key.public_key()):
            return {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-signature",
                "sub_msg": "验签出错",
            }
        methods: dict[str, Callable[[SandboxAlipayApp, dict[str, Any], str], dict[str, Any]]] = {
            "alipay.trade.create": self._create,
            "alipay.trade.query": self._query,
            "alipay.trade.refund": self._refund,
            "alipay.trade.close": self._close,
        }
        handler = methods.get(params.get("method", ""))
        if handler is None:
            return {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-method"}
        biz = json.loads(params.get("biz_content") or "{}")
        return handler(app, biz, params.get("notify_url", ""))

    def _trade(self, app: SandboxAlipayApp, biz: Mapping[str, Any]) -> _Trade | None:
        trade = self.trades.get(str(biz.get("out_trade_no")))
        return trade if trade is not None and trade.app_id == app.app_id else None

    def _create(
        self, app: SandboxAlipayApp, biz: dict[str, Any], notify_url: str
    ) -> dict[str, Any]:
        order_no = str(biz.get("out_trade_no") or "")
        buyer = str(biz.get("buyer_id") or biz.get("buyer_open_id") or "")
        try:
            amount = parse_yuan(str(biz.get("total_amount")), field="total_amount")
        except InvalidInput as exc:
            return {"code": "40002", "msg": "Invalid Arguments", "sub_msg": exc.message}
        if not order_no or not buyer:
            return {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.missing-param"}
        trade = self.trades.get(order_no)
        if trade is None:
            now = self.gateway.clock.now()
            digest = int(hashlib.sha256(order_no.encode()).hexdigest()[:12], 16)
            trade = _Trade(
                app.app_id,
                f"{now:%Y%m%d}22001{digest % 10**15:015d}",
                str(biz.get("subject") or ""),
                buyer,
                notify_url,
                now,
            )
            self.trades[order_no] = trade
            self.gateway.open(self.channel, order_no, amount, buyer)
        return {
            "code": SUCCESS_CODE,
            "msg": "Success",
            "out_trade_no": order_no,
            "trade_no": trade.trade_no,
        }

    def _query(self, app: SandboxAlipayApp, biz: dict[str, Any], _url: str) -> dict[str, Any]:
        trade = self._trade(app, biz)
        remote = self.gateway.query(self.channel, str(biz.get("out_trade_no")))
        if trade is None or remote is None:
            return _business_error("ACQ.TRADE_NOT_EXIST", "交易不存在")
        answer = {
            "code": SUCCESS_CODE,
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": remote.order_no,
            "buyer_user_id": trade.buyer,
            "trade_status": _TRADE_STATUS[remote.state],
            "total_amount": format_yuan(remote.paid_fen or remote.amount_fen),
        }
        if remote.paid_at is not None:
            answer["send_pay_date"] = alipay_time(remote.paid_at)
        return answer

    def _refund(self, app: SandboxAlipayApp, biz: dict[str, Any], _url: str) -> dict[str, Any]:
        trade = self._trade(app, biz)
        if trade is None:
            return _business_error("ACQ.TRADE_NOT_EXIST", "交易不存在")
        order_no = str(biz.get("out_trade_no"))
        amount = parse_yuan(str(biz.get("refund_amount")), field="refund_amount")
        refund_id, decline = self.gateway.refund(
            self.channel, order_no, str(biz.get("out_request_no")), amount
        )
        if refund_id is None:
            code, message = _REFUND_REFUSALS.get(
                decline, ("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            )
            return _business_error(code, message)
        remote = self.gateway.query(self.channel, order_no)
        if remote is None:
            raise InvariantViolated("remote is missing")
        return {
            "code": SUCCESS_CODE,
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": order_no,
            "fund_change": "Y",
            "refund_fee": format_yuan(remote.refunded_fen),
            "gmt_refund_pay": alipay_time(self.gateway.clock.now()),
        }

    def _close(self, app: SandboxAlipayApp, biz: dict[str, Any], _url: str) -> dict[str, Any]:
        trade = self._trade(app, biz)
        if trade is None:
            return _business_error("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if not self.gateway.close(self.channel, str(biz.get("out_trade_no"))):
            return _business_error("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        return {"code": SUCCESS_CODE, "msg": "Success", "trade_no": trade.trade_no}

    def notification(
        self, remote: RemoteOrder, send_time: datetime
    ) -> tuple[dict[str, str], bytes]:
        """The gateway's builder: a ``trade_status_sync`` form signed with Alipay's key."""
        trade = self.trades[remote.order_no]
        app = self.apps[trade.app_id]
        paid = format_yuan(remote.paid_fen)
        notify_id = hashlib.sha256(f"{remote.order_no}:{send_time}".encode()).hexdigest()[:34]
        params = {
            "notify_time": alipay_time(send_time),
            "notify_type": "trade_status_sync",
            "notify_id": notify_id,
            "app_id": app.app_id,
            "version": "1.0",
            "trade_no": trade.trade_no,
            "out_trade_no": remote.order_no,
            "buyer_id": trade.buyer,
            "seller_id": app.seller_id,
            "trade_status": _TRADE_STATUS[remote.state],
            "total_amount": paid,
            "receipt_amount": paid,
            "buyer_pay_amount": paid,
            "subject": trade.subject,
            "gmt_create": alipay_time(trade.created_at),
            "gmt_payment": alipay_time(remote.paid_at or send_time),
        }
        body = signed_notification_form(params, app.alipay_key)
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body
