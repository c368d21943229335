"""Channel notifications over HTTP: verified by the channel, confirmed exactly once through
the engine, answered in each channel's own format (WeChat Pay 204 / JSON FAIL, Alipay
plain success / failure)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import structlog
from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.adapters.http.auth import ApiState
from billfold.channels.alipay import AlipayChannel
from billfold.channels.base import Channel
from billfold.channels.collect import Collector
from billfold.channels.secrets import DictSecrets
from billfold.channels.wechatpay import WechatPayChannel
from billfold.clock import FixedClock
from billfold.testing.http import ApiClient
from billfold.testing.sandbox.alipay import SandboxAlipay, SandboxAlipayApp
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant, SandboxWechatPay

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
BUYER = "2088102177846880"
DOUBLES = Chaos(min_delay=timedelta(0), max_delay=timedelta(0), duplicate_rate=1.0)


@pytest.fixture(scope="module")
def merchant() -> SandboxWechatMerchant:
    return SandboxWechatMerchant.generate("1230000109", "wxd678efh567hg6787")


@pytest.fixture(scope="module")
def alipay_app() -> SandboxAlipayApp:
    return SandboxAlipayApp.generate("2021000117600001", "2088101117955611")


def install(api: ApiClient, name: str, channel: Channel) -> None:
    """Give the running app's collector a channel built on the app's own engine."""
    state: ApiState = api.app.state.billfold
    state.collector.channels[name] = channel


def wechatpay(
    api: ApiClient, clock: FixedClock, gateway: SandboxGateway, merchant: SandboxWechatMerchant
) -> WechatPayChannel:
    channel = WechatPayChannel(
        DictSecrets(merchant.secrets()),
        api.engine,
        clock,
        SandboxWechatPay(gateway, [merchant]),
        notify_url="https://pay.example.com/v1/notify/wechatpay",
    )
    install(api, "wechatpay", channel)
    return channel


def payments(api: ApiClient) -> int:
    with api.engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(t.payments)).scalar_one())


def test_a_wechat_notification_sent_twice_credits_once_and_is_answered_204_twice(
    api_with: Callable[..., ApiClient], clock: FixedClock, merchant: SandboxWechatMerchant
) -> None:
    gateway = SandboxGateway(clock, DOUBLES, seed=7)
    api = api_with()
    channel = wechatpay(api, clock, gateway, merchant)
    api.engine.set_channel_config("s1", merchant.config(), actor="ops", reason="onboarding")
    order = api.engine.create_order("s1", ["T1"])
    Collector(api.engine, {"wechatpay": channel}).start(
        order.order_no, "wechatpay", payer_ref=OPENID
    )
    gateway.pay("wechatpay", order.order_no)
    deliveries = gateway.due()
    assert len(deliveries) == 2
    answers = [
        api.client.post("/v1/notify/wechatpay", content=d.body, headers=dict(d.headers))
        for d in deliveries
    ]
    assert [(a.status_code, a.content) for a in answers] == [(204, b""), (204, b"")]
    assert payments(api) == 1
    assert api.engine.bill("s1", "T1").paid_fen == 1000
    assert api.engine.check_books() == []


def test_a_tampered_wechat_notification_is_answered_fail_and_changes_nothing(
    api_with: Callable[..., ApiClient], clock: FixedClock, merchant: SandboxWechatMerchant
) -> None:
    gateway = SandboxGateway(clock, Chaos.calm(), seed=7)
    api = api_with()
    channel = wechatpay(api, clock, gateway, merchant)
    api.engine.set_channel_config("s1", merchant.config(), actor="ops", reason="onboarding")
    order = api.engine.create_order("s1", ["T1"])
    Collector(api.engine, {"wechatpay": channel}).start(
        order.order_no, "wechatpay", payer_ref=OPENID
    )
    gateway.pay("wechatpay", order.order_no)
    delivery = gateway.due()[0]
    tampered = delivery.body.replace(b'"resource"', b'"resource" ', 1)
    answer = api.client.post(
        "/v1/notify/wechatpay", content=tampered, headers=dict(delivery.headers)
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(answer.content)["code"] == "FAIL"
    assert payments(api) == 0
    assert api.engine.bill("s1", "T1").paid_fen == 0


def _alipay_paid(
    api: ApiClient, clock: FixedClock, alipay_app: SandboxAlipayApp
) -> tuple[ApiClient, str, list[Any]]:
    """Bill T2 paid by Alipay in the sandbox: its order number and the gateway's two
    deliveries of the notification, not yet posted."""
    gateway = SandboxGateway(clock, DOUBLES, seed=11)
    channel = AlipayChannel(
        DictSecrets(alipay_app.secrets()),
        api.engine,
        clock,
        SandboxAlipay(gateway, [alipay_app]),
        notify_url="https://pay.example.com/v1/notify/alipay",
    )
    install(api, "alipay", channel)
    api.engine.set_channel_config("s1", alipay_app.config(), actor="ops", reason="onboarding")
    order = api.engine.create_order("s1", ["T2"])
    Collector(api.engine, {"alipay": channel}).start(order.order_no, "alipay", payer_ref=BUYER)
    gateway.pay("alipay", order.order_no)
    return api, order.order_no, list(gateway.due())


def test_an_alipay_notification_is_answered_success_then_failure_when_forged(
    api_with: Callable[..., ApiClient], clock: FixedClock, alipay_app: SandboxAlipayApp
) -> None:
    api, _, (first, second) = _alipay_paid(api_with(), clock, alipay_app)
    for delivery in (first, second):
        answer = api.client.post(
            "/v1/notify/alipay", content=delivery.body, headers=dict(delivery.headers)
        )
        assert (answer.status_code, answer.text) == (200, "success")
    assert payments(api) == 1 and api.engine.bill("s1", "T2").paid_fen == 2550
    forged = first.body.replace(b"total_amount=25.50", b"total_amount=0.01")
    answer = api.client.post("/v1/notify/alipay", content=forged, headers=dict(first.headers))
    assert (answer.status_code, answer.text) == (400, "failure")
    assert payments(api) == 1


def test_a_notification_for_a_channel_not_set_up_is_a_404_problem(api: ApiClient) -> None:
    answer = api.client.post("/v1/notify/nosuch", content=b"{}")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "channel 'nosuch' is not set up here"


def test_an_accepted_payment_is_logged_once_by_the_engine_with_the_request_id(
    api_with: Callable[..., ApiClient], clock: FixedClock, alipay_app: SandboxAlipayApp
) -> None:
    api, order_no, (first, second) = _alipay_paid(api_with(), clock, alipay_app)
    merge = structlog.contextvars.merge_contextvars  # as configure_logging() does
    with structlog.testing.capture_logs(processors=[merge]) as logs:
        for delivery, request_id in ((first, "notify-1"), (second, "notify-2")):
            headers = {**dict(delivery.headers), "X-Request-ID": request_id}
            answer = api.client.post("/v1/notify/alipay", content=delivery.body, headers=headers)
            assert (answer.status_code, answer.text) == (200, "success")
    info = [(e["event"], e.get("request_id")) for e in logs if e["log_level"] != "debug"]
    assert info == [
        ("payment confirmed", "notify-1"),
        ("request", "notify-1"),
        ("payment repeated", "notify-2"),
        ("request", "notify-2"),
    ]
    confirmed = next(e for e in logs if e["event"] == "payment confirmed")
    assert (confirmed["channel"], confirmed["order_no"]) == ("alipay", order_no)
