"""The alipay channel end to end on SQLite and PostgreSQL: RSA2-signed requests and
notifications through the sandbox, every rejection changing nothing, refunds and lost
notifications."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine, PaymentStatus
from billfold.adapters.db import schema as t
from billfold.channels.alipay import AlipayChannel, alipay_time, request_content, verify_request
from billfold.channels.alipay_rsa2 import signed_notification_form
from billfold.channels.base import EventKind, RemoteState
from billfold.channels.collect import Collector
from billfold.channels.secrets import DictSecrets
from billfold.channels.verification import NotificationRejected, rsa_sha256_sign
from billfold.clock import FixedClock
from billfold.collection.order import Order, OrderStatus
from billfold.collection.refund import RefundStatus
from billfold.errors import ChannelError, InvalidInput
from billfold.testing.sandbox.alipay import SandboxAlipay, SandboxAlipayApp
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway

BILLS = b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2024002,25.50\n"
BUYER = "2088102177846880"
NOTIFY_URL = "https://pay.example.com/notify/alipay"


@pytest.fixture(scope="module")
def app() -> SandboxAlipayApp:
    return SandboxAlipayApp.generate("2021000117600001", "2088101117955611")


@pytest.fixture(scope="module")
def other() -> SandboxAlipayApp:
    return SandboxAlipayApp.generate("2021000117600002", "2088102000000002")


@dataclass
class World:
    engine: Engine
    clock: FixedClock
    gateway: SandboxGateway
    sandbox: SandboxAlipay
    channel: AlipayChannel
    collector: Collector
    app: SandboxAlipayApp
    other: SandboxAlipayApp

    def order(self, bill_no: str = "T1", biller: str = "s1", buyer: str = BUYER) -> Order:
        order = self.engine.create_order(biller, [bill_no])
        self.collector.start(order.order_no, "alipay", payer_ref=buyer)
        return order

    def deliver_all(self) -> list[Any]:
        return [self.collector.notify(d.channel, d.headers, d.body) for d in self.gateway.due()]

    def snapshot(self) -> dict[str, Any]:
        with self.engine.uow() as uow:
            counts = {
                table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (t.payments, t.journal_postings, t.outbox_events, t.refunds)
            }
            orders = uow.conn.execute(select(t.orders.c.order_no, t.orders.c.status)).all()
        return {**counts, "orders": sorted(orders), "balance": self.engine.trial_balance()}

    def trade(self, order: Order, **overrides: str) -> dict[str, str]:
        now = alipay_time(self.clock.now())
        params = {
            "notify_time": now,
            "notify_type": "trade_status_sync",
            "notify_id": "ac05099524730693a8b330c5ecf72da978",
            "app_id": self.app.app_id,
            "version": "1.0",
            "trade_no": "2026090122001446881415489999",
            "out_trade_no": order.order_no,
            "buyer_id": BUYER,
            "seller_id": self.app.seller_id,
            "trade_status": "TRADE_SUCCESS",
            "total_amount": "10.00",
            "subject": "一中 T1",
            "gmt_payment": now,
        }
        params.update(overrides)
        return params

    def notify(
        self, params: dict[str, str], key: rsa.RSAPrivateKey | None = None
    ) -> tuple[dict[str, str], bytes]:
        return {}, signed_notification_form(params, key or self.app.alipay_key)


@pytest.fixture
def make_world(
    engine: Engine, clock: FixedClock, app: SandboxAlipayApp, other: SandboxAlipayApp
) -> Callable[..., World]:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.create_biller(Biller(code="w2", name="自来水公司", kind=BillerKind.UTILITY))
    for code in ("s1", "w2"):
        engine.import_bills(code, BILLS)
    engine.set_channel_config("s1", app.config(), actor="ops", reason="onboarding")
    engine.set_channel_config("w2", other.config(), actor="ops", reason="onboarding")

    def build(chaos: Chaos | None = None, secrets: dict[str, bytes] | None = None) -> World:
        gateway = SandboxGateway(clock, chaos or Chaos.calm(), seed=11)
        sandbox = SandboxAlipay(gateway, [app, other])
        values = {**app.secrets(), **other.secrets(), **(secrets or {})}
        channel = AlipayChannel(DictSecrets(values), engine, clock, sandbox, notify_url=NOTIFY_URL)
        collector = Collector(engine, {"alipay": channel})
        return World(engine, clock, gateway, sandbox, channel, collector, app, other)

    return build


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


def rejection(excinfo: pytest.ExceptionInfo[NotificationRejected]) -> tuple[str, str]:
    return excinfo.value.reason, excinfo.value.message


# -- collecting -------------------------------------------------------------------------------


def test_start_creates_the_trade_with_a_signed_request_and_returns_its_trade_no(
    world: World,
) -> None:
    order = world.engine.create_order("s1", ["T2"])
    start = world.collector.start(order.order_no, "alipay", payer_ref=BUYER)
    (request,) = world.sandbox.requests
    assert start.action == "invoke_wallet"
    assert start.data == {"tradeNO": world.sandbox.trades[order.order_no].trade_no}
    assert request["method"] == "alipay.trade.create" and request["notify_url"] == NOTIFY_URL
    assert json.loads(request["biz_content"]) == {
        "out_trade_no": order.order_no,
        "total_amount": "25.50",
        "subject": "一中 T2",
        "product_code": "JSAPI_PAY",
        "time_expire": "2026-09-01 10:30:00",
        "buyer_id": BUYER,
    }
    public = world.app.app_key.public_key()
    assert verify_request(request, public)
    assert "sign_type=RSA2" in request_content(request)  # requests sign sign_type too
    without_sign_type = {k: v for k, v in request.items() if k != "sign_type"}
    assert not verify_request({**without_sign_type, "sign_type": "RSA"}, public)
    assert world.engine.order(order.order_no).status is OrderStatus.PAYING


def test_a_buyer_open_id_is_sent_as_buyer_open_id(world: World) -> None:
    world.order(buyer="074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5")
    biz = json.loads(world.sandbox.requests[0]["biz_content"])
    assert biz["buyer_open_id"] == "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"
    assert "buyer_id" not in biz


def test_start_without_a_buyer_is_refused(world: World) -> None:
    order = world.engine.create_order("s1", ["T1"])
    with pytest.raises(InvalidInput, match="payer_ref: Alipay mini-program payments need"):
        world.collector.start(order.order_no, "alipay")
    assert world.sandbox.requests == []


def test_a_request_signed_with_the_wrong_key_is_refused_by_the_gateway(
    make_world: Callable[..., World], other: SandboxAlipayApp
) -> None:
    wrong_key = other.secrets()["BILLFOLD_SANDBOX_ALIPAY_2021000117600002_APP_PRIVATE_KEY"]
    world = make_world(
        secrets={"BILLFOLD_SANDBOX_ALIPAY_2021000117600001_APP_PRIVATE_KEY": wrong_key}
    )
    order = world.engine.create_order("s1", ["T1"])
    with pytest.raises(ChannelError) as excinfo:
        world.collector.start(order.order_no, "alipay", payer_ref=BUYER)
    assert excinfo.value.message == (
        "Alipay alipay.trade.create: 40002 Invalid Arguments isv.invalid-signature 验签出错"
    )


# -- the happy path, duplicates, lost notifications ------------------------------------------------


def test_a_payment_notified_twice_is_credited_exactly_once(
    make_world: Callable[..., World],
) -> None:
    world = make_world(Chaos(min_delay=timedelta(0), max_delay=timedelta(0), duplicate_rate=1.0))
    order = world.order()
    world.gateway.pay("alipay", order.order_no)
    first, second = world.deliver_all()
    assert first.credited and not first.duplicate
    assert second.duplicate and second.payment.id == first.payment.id
    assert first.payment.channel_txn_id == world.sandbox.trades[order.order_no].trade_no
    assert world.engine.bill("s1", "T1").paid_fen == 1000
    assert world.snapshot()["payments"] == 1
    assert world.engine.check_books() == []


def test_a_replayed_alipay_notification_is_absorbed_as_a_duplicate(world: World) -> None:
    order = world.order()
    world.gateway.pay("alipay", order.order_no)
    (delivery,) = world.gateway.due()
    world.collector.notify("alipay", delivery.headers, delivery.body)
    before = world.snapshot()
    again = world.collector.notify("alipay", delivery.headers, delivery.body)
    assert again is not None and again.duplicate
    assert world.snapshot() == before


def test_a_dropped_notification_is_recovered_by_requery(make_world: Callable[..., World]) -> None:
    world = make_world(Chaos(min_delay=timedelta(0), max_delay=timedelta(0), drop_rate=1.0))
    order = world.order()
    world.gateway.pay("alipay", order.order_no)
    assert world.gateway.due() == []
    result = world.collector.requery(order.order_no)
    assert result is not None and result.credited
    assert result.payment.channel_txn_id == world.sandbox.trades[order.order_no].trade_no
    assert world.engine.bill("s1", "T1").paid_fen == 1000
    assert world.engine.check_books() == []


def test_query_reports_pending_and_closed_trades(world: World) -> None:
    order = world.order()
    assert world.channel.query(order.order_no).state is RemoteState.PENDING
    assert world.channel.close(order.order_no) is True
    assert world.channel.query(order.order_no).state is RemoteState.CLOSED
    paid = world.order("T2")
    world.gateway.pay("alipay", paid.order_no)
    assert world.channel.close(paid.order_no) is False  # a paid trade cannot be closed


def test_a_verified_total_amount_that_differs_is_held_for_review(world: World) -> None:
    order = world.order()
    world.gateway.pay("alipay", order.order_no, amount_fen=1001)
    (result,) = world.deliver_all()
    assert result.status is PaymentStatus.HELD and result.payment.reason == "amount_mismatch"
    assert world.engine.bill("s1", "T1").paid_fen == 0
    assert world.engine.check_books() == []


def test_a_closed_trade_becomes_a_closed_event(world: World) -> None:
    order = world.order()
    event = world.channel.parse_notification(
        *world.notify(world.trade(order, trade_status="TRADE_CLOSED"))
    )
    assert (event.kind, event.order_no) == (EventKind.CLOSED, order.order_no)


# -- refunds ---------------------------------------------------------------------------------


def test_a_refund_is_paid_out_and_a_refund_notification_changes_nothing_more(
    world: World,
) -> None:
    order = world.order("T2")
    world.gateway.pay("alipay", order.order_no)
    (paid,) = world.deliver_all()
    refund = world.engine.refund(
        paid.payment.id, 550, request_id="R-1", reason="多缴", requested_by="clerk"
    )
    (payout,) = world.collector.pay_out_refunds()
    assert payout.succeeded
    with world.engine.uow() as uow:
        stored = uow.refunds.get_by_no(refund.refund_no)
    assert stored is not None and stored.status is RefundStatus.SUCCEEDED
    assert world.sandbox.requests[-1]["method"] == "alipay.trade.refund"
    params = world.trade(
        order,
        total_amount="25.50",
        trade_no=paid.payment.channel_txn_id,
        out_biz_no=refund.refund_no,
        refund_fee="5.50",
        gmt_refund="2026-09-01 10:05:00",
    )
    event = world.channel.parse_notification(*world.notify(params))
    assert (event.kind, event.refund_no, event.amount_fen) == (
        EventKind.REFUNDED,
        refund.refund_no,
        550,
    )
    before = world.snapshot()
    world.collector.apply(event)
    assert world.snapshot() == before
    assert world.engine.check_books() == []


def test_a_refund_over_what_was_paid_is_declined_by_the_channel(world: World) -> None:
    order = world.order()
    world.gateway.pay("alipay", order.order_no)
    world.deliver_all()
    answer = world.channel.refund("RF1", order.order_no, "x", 1001, 1000)
    assert not answer.accepted and answer.decline is not None
    assert answer.message == (
        "Alipay alipay.trade.refund: 40004 Business Failed ACQ.REFUND_AMT_NOT_EQUAL_TOTAL 退款金额超限"
    )


# -- rejections: each with its reason, and nothing changes -----------------------------------------


def test_a_tampered_total_amount_is_refused(world: World) -> None:
    order = world.order()
    world.gateway.pay("alipay", order.order_no)
    (delivery,) = world.gateway.due()
    form = dict(parse_qsl(delivery.body.decode()))
    form["total_amount"] = "0.01"
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("alipay", {}, urlencode(form).encode())
    assert rejection(excinfo) == (
        "signature_mismatch",
        "signature does not match the parameters for the configured Alipay public key",
    )
    assert world.snapshot() == before


def test_a_notification_for_another_seller_is_refused(world: World) -> None:
    order = world.order()
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify(
            "alipay", *world.notify(world.trade(order, seller_id="2088000000000009"))
        )
    assert rejection(excinfo) == (
        "seller_mismatch",
        "seller_id: expected '2088101117955611', got '2088000000000009'",
    )
    assert world.snapshot() == before


def test_a_notification_of_another_app_is_refused(world: World) -> None:
    order = world.order()
    world.order("T1", biller="w2")  # the channel knows the other app
    params = world.trade(order, app_id=world.other.app_id, seller_id=world.other.seller_id)
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("alipay", *world.notify(params, key=world.other.alipay_key))
    assert rejection(excinfo) == (
        "app_id_mismatch",
        "app_id: the notification is for app 2021000117600002, "
        "but biller s1 collects through app 2021000117600001",
    )
    assert world.snapshot() == before


def test_an_unknown_app_id_is_refused(world: World) -> None:
    order = world.order()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("alipay", *world.notify(world.trade(order, app_id="2021999")))
    assert rejection(excinfo) == (
        "unknown_app",
        "app_id '2021999' is not the Alipay app of any biller "
        "(known: 2021000117600001, 2021000117600002)",
    )


def test_a_notification_signed_with_rsa1_is_refused(world: World) -> None:
    order = world.order()
    params = {**world.trade(order), "charset": "utf-8", "sign_type": "RSA"}
    params["sign"] = rsa_sha256_sign(b"whatever", world.app.alipay_key)
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("alipay", {}, urlencode(params).encode())
    assert rejection(excinfo) == (
        "unsupported_sign_type",
        "sign_type is 'RSA'; only RSA2 (SHA256withRSA) is accepted",
    )


def test_an_unreadable_form_is_refused(world: World) -> None:
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("alipay", {}, b"app_id=1&subject=%FF%FE&charset=utf-8")
    assert rejection(excinfo) == (
        "bad_notification",
        "unreadable form: parameter 'subject': not valid utf-8",
    )


def test_a_trade_still_waiting_for_the_buyer_is_refused(world: World) -> None:
    order = world.order()
    with pytest.raises(NotificationRejected) as excinfo:
        world.channel.parse_notification(
            *world.notify(world.trade(order, trade_status="WAIT_BUYER_PAY"))
        )
    assert rejection(excinfo) == (
        "trade_not_final",
        f"trade_status WAIT_BUYER_PAY for {order.order_no}: nothing has been paid yet",
    )


def test_replies_are_what_alipay_expects(world: World) -> None:
    assert world.channel.reply(True).body == b"success"
    refused = world.channel.reply(False, "signature_mismatch")
    assert (refused.body, refused.content_type) == (b"failure", "text/plain; charset=utf-8")
