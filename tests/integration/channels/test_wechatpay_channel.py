"""The wechatpay channel end to end on SQLite and PostgreSQL: real signed, encrypted callbacks
from the sandbox, every rejection changing nothing, refunds and lost callbacks."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine, PaymentStatus
from billfold.adapters.db import schema as t
from billfold.channels.base import EventKind, RemoteState
from billfold.channels.collect import Collector
from billfold.channels.secrets import DictSecrets
from billfold.channels.verification import NotificationRejected
from billfold.channels.wechatpay import WechatPayChannel, rfc3339
from billfold.clock import FixedClock
from billfold.collection.order import Order, OrderStatus
from billfold.collection.refund import RefundStatus
from billfold.errors import ConfigurationError, InvalidInput, NotFound
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing import capture_logs
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant, SandboxWechatPay
from billfold.testing.wechatpay_v3 import sign_notification

BILLS = b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2024002,25.50\n"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
NOTIFY_URL = "https://pay.example.com/notify/wechatpay"


@pytest.fixture(scope="module")
def merchant() -> SandboxWechatMerchant:
    return SandboxWechatMerchant.generate("1230000109", "wxd678efh567hg6787")


@pytest.fixture(scope="module")
def other() -> SandboxWechatMerchant:
    return SandboxWechatMerchant.generate("1900000999", "wx0000000000000999")


@dataclass
class World:
    engine: Engine
    clock: FixedClock
    gateway: SandboxGateway
    sandbox: SandboxWechatPay
    channel: WechatPayChannel
    collector: Collector
    merchant: SandboxWechatMerchant
    other: SandboxWechatMerchant

    def order(self, bill_no: str = "T1", biller: str = "s1") -> Order:
        order = self.engine.create_order(biller, [bill_no])
        self.collector.start(order.order_no, "wechatpay", payer_ref=OPENID)
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

    def signed(
        self,
        resource: dict[str, Any],
        *,
        merchant: SandboxWechatMerchant | None = None,
        serial: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        nonce: str = "A1B2C3D4E5F60718293A4B5C6D7E8F90",
        age: timedelta = timedelta(0),
        **options: Any,
    ) -> tuple[dict[str, str], bytes]:
        m = merchant or self.merchant
        return sign_notification(
            resource,
            private_key=key or m.platform_key,
            serial=serial or m.platform_serial,
            api_v3_key=m.api_v3_key,
            timestamp=self.clock.now() - age,
            nonce=nonce,
            **options,
        )

    def transaction(self, order: Order, **overrides: Any) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "appid": self.merchant.appid,
            "mchid": self.merchant.mchid,
            "out_trade_no": order.order_no,
            "transaction_id": "4200002026090112345678901234",
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "success_time": rfc3339(self.clock.now()),
            "payer": {"openid": OPENID},
            "amount": {"total": order.total_fen, "currency": "CNY"},
        }
        resource.update(overrides)
        return resource


@pytest.fixture
def make_world(
    engine: Engine, clock: FixedClock, merchant: SandboxWechatMerchant, other: SandboxWechatMerchant
) -> Callable[..., World]:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.create_biller(Biller(code="w2", name="自来水公司", kind=BillerKind.UTILITY))
    engine.create_biller(Biller(code="h3", name="医院", kind=BillerKind.HOSPITAL))
    for code in ("s1", "w2", "h3"):
        engine.import_bills(code, BILLS)
    engine.set_channel_config("s1", merchant.config(), actor="ops", reason="onboarding")
    engine.set_channel_config("w2", other.config(), actor="ops", reason="onboarding")

    def build(chaos: Chaos | None = None) -> World:
        gateway = SandboxGateway(clock, chaos or Chaos.calm(), seed=7)
        sandbox = SandboxWechatPay(gateway, [merchant, other])
        secrets = DictSecrets({**merchant.secrets(), **other.secrets()})
        channel = WechatPayChannel(secrets, engine, clock, sandbox, notify_url=NOTIFY_URL)
        collector = Collector(engine, {"wechatpay": channel})
        return World(engine, clock, gateway, sandbox, channel, collector, merchant, other)

    return build


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


def rejection(excinfo: pytest.ExceptionInfo[NotificationRejected]) -> tuple[str, str]:
    return excinfo.value.reason, excinfo.value.message


# -- collecting -------------------------------------------------------------------------------


def test_start_returns_mini_program_pay_params_signed_with_the_merchant_key(world: World) -> None:
    order = world.engine.create_order("s1", ["T1"])
    start = world.collector.start(order.order_no, "wechatpay", payer_ref=OPENID)
    params = start.data
    assert start.action == "invoke_wallet"
    assert params["appId"] == world.merchant.appid and params["signType"] == "RSA"
    prepay = world.sandbox.prepays[order.order_no]
    assert params["package"] == f"prepay_id={prepay.prepay_id}"
    assert (prepay.mchid, prepay.openid, prepay.notify_url) == ("1230000109", OPENID, NOTIFY_URL)
    remote = world.gateway.query("wechatpay", order.order_no)
    assert remote is not None and remote.amount_fen == 1000
    message = "\n".join(
        [params["appId"], params["timeStamp"], params["nonceStr"], params["package"], ""]
    ).encode()
    world.merchant.merchant_key.public_key().verify(
        base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256()
    )
    assert world.engine.order(order.order_no).status is OrderStatus.PAYING


def test_start_without_the_payers_openid_is_refused(world: World) -> None:
    order = world.engine.create_order("s1", ["T1"])
    with pytest.raises(InvalidInput, match="payer_ref: WeChat Pay mini-program payments need"):
        world.collector.start(order.order_no, "wechatpay")
    assert world.sandbox.prepays == {}


def test_start_for_a_biller_without_a_wechatpay_merchant_names_the_missing_setting(
    world: World,
) -> None:
    order = world.engine.create_order("h3", ["T1"])
    with pytest.raises(ConfigurationError, match="wechatpay settings of biller h3: app_id"):
        world.collector.start(order.order_no, "wechatpay", payer_ref=OPENID)


# -- the happy path, duplicates, lost callbacks --------------------------------------------------


def test_a_payment_notified_twice_is_credited_exactly_once(
    make_world: Callable[..., World],
) -> None:
    world = make_world(Chaos(min_delay=timedelta(0), max_delay=timedelta(0), duplicate_rate=1.0))
    order = world.order()
    world.gateway.pay("wechatpay", order.order_no)
    deliveries = world.gateway.due()
    assert len(deliveries) == 2
    assert deliveries[0].headers["Wechatpay-Nonce"] != deliveries[1].headers["Wechatpay-Nonce"]
    first, second = (world.collector.notify(d.channel, d.headers, d.body) for d in deliveries)
    assert first is not None and first.credited and not first.duplicate
    assert second is not None and second.duplicate and second.payment.id == first.payment.id
    assert world.engine.bill("s1", "T1").paid_fen == 1000
    assert world.snapshot()["payments"] == 1
    assert world.engine.order(order.order_no).status is OrderStatus.PAID
    assert world.engine.check_books() == []


def test_a_dropped_notification_is_recovered_by_requerying_stuck_orders(
    make_world: Callable[..., World],
) -> None:
    world = make_world(Chaos(min_delay=timedelta(0), max_delay=timedelta(0), drop_rate=1.0))
    order = world.order()
    world.gateway.pay("wechatpay", order.order_no)
    assert world.gateway.due() == [] and len(world.gateway.dropped) == 1
    world.clock.advance(minutes=11)
    settled = world.collector.requery_stuck(older_than=timedelta(minutes=10))
    assert [r.payment.order_no for r in settled if r.credited] == [order.order_no]
    remote = world.gateway.query("wechatpay", order.order_no)
    assert remote is not None and settled[0].payment.channel_txn_id == remote.txn_id
    assert world.engine.bill("s1", "T1").paid_fen == 1000
    assert world.engine.check_books() == []


def test_query_reports_pending_and_closed_orders(world: World) -> None:
    order = world.order()
    assert world.channel.query(order.order_no).state is RemoteState.PENDING
    assert world.channel.close(order.order_no) is True
    answer = world.channel.query(order.order_no)
    assert answer.state is RemoteState.CLOSED and answer.event is None


def test_a_verified_amount_that_differs_from_the_order_is_held_for_review(world: World) -> None:
    order = world.order()
    world.gateway.pay("wechatpay", order.order_no, amount_fen=900)
    (result,) = world.deliver_all()
    assert result.status is PaymentStatus.HELD and result.payment.reason == "amount_mismatch"
    assert result.payment.amount_fen == 900
    assert world.engine.bill("s1", "T1").paid_fen == 0
    assert world.engine.order(order.order_no).status is OrderStatus.PAYING
    assert world.engine.check_books() == []


def test_a_payment_for_an_order_billfold_never_issued_is_kept_in_suspense(world: World) -> None:
    world.order()  # the channel now knows the merchant
    resource = world.transaction(world.engine.create_order("s1", ["T2"]))
    resource["out_trade_no"] = "BF20260901NOSUCHORDER"
    result = world.collector.notify("wechatpay", *world.signed(resource))
    assert result is not None and result.status is PaymentStatus.SUSPENSE
    assert result.payment.reason == "unknown_order"
    assert world.engine.check_books() == []


@pytest.mark.parametrize(
    ("trade_state", "kind"), [("CLOSED", EventKind.CLOSED), ("PAYERROR", EventKind.FAILED)]
)
def test_unpaid_outcomes_become_closed_and_failed_events(
    world: World, trade_state: str, kind: EventKind
) -> None:
    order = world.order()
    resource = world.transaction(order, trade_state=trade_state)
    del resource["transaction_id"], resource["success_time"]
    event = world.channel.parse_notification(*world.signed(resource))
    assert (event.kind, event.order_no, event.amount_fen) == (kind, order.order_no, 0)


def _outbox(engine: Engine, event_type: str) -> list[Any]:
    with engine.uow() as uow:
        rows = uow.conn.execute(
            select(t.outbox_events.c.payload).where(t.outbox_events.c.event_type == event_type)
        )
        return [json.loads(row.payload)["data"] for row in rows]


def test_a_closed_notification_fails_the_order_and_leaves_its_bills_open(world: World) -> None:
    order = world.order()
    resource = world.transaction(order, trade_state="CLOSED", trade_state_desc="已关闭")
    del resource["transaction_id"], resource["success_time"]
    for nonce in ("C1", "C2"):  # the repeat changes nothing
        assert world.collector.notify("wechatpay", *world.signed(resource, nonce=nonce)) is None
    failed = world.engine.order(order.order_no)
    assert failed.status is OrderStatus.FAILED and failed.failure_reason == "已关闭"
    assert _outbox(world.engine, "order.failed") == [
        {"order_no": order.order_no, "channel": "wechatpay", "reason": "已关闭"}
    ]
    assert world.engine.bill("s1", "T1").paid_fen == 0  # open again, for a new order
    again = world.order()
    world.gateway.pay("wechatpay", again.order_no)
    (paid,) = world.deliver_all()
    assert paid.credited and world.engine.bill("s1", "T1").paid_fen == 1000
    assert world.engine.check_books() == []


def test_a_failed_attempt_notified_leaves_the_order_paying(world: World) -> None:
    order = world.order()
    resource = world.transaction(order, trade_state="PAYERROR", trade_state_desc="银行卡余额不足")
    del resource["transaction_id"], resource["success_time"]
    assert world.collector.notify("wechatpay", *world.signed(resource)) is None
    assert world.engine.order(order.order_no).status is OrderStatus.PAYING
    assert _outbox(world.engine, "order.failed") == []


def test_requery_settles_the_fate_of_closed_and_failed_orders_the_same_day(
    make_world: Callable[..., World],
) -> None:
    world = make_world(Chaos(min_delay=timedelta(0), max_delay=timedelta(0), fail_rate=1.0))
    declined, closed, pending = world.order("T1"), world.order("T2"), world.order("T1", "w2")
    world.gateway.pay("wechatpay", declined.order_no)  # the payer's attempt fails
    world.gateway.close("wechatpay", closed.order_no)  # the channel closed it unpaid
    world.clock.advance(minutes=11)
    assert world.collector.requery_stuck(older_than=timedelta(minutes=10)) == []
    status = {o.order_no: world.engine.order(o.order_no) for o in (declined, closed, pending)}
    assert status[declined.order_no].status is OrderStatus.FAILED
    assert status[declined.order_no].failure_reason == "wechatpay answered failed when asked"
    assert status[closed.order_no].status is OrderStatus.FAILED
    assert status[closed.order_no].failure_reason == "wechatpay answered closed when asked"
    assert status[pending.order_no].status is OrderStatus.PAYING  # not paid yet: still waiting
    # the failed attempt's order was closed at the channel too, so it can no longer be paid
    remote = world.gateway.query("wechatpay", declined.order_no)
    assert remote is not None and remote.state is RemoteState.CLOSED
    assert world.collector.requery_stuck(older_than=timedelta(minutes=10)) == []  # rerun: same
    assert len(_outbox(world.engine, "order.failed")) == 2


def test_money_arriving_for_a_failed_order_goes_to_suspense_with_a_refund(world: World) -> None:
    order = world.order()
    world.gateway.close("wechatpay", order.order_no)
    world.clock.advance(minutes=11)
    world.collector.requery_stuck(older_than=timedelta(minutes=10))
    late = world.engine.confirm("wechatpay", "4200000000LATE", order.order_no, order.total_fen)
    assert late.status is PaymentStatus.SUSPENSE
    assert [r.payment_id for r in world.engine.pending_refunds()] == [late.payment.id]
    assert world.engine.bill("s1", "T1").paid_fen == 0
    assert world.engine.check_books() == []


def test_failing_an_order_of_another_channel_or_unknown_order_changes_nothing(
    world: World,
) -> None:
    order = world.order()
    assert world.engine.fail_order(order.order_no, "alipay", "not ours") is False
    assert world.engine.order(order.order_no).status is OrderStatus.PAYING
    with pytest.raises(NotFound, match="order 'BFNOPE' does not exist"):
        world.engine.fail_order("BFNOPE", "wechatpay", "gone")
    assert _outbox(world.engine, "order.failed") == []


# -- refunds ---------------------------------------------------------------------------------


def test_a_refund_is_paid_out_and_its_notification_completes_it_once(world: World) -> None:
    order = world.order("T2")
    world.gateway.pay("wechatpay", order.order_no)
    (paid,) = world.deliver_all()
    refund = world.engine.refund(
        paid.payment.id, 550, request_id="R-1", reason="多缴", requested_by="clerk"
    )
    (payout,) = world.collector.pay_out_refunds()
    assert payout.succeeded and payout.refund_no == refund.refund_no
    (delivery,) = world.gateway.due()
    event = world.channel.parse_notification(delivery.headers, delivery.body)
    assert (event.kind, event.refund_no, event.amount_fen) == (
        EventKind.REFUNDED,
        refund.refund_no,
        550,
    )
    with world.engine.uow() as uow:
        pending = uow.refunds.get_by_no(refund.refund_no)
    assert pending is not None and pending.status is RefundStatus.PENDING  # WeChat: PROCESSING
    assert world.collector.apply(event) is None
    with world.engine.uow() as uow:
        stored = uow.refunds.get_by_no(refund.refund_no)
    assert stored is not None and stored.status is RefundStatus.SUCCEEDED
    before = world.snapshot()
    assert world.collector.apply(event) is None  # the same notification again changes nothing
    assert world.snapshot() == before
    assert world.engine.check_books() == []


def test_a_refund_notification_for_another_amount_is_refused(world: World) -> None:
    order = world.order("T2")
    world.gateway.pay("wechatpay", order.order_no)
    (paid,) = world.deliver_all()
    refund = world.engine.refund(
        paid.payment.id, 550, request_id="R-1", reason="多缴", requested_by="clerk"
    )
    resource = {
        "mchid": world.merchant.mchid,
        "out_trade_no": order.order_no,
        "transaction_id": paid.payment.channel_txn_id,
        "out_refund_no": refund.refund_no,
        "refund_id": "50300000000000000000000000001",
        "refund_status": "SUCCESS",
        "success_time": rfc3339(world.clock.now()),
        "amount": {"total": 2550, "refund": 2550, "payer_total": 2550, "payer_refund": 2550},
    }
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify(
            "wechatpay",
            *world.signed(resource, event_type="REFUND.SUCCESS", original_type="refund"),
        )
    assert rejection(excinfo) == (
        "refund_mismatch",
        f"refund {refund.refund_no}: amount.refund: expected 550, got 2550",
    )
    assert world.snapshot() == before


# -- rejections: each with its reason, and nothing changes -----------------------------------------


def _one_paid_delivery(world: World) -> tuple[Order, dict[str, str], bytes]:
    order = world.order()
    world.gateway.pay("wechatpay", order.order_no)
    (delivery,) = world.gateway.due()
    return order, delivery.headers, delivery.body


def test_a_replay_of_a_notification_already_handled_is_refused(world: World) -> None:
    _order, headers, body = _one_paid_delivery(world)
    assert world.collector.notify("wechatpay", headers, body) is not None
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("wechatpay", headers, body)
    nonce = headers["Wechatpay-Nonce"]
    assert rejection(excinfo) == (
        "replayed_nonce",
        f"replayed nonce {nonce!r}: this notification was already received",
    )
    assert world.snapshot() == before


def test_a_tampered_body_is_refused_and_the_genuine_one_still_credits(world: World) -> None:
    _order, headers, body = _one_paid_delivery(world)
    envelope = json.loads(body)
    envelope["summary"] = "支付成功!"
    tampered = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("wechatpay", headers, tampered)
    assert rejection(excinfo) == (
        "signature_mismatch",
        f"signature does not match the body for platform key {world.merchant.platform_serial}",
    )
    assert world.snapshot() == before
    result = world.collector.notify("wechatpay", headers, body)  # its nonce was not burnt
    assert result is not None and result.credited


def test_an_amount_reencrypted_by_someone_without_the_platform_key_is_refused(
    world: World,
) -> None:
    order = world.order()
    forger = world.other.platform_key  # knows the APIv3 key, not WeChat Pay's private key
    resource = world.transaction(order, amount={"total": 1, "currency": "CNY"})
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("wechatpay", *world.signed(resource, key=forger))
    assert excinfo.value.reason == "signature_mismatch"
    assert world.snapshot() == before


def test_a_stale_timestamp_is_refused(world: World) -> None:
    _order, headers, body = _one_paid_delivery(world)
    world.clock.advance(minutes=6)
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("wechatpay", headers, body)
    reason, message = rejection(excinfo)
    assert reason == "timestamp_skew"
    assert message.startswith(f"Wechatpay-Timestamp {headers['Wechatpay-Timestamp']} is outside ±5")
    assert message.endswith("(360 s old)")
    assert world.snapshot() == before


def test_an_unknown_serial_is_refused(world: World) -> None:
    order = world.order()
    headers, body = world.signed(world.transaction(order), serial="PUB_KEY_ID_0000UNKNOWN")
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("wechatpay", headers, body)
    reason, message = rejection(excinfo)
    assert reason == "unknown_serial"
    assert message.startswith("unknown Wechatpay-Serial 'PUB_KEY_ID_0000UNKNOWN': no platform")
    assert world.merchant.platform_serial in message and world.other.platform_serial in message
    assert world.snapshot() == before


def test_missing_signature_headers_are_named(world: World) -> None:
    order = world.order()
    headers, body = world.signed(world.transaction(order))
    del headers["Wechatpay-Serial"], headers["Wechatpay-Nonce"]
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("wechatpay", headers, body)
    assert rejection(excinfo) == (
        "missing_header",
        "missing headers Wechatpay-Nonce, Wechatpay-Serial",
    )


def test_a_notification_signed_for_another_merchant_is_refused(world: World) -> None:
    order = world.order()  # biller s1 collects through merchant 1230000109
    world.order("T1", biller="w2")  # the channel also knows merchant 1900000999
    resource = world.transaction(order, mchid=world.other.mchid, appid=world.other.appid)
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("wechatpay", *world.signed(resource, merchant=world.other))
    assert rejection(excinfo) == (
        "merchant_mismatch",
        "signed with the platform key of merchant 1900000999, "
        "but biller s1 collects through merchant 1230000109",
    )
    assert world.snapshot() == before


def test_a_wrong_mchid_in_the_resource_is_refused(world: World) -> None:
    order = world.order()
    resource = world.transaction(order, mchid="1900000999")
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("wechatpay", *world.signed(resource))
    assert rejection(excinfo) == (
        "merchant_mismatch",
        "mchid: expected '1230000109', got '1900000999'",
    )
    assert world.snapshot() == before


def test_a_wrong_appid_is_refused(world: World) -> None:
    order = world.order()
    resource = world.transaction(order, appid="wx1111111111111111")
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("wechatpay", *world.signed(resource))
    assert rejection(excinfo) == (
        "appid_mismatch",
        "appid: expected 'wxd678efh567hg6787', got 'wx1111111111111111'",
    )
    assert world.snapshot() == before


def test_an_order_of_a_biller_without_a_wechatpay_merchant_is_refused(world: World) -> None:
    world.order()
    resource = world.transaction(world.engine.create_order("h3", ["T1"]))
    before = world.snapshot()
    with pytest.raises(NotificationRejected) as excinfo:
        world.collector.notify("wechatpay", *world.signed(resource))
    reason, message = rejection(excinfo)
    assert reason == "merchant_not_configured"
    assert message.endswith("belongs to biller h3, which has no wechatpay merchant configured")
    assert world.snapshot() == before


def test_a_trade_state_that_is_never_notified_is_refused(world: World) -> None:
    order = world.order()
    resource = world.transaction(order, trade_state="NOTPAY")
    with pytest.raises(NotificationRejected) as excinfo:
        world.channel.parse_notification(*world.signed(resource))
    assert rejection(excinfo) == (
        "unexpected_trade_state",
        "trade_state 'NOTPAY' is not a notified outcome",
    )


def test_a_notification_before_any_start_finds_the_merchant_in_the_database(
    world: World,
) -> None:
    order = world.engine.create_order("s1", ["T1"])  # started by another process
    world.engine.start_payment(order.order_no, "wechatpay")
    result = world.collector.notify("wechatpay", *world.signed(world.transaction(order)))
    assert result is not None and result.credited


def test_a_biller_with_broken_secrets_does_not_stop_other_billers_notifications(
    world: World,
) -> None:
    broken = ChannelConfig(
        "wechatpay",
        merchant_id="1555000000",
        app_id="wx5555555555555555",
        settings={
            "cert_serial": "ABC",
            "private_key_file": "/etc/billfold/h3/apiclient_key.pem",
            "api_v3_key_env": "H3_WECHATPAY_API_V3_KEY",
            "platform_keys_file": {"PUB_KEY_ID_H3": "/etc/billfold/h3/pub_key.pem"},
        },
    )
    world.engine.set_channel_config("h3", broken, actor="ops", reason="onboarding")
    order = world.engine.create_order("s1", ["T1"])
    world.engine.start_payment(order.order_no, "wechatpay")
    with capture_logs() as logs:
        result = world.collector.notify("wechatpay", *world.signed(world.transaction(order)))
    assert result is not None and result.credited
    (warning,) = [e for e in logs if e["event"] == "channel credentials not loaded"]
    assert warning["biller"] == "h3" and warning["problem"] == (
        "wechatpay settings of biller h3: private_key_file names file "
        "'/etc/billfold/h3/apiclient_key.pem', which cannot be read"
    )


# -- replies ---------------------------------------------------------------------------------


def test_replies_are_what_wechat_pay_expects(world: World) -> None:
    ok = world.channel.reply(True)
    assert (ok.status_code, ok.body) == (204, b"")
    refused = world.channel.reply(False, "signature_mismatch")
    assert refused.status_code == 400 and refused.content_type.startswith("application/json")
    assert json.loads(refused.body) == {"code": "FAIL", "message": "signature_mismatch"}
    assert len(json.loads(world.channel.reply(False, "x" * 100).body)["message"]) == 64
