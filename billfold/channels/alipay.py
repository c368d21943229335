"""Alipay mini-program payments: the ``alipay`` channel.

``start`` creates the trade with ``alipay.trade.create`` (product ``JSAPI_PAY``, the payer's
``buyer_id`` or ``buyer_open_id``), a request signed RSA2 with the biller's app private key,
and hands the mini-program the ``tradeNO`` for ``my.tradePay``. ``parse_notification``
reads the form (:func:`~billfold.channels.alipay_rsa2.parse_form`), picks the Alipay public
key of the notification's ``app_id``, verifies RSA2 over the sorted ``key=value`` string
without ``sign`` and ``sign_type``, then compares ``app_id``, ``seller_id`` and
``out_trade_no`` with the order's biller configuration and ``total_amount`` with the order.

The same rule as :mod:`billfold.channels.wechatpay`: what cannot be trusted (a bad
signature — a forged amount lands here — or an unreadable form) is rejected; a verified
notification for another app or seller is rejected (a configuration fault: Alipay retries
for 25 hours); a verified notification whose ``total_amount`` differs from the order is a
fact that Alipay took that money, so it goes to the core, which holds it for review.
Alipay notifications carry no freshness window or nonce; a replay of a genuine one is a
duplicate the core absorbs (unique ``(channel, trade_no)``).

Replies: ``success`` (plain text) when accepted, ``failure`` otherwise (Alipay retries).
Requests to Alipay's OpenAPI (the app's keys, RSA2 request signing, Alipay's time format)
live in :mod:`billfold.channels.alipay_openapi`, re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog

from billfold.channels.alipay_openapi import (
    SHANGHAI,
    TIME_FORMAT,
    AlipayApi,
    AlipayApp,
    alipay_time,
    load_app,
    request_content,
    signed_request,
    verify_request,
)
from billfold.channels.alipay_rsa2 import (
    AlipayTradeStatus,
    check_trade,
    parse_form,
    trade_status,
    verify_notification,
)
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
from billfold.channels.secrets import (
    MerchantDirectory,
    OrderSettings,
    Secrets,
)
from billfold.channels.verification import (
    NotificationRejected,
)
from billfold.clock import Clock
from billfold.errors import ChannelError, ConfigurationError, InvalidInput, NotFound
from billfold.money import format_yuan, parse_yuan

__all__ = [
    "CHANNEL",
    "AlipayApi",
    "AlipayApp",
    "AlipayChannel",
    "AlipayCheck",
    "alipay_time",
    "load_app",
    "request_content",
    "signed_request",
    "verify_request",
]

CHANNEL = "alipay"
SUCCESS_CODE = "10000"
_BUYER_ID = re.compile(r"^2088[0-9]{12}$")
log = structlog.get_logger("billfold.channels")


class AlipayCheck(StrEnum):
    """Why a verified Alipay notification was still refused (beside ``AlipayReason``)."""

    BAD_NOTIFICATION = "bad_notification"
    UNKNOWN_APP = "unknown_app"
    MERCHANT_NOT_CONFIGURED = "merchant_not_configured"
    APP_MISMATCH = "app_id_mismatch"
    SELLER_MISMATCH = "seller_mismatch"
    ORDER_MISMATCH = "order_mismatch"
    TRADE_NOT_FINAL = "trade_not_final"
    UNKNOWN_REFUND = "unknown_refund"
    REFUND_MISMATCH = "refund_mismatch"


_IDENTITY_REASONS = {
    "app_id": AlipayCheck.APP_MISMATCH,
    "seller_id": AlipayCheck.SELLER_MISMATCH,
    "out_trade_no": AlipayCheck.ORDER_MISMATCH,
}
_REMOTE_STATES = {
    AlipayTradeStatus.WAIT_BUYER_PAY: RemoteState.PENDING,
    AlipayTradeStatus.TRADE_CLOSED: RemoteState.CLOSED,
    AlipayTradeStatus.TRADE_SUCCESS: RemoteState.PAID,
    AlipayTradeStatus.TRADE_FINISHED: RemoteState.PAID,
}
_REFUND_DECLINES = {
    "ACQ.SELLER_BALANCE_NOT_ENOUGH": Decline.INSUFFICIENT_FUNDS,
    "ACQ.TRADE_NOT_EXIST": Decline.NOT_FOUND,
    "ACQ.TRADE_HAS_CLOSE": Decline.ALREADY_CLOSED,
    "ACQ.BUYER_ERROR": Decline.ACCOUNT_CLOSED,  # 买家状态非法: the buyer's account is closed
    # 交易已完结: past the refund window signed with Alipay (three months by default)
    "ACQ.TRADE_HAS_FINISHED": Decline.REFUND_WINDOW_CLOSED,
    "ACQ.SYSTEM_ERROR": Decline.CHANNEL_UNAVAILABLE,
}


def _parse_time(text: str | None) -> datetime | None:
    try:
        return datetime.strptime(text or "", TIME_FORMAT).replace(tzinfo=SHANGHAI)
    except ValueError:
        return None


def _reject(reason: str, message: str) -> NotificationRejected:
    return NotificationRejected(reason, message)


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise _reject(AlipayCheck.BAD_NOTIFICATION, f"{name} is missing")
    return value


def _yuan(params: Mapping[str, str], name: str) -> int:
    try:
        return parse_yuan(_required(params, name), field=name)
    except InvalidInput as exc:
        raise _reject(AlipayCheck.BAD_NOTIFICATION, exc.message) from None


def _failure(method: str, answer: Mapping[str, Any]) -> str:
    parts = (answer.get(k) for k in ("code", "msg", "sub_code", "sub_msg"))
    return f"Alipay {method}: " + " ".join(str(p) for p in parts if p)


class AlipayChannel:
    """The ``alipay`` channel: one instance serves every biller and app."""

    def __init__(
        self,
        secrets: Secrets,
        engine: ChannelHost,
        clock: Clock,
        api: AlipayApi,
        *,
        notify_url: str,
        name: str = CHANNEL,
    ) -> None:
        self.secrets = secrets
        self.engine = engine
        self.clock = clock
        self.api = api
        self.notify_url = notify_url
        self._name = name
        self.apps: MerchantDirectory[AlipayApp] = MerchantDirectory(
            engine, name, self._load, lambda app: [app.app_id]
        )

    @property
    def name(self) -> str:
        return self._name

    def _load(self, biller_code: str, settings: Mapping[str, Any]) -> AlipayApp:
        return load_app(
            self.secrets, settings, where=f"{self.name} settings of biller {biller_code}"
        )

    def _app_for(self, order_no: str) -> AlipayApp:
        found = self.apps.settings_for_order(order_no)
        if found.order is None or found.biller_code is None:
            raise NotFound(f"order {order_no!r} does not exist")
        if found.settings is None:
            raise ConfigurationError(f"biller {found.biller_code} has no {self.name} app")
        return self.apps.remember(self._load(found.biller_code, found.settings))

    def _call(self, app: AlipayApp, method: str, biz: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.api.execute(signed_request(app, method, biz, self.clock.now()))

    # -- collecting ---------------------------------------------------------------------------
    def start(self, request: CollectRequest) -> CollectStart:
        app = self.apps.remember(self._load(request.biller_code, request.settings))
        buyer = request.payer_ref
        if not buyer:
            raise InvalidInput("payer_ref: Alipay mini-program payments need the buyer's id")
        if request.currency != "CNY":
            raise InvalidInput(f"currency: Alipay collects CNY only, not {request.currency}")
        biz = {
            "out_trade_no": request.order_no,
            "total_amount": format_yuan(request.amount_fen),
            "subject": (request.description or request.biller_name)[:256],
            "product_code": "JSAPI_PAY",
            "time_expire": alipay_time(request.expires_at),
            ("buyer_id" if _BUYER_ID.match(buyer) else "buyer_open_id"): buyer,
        }
        notify_url = str(request.settings.get("notify_url") or self.notify_url)
        params = signed_request(
            app, "alipay.trade.create", biz, self.clock.now(), notify_url=notify_url
        )
        answer = self.api.execute(params)
        trade_no = answer.get("trade_no")
        if answer.get("code") != SUCCESS_CODE or not isinstance(trade_no, str) or not trade_no:
            raise ChannelError(_failure("alipay.trade.create", answer))
        return CollectStart(self.name, request.order_no, "invoke_wallet", {"tradeNO": trade_no})

    # -- notifications ------------------------------------------------------------------------
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelEvent:
        params, app = self._verified(body)
        try:
            status = trade_status(params)
        except InvalidInput as exc:
            raise _reject(AlipayCheck.BAD_NOTIFICATION, exc.message) from None
        if params.get("out_biz_no") and params.get("refund_fee"):
            return self._refund_event(params, app)
        order_no = _required(params, "out_trade_no")
        found = self.apps.settings_for_order(order_no)
        self._check_app(found, app, params)
        self._check_trade(found, params, order_no)
        if status is AlipayTradeStatus.WAIT_BUYER_PAY:
            raise _reject(
                AlipayCheck.TRADE_NOT_FINAL,
                f"trade_status WAIT_BUYER_PAY for {order_no}: nothing has been paid yet",
            )
        notified = _parse_time(params.get("notify_time")) or self.clock.now()
        return ChannelEvent(
            channel=self.name,
            kind=EventKind.PAID if status.is_paid else EventKind.CLOSED,
            order_no=order_no,
            channel_txn_id=_required(params, "trade_no"),
            amount_fen=_yuan(params, "total_amount"),
            occurred_at=_parse_time(params.get("gmt_payment")) or notified,
            detail=status.value,
        )

    def _verified(self, body: bytes) -> tuple[dict[str, str], AlipayApp]:
        """The notification's parameters and the app it names, its RSA2 signature checked
        with that app's Alipay public key."""
        try:
            params = parse_form(body)
        except InvalidInput as exc:
            raise _reject(AlipayCheck.BAD_NOTIFICATION, f"unreadable form: {exc.message}") from None
        app_id = params.get("app_id", "")
        app = self.apps.find(app_id) if app_id else None
        if app is None:
            known = ", ".join(sorted(self.apps.known())) or "none configured"
            raise _reject(
                AlipayCheck.UNKNOWN_APP,
                f"app_id {app_id!r} is not the Alipay app of any biller (known: {known})",
            )
        verify_notification(params, app.alipay_public_key)
        return params, app

    def _check_trade(self, found: OrderSettings, params: Mapping[str, str], order_no: str) -> None:
        """The trade against our order: a wrong app, seller or order is refused; a different
        amount is logged and left to the core, which holds the payment for review."""
        if found.order is None or found.settings is None:
            return
        mismatches = check_trade(
            params,
            app_id=str(found.settings.get("app_id")),
            seller_id=str(found.settings.get("merchant_id")),
            out_trade_no=found.order.order_no,
            total_fen=found.order.total_fen,
        )
        wrong = [m for m in mismatches if m.field in _IDENTITY_REASONS]
        if wrong:
            raise _reject(_IDENTITY_REASONS[wrong[0].field], "; ".join(map(str, wrong)))
        if mismatches:  # total_amount: a fact for the core to hold for review
            log.warning(
                "alipay notification differs from the order; the core will hold it",
                order_no=order_no,
                mismatches=[str(m) for m in mismatches],
            )

    def _check_app(self, found: OrderSettings, app: AlipayApp, params: Mapping[str, str]) -> None:
        if found.order is not None and found.settings is None:
            raise _reject(
                AlipayCheck.MERCHANT_NOT_CONFIGURED,
                f"order {found.order.order_no} belongs to biller {found.biller_code}, "
                f"which has no {self.name} app configured",
            )
        settings = found.settings or {}
        expected_app = settings.get("app_id", app.app_id)
        if expected_app != app.app_id:
            raise _reject(
                AlipayCheck.APP_MISMATCH,
                f"app_id: the notification is for app {app.app_id}, but biller "
                f"{found.biller_code} collects through app {expected_app}",
            )
        expected_seller = settings.get("merchant_id", app.seller_id)
        if params.get("seller_id") != expected_seller:
            raise _reject(
                AlipayCheck.SELLER_MISMATCH,
                f"seller_id: expected {expected_seller!r}, got {params.get('seller_id')!r}",
            )

    def _refund_event(self, params: Mapping[str, str], app: AlipayApp) -> ChannelEvent:
        """A trade notification after a refund: ``out_biz_no`` is the refund request number,
        ``refund_fee`` the trade's total refunded so far."""
        refund_no = params["out_biz_no"]
        order_no = _required(params, "out_trade_no")
        with self.engine.uow() as uow:
            refund = uow.refunds.get_by_no(refund_no)
            payment = uow.payments.get(refund.payment_id) if refund is not None else None
        if refund is None or payment is None:
            raise _reject(
                AlipayCheck.UNKNOWN_REFUND, f"refund {refund_no!r} was not asked for by billfold"
            )
        self._check_app(self.apps.settings_for_order(order_no), app, params)
        refunded = _yuan(params, "refund_fee")
        problems = [
            f"{what}: expected {want}, got {got!r}"
            for what, want, got, bad in (
                ("channel", self.name, payment.channel, payment.channel != self.name),
                ("out_trade_no", payment.order_no, order_no, payment.order_no != order_no),
                (
                    "refund_fee",
                    f"at least {refund.amount_fen}",
                    refunded,
                    refunded < refund.amount_fen,
                ),
            )
            if bad
        ]
        if problems:
            raise _reject(
                AlipayCheck.REFUND_MISMATCH, f"refund {refund_no}: " + "; ".join(problems)
            )
        when = _parse_time(params.get("gmt_refund")) or self.clock.now()
        return ChannelEvent(
            channel=self.name,
            kind=EventKind.REFUNDED,
            order_no=order_no,
            channel_txn_id=_required(params, "trade_no"),
            amount_fen=refund.amount_fen,
            occurred_at=when,
            refund_no=refund_no,
            detail=f"refund_fee {params['refund_fee']} in all",
        )

    def reply(self, accepted: bool, message: str = "") -> NotificationReply:
        if accepted:
            return NotificationReply(200, "text/plain; charset=utf-8", b"success")
        return NotificationReply(400, "text/plain; charset=utf-8", b"failure")

    # -- after the fact -----------------------------------------------------------------------
    def query(self, order_no: str) -> StatusAnswer:
        raw = self._call(self._app_for(order_no), "alipay.trade.query", {"out_trade_no": order_no})
        answer = {key: value for key, value in raw.items() if isinstance(value, str)}
        if answer.get("code") != SUCCESS_CODE:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return StatusAnswer(RemoteState.NOT_FOUND)
            raise ChannelError(_failure("alipay.trade.query", answer))
        if answer.get("out_trade_no") != order_no:
            raise ChannelError(
                f"Alipay answered a query for {order_no} about {answer.get('out_trade_no')!r}"
            )
        try:
            status = trade_status(answer)
            state = _REMOTE_STATES[status]
            if state is not RemoteState.PAID:
                return StatusAnswer(state)
            event = ChannelEvent(
                channel=self.name,
                kind=EventKind.PAID,
                order_no=order_no,
                channel_txn_id=_required(answer, "trade_no"),
                amount_fen=_yuan(answer, "total_amount"),
                occurred_at=_parse_time(answer.get("send_pay_date")) or self.clock.now(),
                detail=status.value,
            )
        except (InvalidInput, NotificationRejected) as exc:
            raise ChannelError(f"Alipay query for {order_no}: {exc.message}") from None
        return StatusAnswer(state, event)

    def refund(
        self, refund_no: str, order_no: str, channel_txn_id: str, amount_fen: int, total_fen: int
    ) -> RefundAnswer:
        try:
            app = self._app_for(order_no)
        except (NotFound, ConfigurationError) as exc:
            return RefundAnswer(False, decline=Decline.NOT_FOUND, message=exc.message)
        biz = {
            "out_trade_no": order_no,
            "refund_amount": format_yuan(amount_fen),
            "out_request_no": refund_no,
        }
        answer = self._call(app, "alipay.trade.refund", biz)
        if answer.get("code") == SUCCESS_CODE:
            return RefundAnswer(True, channel_refund_id=str(answer.get("trade_no") or "") or None)
        decline = _REFUND_DECLINES.get(str(answer.get("sub_code")), Decline.REJECTED)
        return RefundAnswer(False, decline=decline, message=_failure("alipay.trade.refund", answer))

    def close(self, order_no: str) -> bool:
        answer = self._call(
            self._app_for(order_no), "alipay.trade.close", {"out_trade_no": order_no}
        )
        return answer.get("code") == SUCCESS_CODE
