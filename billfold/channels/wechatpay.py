"""WeChat Pay (API v3) mini-program payments: the ``wechatpay`` channel.

``start`` asks WeChat Pay for a JSAPI prepay (``/v3/pay/transactions/jsapi``) and hands the
mini-program the ``wx.requestPayment`` parameters, signed with the merchant's key.
``parse_notification`` verifies a callback exactly per the public spec (see
:mod:`billfold.channels.wechatpay_v3`): the platform key is chosen by ``Wechatpay-Serial``
(which also tells which merchant's APIv3 key decrypts the resource), the timestamp must be
within 5 minutes, and the nonce must be new — nonces are kept in the database through
``Engine.remember_nonce``. The decrypted transaction is then compared with the stored order
and the biller's channel configuration.

What is rejected and what is not — the rule this module follows:

* **Content that cannot be trusted is rejected** (:class:`NotificationRejected`, nothing
  changes): a bad or tampered signature (a forged amount lands here), a stale timestamp, a
  replayed nonce, an unknown serial, an undecryptable resource.
* **A verified notification about the wrong merchant is rejected**: an ``appid`` or ``mchid``
  that is not the order's biller's, or a platform key of another merchant. That is a
  configuration fault; WeChat Pay retries for 24 hours, long enough to fix it.
* **A verified notification with the wrong amount is NOT rejected.** It is a signed fact
  that WeChat Pay took that money; refusing it would only make WeChat Pay give up after
  24 hours and the money would be nowhere in the books ("nothing is lost"). It goes to the
  core, which keeps the payment in suspense, held for a person to review, and credits
  nothing. The same holds for the currency and for order numbers billfold never issued.

Replies follow the spec: 204 without a body on success, 4xx with
``{"code": "FAIL", "message": ...}`` on rejection (WeChat Pay then retries).

The merchant's keys and the remote API (prepay, query, refund, close), the small
:class:`WechatPayApi` Protocol, live in :mod:`billfold.channels.wechatpay_merchant`:
:class:`billfold.testing.sandbox.wechatpay.SandboxWechatPay` plays WeChat Pay for tests and
the demo; a production client signs requests and verifies the signed answers itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog

from billfold.channels.base import (
    ChannelEvent,
    CollectRequest,
    CollectStart,
    Decline,
    EventKind,
    NotificationReply,
    RefundAnswer,
    RemoteState,
    StatusAnswer,
)
from billfold.channels.ports import ChannelHost
from billfold.channels.secrets import MerchantDirectory, OrderSettings, Secrets, text_setting
from billfold.channels.verification import NotificationRejected
from billfold.channels.wechatpay_merchant import (
    WechatPayApi,
    WechatPayMerchant,
    load_merchant,
    rfc3339,
)
from billfold.channels.wechatpay_v3 import (
    WechatPayNotification,
    WechatPayReason,
    check_transaction,
    mini_program_pay_params,
    verify_notification,
)
from billfold.clock import Clock
from billfold.errors import ChannelError, ConfigurationError, InvalidInput, NotFound

__all__ = [
    "CHANNEL",
    "WechatPayApi",
    "WechatPayChannel",
    "WechatPayCheck",
    "WechatPayMerchant",
    "load_merchant",
    "rfc3339",
]

CHANNEL = "wechatpay"
log = structlog.get_logger("billfold.channels")


class WechatPayCheck(StrEnum):
    """Why a verified notification was still refused (beside :class:`WechatPayReason`)."""

    MERCHANT_MISMATCH = "merchant_mismatch"
    APPID_MISMATCH = "appid_mismatch"
    ORDER_MISMATCH = "order_mismatch"
    MERCHANT_NOT_CONFIGURED = "merchant_not_configured"
    UNKNOWN_REFUND = "unknown_refund"
    REFUND_MISMATCH = "refund_mismatch"
    UNSUPPORTED_EVENT = "unsupported_event"
    UNEXPECTED_TRADE_STATE = "unexpected_trade_state"
    BAD_RESOURCE = "bad_resource"


_IDENTITY_REASONS = {
    "mchid": WechatPayCheck.MERCHANT_MISMATCH,
    "appid": WechatPayCheck.APPID_MISMATCH,
    "out_trade_no": WechatPayCheck.ORDER_MISMATCH,
}
#: trade_state in a notification → what happened (NOTPAY/USERPAYING are never notified)
_NOTIFIED_STATES = {
    "SUCCESS": EventKind.PAID,
    "CLOSED": EventKind.CLOSED,
    "REVOKED": EventKind.CLOSED,
    "PAYERROR": EventKind.FAILED,
}
#: trade_state in a query answer → the order's remote state (REFUND: paid, then refunded)
_QUERIED_STATES = {
    "SUCCESS": RemoteState.PAID,
    "REFUND": RemoteState.PAID,
    "NOTPAY": RemoteState.PENDING,
    "USERPAYING": RemoteState.PENDING,
    "CLOSED": RemoteState.CLOSED,
    "REVOKED": RemoteState.CLOSED,
    "PAYERROR": RemoteState.FAILED,
}
#: refund error codes (HTTP 4xx/5xx answers) → declines
_REFUND_DECLINES = {
    "NOT_ENOUGH": Decline.INSUFFICIENT_FUNDS,
    "RESOURCE_NOT_EXISTS": Decline.NOT_FOUND,
    "ORDER_NOT_EXIST": Decline.NOT_FOUND,
    # 用户账户异常或已注销，不能原路退回，请使用其他方式进行退款
    "USER_ACCOUNT_ABNORMAL": Decline.ACCOUNT_CLOSED,
    "SYSTEM_ERROR": Decline.CHANNEL_UNAVAILABLE,
    "FREQUENCY_LIMITED": Decline.CHANNEL_UNAVAILABLE,
}


#: WeChat Pay refuses a refund past its window (one year after payment) with INVALID_REQUEST
#: and this message; INVALID_REQUEST says nothing more by itself.
_WINDOW_CLOSED_TEXT = "超过一年"


def _refund_decline(code: str, message: str) -> Decline:
    if code == "INVALID_REQUEST" and _WINDOW_CLOSED_TEXT in message:
        return Decline.REFUND_WINDOW_CLOSED
    return _REFUND_DECLINES.get(code, Decline.REJECTED)


def _reject(reason: str, message: str) -> NotificationRejected:
    return NotificationRejected(reason, message)


def _text(resource: Mapping[str, Any], name: str) -> str:
    value = resource.get(name)
    if not isinstance(value, str) or not value:
        raise _reject(WechatPayCheck.BAD_RESOURCE, f"resource.{name} is missing or not a string")
    return value


def _fen(resource: Mapping[str, Any], name: str) -> int:
    amount = resource.get("amount")
    value = amount.get(name) if isinstance(amount, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _reject(WechatPayCheck.BAD_RESOURCE, f"resource.amount.{name} is not fen above 0")
    return value


def _time(resource: Mapping[str, Any], name: str) -> datetime:
    text = _text(resource, name)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise _reject(WechatPayCheck.BAD_RESOURCE, f"resource.{name} {text!r} is not RFC 3339")
    return value


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v.strip() for k, v in headers.items() if k.lower() == name.lower()), "")


class WechatPayChannel:
    """The ``wechatpay`` channel: one instance serves every biller and merchant."""

    def __init__(
        self,
        secrets: Secrets,
        engine: ChannelHost,
        clock: Clock,
        api: WechatPayApi,
        *,
        notify_url: str,
        name: str = CHANNEL,
        max_skew: timedelta = timedelta(minutes=5),
    ) -> None:
        self.secrets = secrets
        self.engine = engine
        self.clock = clock
        self.api = api
        self.notify_url = notify_url
        self._name = name
        self.max_skew = max_skew
        self.merchants: MerchantDirectory[WechatPayMerchant] = MerchantDirectory(
            engine, name, self._load, lambda merchant: merchant.platform_keys
        )

    @property
    def name(self) -> str:
        return self._name

    def _load(self, biller_code: str, settings: Mapping[str, Any]) -> WechatPayMerchant:
        where = f"{self.name} settings of biller {biller_code}"
        return load_merchant(self.secrets, settings, where=where)

    def _merchant_for(self, order_no: str) -> tuple[OrderSettings, WechatPayMerchant]:
        found = self.merchants.settings_for_order(order_no)
        if found.order is None or found.biller_code is None:
            raise NotFound(f"order {order_no!r} does not exist")
        if found.settings is None:
            raise ConfigurationError(f"biller {found.biller_code} has no {self.name} merchant")
        return found, self.merchants.remember(self._load(found.biller_code, found.settings))

    # -- collecting ---------------------------------------------------------------------------
    def start(self, request: CollectRequest) -> CollectStart:
        where = f"{self.name} settings of biller {request.biller_code}"
        appid = text_setting(request.settings, "app_id", where)
        merchant = self.merchants.remember(self._load(request.biller_code, request.settings))
        if not request.payer_ref:
            raise InvalidInput(
                "payer_ref: WeChat Pay mini-program payments need the payer's openid"
            )
        if request.currency != "CNY":
            raise InvalidInput(f"currency: WeChat Pay collects CNY only, not {request.currency}")
        prepay_id = self.api.create_prepay(
            appid=appid,
            mchid=merchant.mchid,
            out_trade_no=request.order_no,
            amount=request.amount_fen,
            description=(request.description or request.biller_name)[:127],
            payer_openid=request.payer_ref,
            notify_url=str(request.settings.get("notify_url") or self.notify_url),
            time_expire=rfc3339(request.expires_at),
        )
        params = mini_program_pay_params(
            appid, prepay_id, merchant.private_key, self.clock.now(), os.urandom(16).hex()
        )
        return CollectStart(self.name, request.order_no, "invoke_wallet", params)

    # -- notifications ------------------------------------------------------------------------
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelEvent:
        now = self.clock.now()
        serial = _header(headers, "Wechatpay-Serial")
        merchant = self.merchants.find(serial) if serial else None
        if merchant is None:  # the verifier names what is wrong: a missing header, the serial
            known = {
                s: k for m in self.merchants.known().values() for s, k in m.platform_keys.items()
            }
            verify_notification(headers, body, known, bytes(32), now, max_skew=self.max_skew)
            raise _reject(WechatPayReason.UNKNOWN_SERIAL, f"unknown Wechatpay-Serial {serial!r}")
        note = verify_notification(
            headers,
            body,
            merchant.platform_keys,
            merchant.api_v3_key,
            now,
            max_skew=self.max_skew,
            nonce_seen=lambda nonce: self.engine.remember_nonce(self.name, nonce),
        )
        if note.event_type.startswith("TRANSACTION."):
            return self._payment_event(note, merchant)
        if note.event_type.startswith("REFUND."):
            return self._refund_event(note, merchant)
        raise _reject(
            WechatPayCheck.UNSUPPORTED_EVENT,
            f"event_type {note.event_type!r} is neither a payment nor a refund notification",
        )

    def _check_merchant(
        self, found: OrderSettings, merchant: WechatPayMerchant, resource: Mapping[str, Any]
    ) -> None:
        if found.order is not None and found.settings is None:
            raise _reject(
                WechatPayCheck.MERCHANT_NOT_CONFIGURED,
                f"order {found.order.order_no} belongs to biller {found.biller_code}, "
                f"which has no {self.name} merchant configured",
            )
        expected = found.settings.get("merchant_id") if found.settings else merchant.mchid
        if expected != merchant.mchid:
            raise _reject(
                WechatPayCheck.MERCHANT_MISMATCH,
                f"signed with the platform key of merchant {merchant.mchid}, but biller "
                f"{found.biller_code} collects through merchant {expected}",
            )
        if resource.get("mchid") != merchant.mchid:
            raise _reject(
                WechatPayCheck.MERCHANT_MISMATCH,
                f"mchid: expected {merchant.mchid!r}, got {resource.get('mchid')!r}",
            )

    def _payment_event(
        self, note: WechatPayNotification, merchant: WechatPayMerchant
    ) -> ChannelEvent:
        resource = note.resource
        found = self.merchants.settings_for_order(_text(resource, "out_trade_no"))
        self._check_merchant(found, merchant, resource)
        if found.order is not None and found.settings is not None:
            mismatches = check_transaction(
                resource,
                appid=str(found.settings.get("app_id")),
                mchid=merchant.mchid,
                out_trade_no=found.order.order_no,
                total_fen=found.order.total_fen,
                currency=found.order.currency,
            )
            wrong = [m for m in mismatches if m.field in _IDENTITY_REASONS]
            if wrong:
                raise _reject(_IDENTITY_REASONS[wrong[0].field], "; ".join(map(str, wrong)))
            if mismatches:  # amount or currency: a fact for the core to hold for review
                log.warning(
                    "wechatpay notification differs from the order; the core will hold it",
                    order_no=found.order.order_no,
                    mismatches=[str(m) for m in mismatches],
                )
        kind = _NOTIFIED_STATES.get(str(resource.get("trade_state")))
        if kind is None:
            raise _reject(
                WechatPayCheck.UNEXPECTED_TRADE_STATE,
                f"trade_state {resource.get('trade_state')!r} is not a notified outcome",
            )
        return self._transaction_event(resource, kind, note.signed_at)

    def _transaction_event(
        self, resource: Mapping[str, Any], kind: EventKind, fallback_time: datetime
    ) -> ChannelEvent:
        paid = kind is EventKind.PAID
        amount = resource.get("amount")
        currency = amount.get("currency") if isinstance(amount, Mapping) else None
        return ChannelEvent(
            channel=self.name,
            kind=kind,
            order_no=_text(resource, "out_trade_no"),
            channel_txn_id=_text(resource, "transaction_id") if paid else "",
            amount_fen=_fen(resource, "total") if paid else 0,
            occurred_at=_time(resource, "success_time") if paid else fallback_time,
            currency=currency if isinstance(currency, str) and currency else "CNY",
            detail=str(resource.get("trade_state_desc") or resource.get("trade_state")),
        )

    def _refund_event(
        self, note: WechatPayNotification, merchant: WechatPayMerchant
    ) -> ChannelEvent:
        resource = note.resource
        refund_no = _text(resource, "out_refund_no")
        order_no = _text(resource, "out_trade_no")
        with self.engine.uow() as uow:
            refund = uow.refunds.get_by_no(refund_no)
            payment = uow.payments.get(refund.payment_id) if refund is not None else None
        if refund is None or payment is None:
            raise _reject(
                WechatPayCheck.UNKNOWN_REFUND, f"refund {refund_no!r} was not asked for by billfold"
            )
        self._check_merchant(self.merchants.settings_for_order(order_no), merchant, resource)
        amount = _fen(resource, "refund")
        problems = [
            f"{what}: expected {want!r}, got {got!r}"
            for what, want, got in (
                ("channel", self.name, payment.channel),
                ("out_trade_no", payment.order_no, order_no),
                ("amount.refund", refund.amount_fen, amount),
            )
            if want != got
        ]
        if problems:
            raise _reject(
                WechatPayCheck.REFUND_MISMATCH, f"refund {refund_no}: " + "; ".join(problems)
            )
        succeeded = (
            note.event_type == "REFUND.SUCCESS" and resource.get("refund_status") == "SUCCESS"
        )
        when = _time(resource, "success_time") if succeeded else note.signed_at
        return ChannelEvent(
            channel=self.name,
            kind=EventKind.REFUNDED if succeeded else EventKind.REFUND_FAILED,
            order_no=order_no,
            channel_txn_id=_text(resource, "refund_id"),
            amount_fen=amount,
            occurred_at=when,
            refund_no=refund_no,
            detail=f"{note.event_type} {resource.get('refund_status')}",
            decline=Decline.CARD_CANCELLED if note.event_type == "REFUND.ABNORMAL" else None,
        )

    def reply(self, accepted: bool, message: str = "") -> NotificationReply:
        if accepted:
            return NotificationReply(204, "text/plain; charset=utf-8", b"")
        answer = {"code": "FAIL", "message": (message or "失败")[:64]}
        body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        return NotificationReply(400, "application/json; charset=utf-8", body)

    # -- after the fact -----------------------------------------------------------------------
    def query(self, order_no: str) -> StatusAnswer:
        found, merchant = self._merchant_for(order_no)
        answer = self.api.query(merchant.mchid, order_no)
        if answer is None:
            return StatusAnswer(RemoteState.NOT_FOUND)
        for field, expected in (
            ("mchid", merchant.mchid),
            ("appid", found.settings and found.settings.get("app_id")),
            ("out_trade_no", order_no),
        ):
            if answer.get(field) != expected:
                raise ChannelError(
                    f"WeChat Pay answered a query for {order_no} with {field} "
                    f"{answer.get(field)!r}, expected {expected!r}"
                )
        state = _QUERIED_STATES.get(str(answer.get("trade_state")))
        if state is None:
            raise ChannelError(f"WeChat Pay trade_state {answer.get('trade_state')!r} is unknown")
        if state is not RemoteState.PAID:
            return StatusAnswer(state)
        try:
            event = self._transaction_event(answer, EventKind.PAID, self.clock.now())
        except NotificationRejected as exc:
            raise ChannelError(f"WeChat Pay query for {order_no}: {exc.message}") from None
        return StatusAnswer(state, event)

    def refund(
        self, refund_no: str, order_no: str, channel_txn_id: str, amount_fen: int, total_fen: int
    ) -> RefundAnswer:
        try:
            found, merchant = self._merchant_for(order_no)
        except (NotFound, ConfigurationError) as exc:
            return RefundAnswer(False, decline=Decline.NOT_FOUND, message=exc.message)
        settings = found.settings or {}
        answer = self.api.refund(
            mchid=merchant.mchid,
            out_trade_no=order_no,
            out_refund_no=refund_no,
            refund=amount_fen,
            total=total_fen,
            notify_url=str(settings.get("notify_url") or self.notify_url),
        )
        if "code" in answer:
            code = str(answer["code"])
            decline = _refund_decline(code, str(answer.get("message") or ""))
            return RefundAnswer(False, decline=decline, message=f"{code}: {answer.get('message')}")
        status = answer.get("status")
        if status in ("SUCCESS", "PROCESSING"):
            # PROCESSING: WeChat pays it out later and says so in a REFUND.* notification
            return RefundAnswer(
                True, channel_refund_id=str(answer.get("refund_id")), final=status == "SUCCESS"
            )
        # ABNORMAL (退款异常): the payer's card is cancelled or frozen; the money cannot go back
        decline = Decline.CARD_CANCELLED if status == "ABNORMAL" else Decline.REJECTED
        return RefundAnswer(False, decline=decline, message=f"refund status {status}")

    def close(self, order_no: str) -> bool:
        _found, merchant = self._merchant_for(order_no)
        return self.api.close(merchant.mchid, order_no)
