"""Aggregated-QR payments end to end: Collector + sandbox aggregator + the real database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.channels import emv, signed_json
from billfold.channels.collect import ChannelRefused, Collector
from billfold.channels.qr import (
    QrChannel,
    build_notification,
    open_amount_order,
    stall_code,
)
from billfold.channels.secrets import DictSecrets
from billfold.channels.signed_json import SettingsMerchants
from billfold.channels.verification import NotificationRejected
from billfold.clock import FixedClock
from billfold.collection.order import OrderStatus
from billfold.collection.payment import PaymentStatus
from billfold.errors import Conflict, InvalidAmount
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing import capture_logs
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.qr import SandboxAcquirer

KEY = "stall-1-notify-key-0123456789abcd"
KEY_2 = "stall-2-notify-key-0123456789abcd"
BILLS = b"bill_no,payer_id,payer_name,amount\nP1,A-101,\xe5\x88\x98\xe4\xb8\x80,12.34\n"


def qr_config(merchant_id: str, env: str, **extra: Any) -> ChannelConfig:
    settings = {
        "merchant_name_en": "LIU FRUIT STALL",
        "merchant_city_en": "HANGZHOU",
        "mcc": "5411",
        "notify_key_env": env,
        "open_min_fen": 100,
        "open_max_fen": 50_000,
        **extra,
    }
    return ChannelConfig("qr", merchant_id=merchant_id, settings=settings)


@dataclass
class Market:
    engine: Engine
    clock: FixedClock
    gateway: SandboxGateway
    channel: QrChannel
    collector: Collector

    def deliver(self) -> list[Any]:
        return [self.collector.notify(d.channel, d.headers, d.body) for d in self.gateway.due()]

    def paid_order(self, bill_no: str = "P1") -> str:
        order = self.engine.create_order("stall1", [bill_no])
        self.collector.start(order.order_no, "qr")
        self.gateway.pay("qr", order.order_no)
        return order.order_no


def market(engine: Engine, clock: FixedClock, chaos: Chaos) -> Market:
    for code, name, merchant, env in (
        ("stall1", "刘记水果摊", "M100001", "STALL1_QR_KEY"),
        ("stall2", "王记菜摊", "M100002", "STALL2_QR_KEY"),
    ):
        engine.create_biller(Biller(code=code, name=name, kind=BillerKind.MARKET_STALL))
        engine.set_channel_config(code, qr_config(merchant, env), actor="ops", reason="onboard")
    engine.import_bills("stall1", BILLS)
    secrets = DictSecrets({"STALL1_QR_KEY": KEY, "STALL2_QR_KEY": KEY_2})
    gateway = SandboxGateway(clock, chaos, seed=7)
    acquirer = SandboxAcquirer(gateway, {"M100001": KEY.encode(), "M100002": KEY_2.encode()})
    channel = QrChannel.for_engine(engine, acquirer, secrets, render=False)
    return Market(engine, clock, gateway, channel, Collector(engine, {"qr": channel}))


@pytest.fixture
def calm(engine: Engine, clock: FixedClock) -> Market:
    return market(engine, clock, Chaos.calm())


def events(engine: Engine, event_type: str) -> list[dict[str, Any]]:
    with engine.uow() as uow:
        rows = uow.conn.execute(
            select(t.outbox_events.c.payload)
            .where(t.outbox_events.c.event_type == event_type)
            .order_by(t.outbox_events.c.id)
        ).scalars()
        return [json.loads(row)["data"] for row in rows]


def counts(engine: Engine) -> dict[str, int]:
    with engine.uow() as uow:
        return {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.payments, t.journal_postings, t.outbox_events, t.orders, t.bills)
        }


# -- the happy path and the sandbox's bad behaviour ----------------------------------------------


def test_a_scanned_code_is_paid_notified_and_credited_once(calm: Market) -> None:
    order = calm.engine.create_order("stall1", ["P1"])
    start = calm.collector.start(order.order_no, "qr")
    assert start.action == "scan_qr"
    assert emv.decode(start.data["payload"]).amount_fen == 1234
    assert calm.engine.order(order.order_no).status is OrderStatus.PAYING
    calm.gateway.pay("qr", order.order_no)
    [result] = calm.deliver()
    assert result.credited and not result.duplicate and result.payment.channel == "qr"
    assert calm.engine.order(order.order_no).status is OrderStatus.PAID
    assert calm.engine.bill("stall1", "P1").paid_fen == 1234
    assert calm.engine.check_books() == []


def test_a_notification_delivered_twice_credits_once(engine: Engine, clock: FixedClock) -> None:
    rough = market(engine, clock, Chaos(duplicate_rate=1.0, max_delay=timedelta(seconds=30)))
    order_no = rough.paid_order()
    clock.advance(seconds=31)
    first, second = rough.deliver()
    assert first.credited and second.duplicate
    assert second.payment.id == first.payment.id
    assert engine.bill("stall1", "P1").paid_fen == 1234
    assert engine.trial_balance()["clearing:qr"] == 1234
    assert engine.order(order_no).status is OrderStatus.PAID
    assert engine.check_books() == []


def test_a_dropped_notification_is_recovered_by_requery(engine: Engine, clock: FixedClock) -> None:
    lossy = market(engine, clock, Chaos(drop_rate=1.0, min_delay=timedelta(0)))
    order_no = lossy.paid_order()
    assert lossy.deliver() == []
    assert engine.order(order_no).status is OrderStatus.PAYING
    clock.advance(minutes=11)
    [result] = lossy.collector.requery_stuck(older_than=timedelta(minutes=10))
    assert result.credited and result.payment.order_no == order_no
    assert lossy.collector.requery_stuck(older_than=timedelta(minutes=10)) == []
    assert engine.bill("stall1", "P1").paid_fen == 1234
    assert engine.check_books() == []


def test_each_credited_payment_is_announced_exactly_once(engine: Engine, clock: FixedClock) -> None:
    rough = market(engine, clock, Chaos(duplicate_rate=1.0, max_delay=timedelta(seconds=30)))
    order_no = rough.paid_order()
    clock.advance(seconds=31)
    first, _ = rough.deliver()
    rough.collector.requery(order_no)
    assert events(engine, "voice.broadcast") == [
        {
            "text": "收款 12.34 元",
            "amount_fen": 1234,
            "order_no": order_no,
            "merchant_id": "M100001",
            "channel_txn_id": first.payment.channel_txn_id,
        }
    ]


def test_a_payment_to_suspense_is_never_announced(calm: Market) -> None:
    order = calm.engine.create_order("stall1", ["P1"])
    calm.collector.start(order.order_no, "qr")
    calm.clock.advance(minutes=31)  # the order has expired when the payer pays
    calm.gateway.pay("qr", order.order_no)
    [result] = calm.deliver()
    assert result.status is PaymentStatus.SUSPENSE
    assert result.payment.reason == "order_expired"
    assert events(calm.engine, "voice.broadcast") == []
    assert calm.engine.check_books() == []


# -- rejections: a clear reason, nothing changes -------------------------------------------------


def signed(market: Market, order_no: str, **change: Any) -> tuple[dict[str, str], bytes]:
    values: dict[str, Any] = {
        "merchant_id": "M100001",
        "order_no": order_no,
        "txn_id": "QR-TXN-1",
        "amount_fen": 1234,
        "paid_at": market.clock.now(),
        "sent_at": market.clock.now(),
    }
    key = change.pop("key", KEY)
    values.update(change)
    return build_notification(key.encode(), **values)


def opened(market: Market) -> str:
    order = market.engine.create_order("stall1", ["P1"])
    market.collector.start(order.order_no, "qr")
    return order.order_no


def test_a_rejected_notification_changes_nothing(calm: Market) -> None:
    order_no = opened(calm)
    stale = calm.clock.now() - timedelta(minutes=6)
    headers, body = signed(calm, order_no)
    tampered = body.replace(b'"txn_id":"QR-TXN-1"', b'"txn_id":"QR-TXN-2"')
    cases = {
        "tampered": ((headers, tampered), "bad_signature"),
        "wrong key": (signed(calm, order_no, key=KEY_2), "bad_signature"),
        "wrong merchant": (
            signed(calm, order_no, merchant_id="M100002", key=KEY_2),
            "merchant_mismatch",
        ),
        "unknown merchant": (signed(calm, order_no, merchant_id="M404"), "unknown_merchant"),
        "stale": (signed(calm, order_no, sent_at=stale), "stale_timestamp"),
    }
    before = counts(calm.engine)
    for case, ((case_headers, case_body), reason) in cases.items():
        with pytest.raises(NotificationRejected) as caught:
            calm.collector.notify("qr", case_headers, case_body)
        assert caught.value.reason == reason, case
        assert calm.channel.reply(False, str(caught.value)).status_code == 400
    assert counts(calm.engine) == before
    assert calm.engine.order(order_no).status is OrderStatus.PAYING


def test_another_stalls_merchant_cannot_pay_this_stalls_order(calm: Market) -> None:
    order_no = opened(calm)
    headers, body = signed(calm, order_no, merchant_id="M100002", key=KEY_2)
    with pytest.raises(NotificationRejected) as caught:
        calm.collector.notify("qr", headers, body)
    assert caught.value.message == (
        f"order {order_no} belongs to biller stall1 (M100001), not to merchant M100002"
    )


def test_a_wrong_amount_is_held_by_the_core_and_not_announced(calm: Market) -> None:
    order_no = opened(calm)
    result = calm.collector.notify("qr", *signed(calm, order_no, amount_fen=1233))
    assert result is not None and result.status is PaymentStatus.HELD
    assert result.payment.reason == "amount_mismatch"
    assert calm.engine.bill("stall1", "P1").paid_fen == 0
    assert events(calm.engine, "voice.broadcast") == []
    assert calm.engine.check_books() == []


def test_a_merchant_whose_key_cannot_be_read_is_rejected_and_logged(
    engine: Engine, calm: Market
) -> None:
    order_no = opened(calm)
    calm.channel.merchants = SettingsMerchants(engine, "qr", "notify_key", DictSecrets({}))
    before = counts(engine)
    with capture_logs() as logs, pytest.raises(NotificationRejected) as caught:
        calm.collector.notify("qr", *signed(calm, order_no))
    assert caught.value.reason == "unknown_merchant"
    problems = {e["biller"]: e["problem"] for e in logs if e["event"].startswith("channel cred")}
    assert problems["stall1"] == (
        "qr settings of biller stall1: notify_key_env names environment variable "
        "'STALL1_QR_KEY', which is not set"
    )
    assert counts(engine) == before


def test_a_notification_asks_the_database_about_its_order_once(
    engine: Engine, calm: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_no = opened(calm)
    merchants = calm.channel.merchants
    assert isinstance(merchants, SettingsMerchants)
    asked: list[str] = []
    original = merchants.directory.settings_for_order

    def counting(number: str) -> Any:
        asked.append(number)
        return original(number)

    monkeypatch.setattr(merchants.directory, "settings_for_order", counting)
    merchants.key("M100001", fresh=True)  # forget what starting the order learned
    result = calm.collector.notify("qr", *signed(calm, order_no))
    assert result is not None and result.credited
    assert asked == [order_no]  # verification asked; the voice broadcast was answered from memory
    assert events(engine, "voice.broadcast")[0]["merchant_id"] == "M100001"
    assert merchants.order_owner("BF-NEVER-ISSUED") is None
    assert merchants.order_owner("BF-NEVER-ISSUED") is None
    assert asked == [order_no, "BF-NEVER-ISSUED", "BF-NEVER-ISSUED"]  # unknown: never remembered
    assert merchants.order_owner(order_no) is not None
    assert asked[-1] == "BF-NEVER-ISSUED"  # remembered
    merchants.key("M100001", fresh=True)  # a reload of the configs forgets the owners too
    assert merchants.order_owner(order_no) is not None
    assert asked[-1] == order_no


def test_remembered_owners_are_bounded(calm: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signed_json, "OWNERS_REMEMBERED", 1)
    merchants = calm.channel.merchants
    assert isinstance(merchants, SettingsMerchants)
    first, second = opened(calm), opened(calm)
    merchants.order_owner(first)
    merchants.order_owner(second)
    assert list(merchants._owners) == [second]


# -- the static stall code ----------------------------------------------------------------------


def test_the_stall_code_is_static_with_no_amount(calm: Market) -> None:
    payload = emv.decode(stall_code(calm.engine, "stall1"))
    assert payload.initiation is emv.Initiation.STATIC and payload.amount_fen is None
    assert payload.account_templates["26"]["01"] == "M100001"
    assert payload.language is not None and payload.language.name == "刘记水果摊"
    assert payload.additional_data == emv.AdditionalData(store_label="stall1")


def test_a_static_code_scan_becomes_an_open_amount_order_that_is_paid(calm: Market) -> None:
    order = open_amount_order(calm.engine, "stall1", 888, request_id="scan-1")
    assert order.total_fen == 888
    calm.collector.start(order.order_no, "qr")
    calm.gateway.pay("qr", order.order_no)
    [result] = calm.deliver()
    assert result.credited
    assert calm.engine.bill("stall1", "QR-scan-1").paid_fen == 888
    assert calm.engine.check_books() == []


def test_a_repeated_static_code_submission_returns_the_same_order(calm: Market) -> None:
    first = open_amount_order(calm.engine, "stall1", 888, request_id="scan-1")
    again = open_amount_order(calm.engine, "stall1", 888, request_id="scan-1")
    assert again.order_no == first.order_no
    with pytest.raises(Conflict) as caught:
        open_amount_order(calm.engine, "stall1", 999, request_id="scan-1")
    assert caught.value.message == "request_id scan-1 was submitted before for 8.88, not 9.99"


def test_a_static_code_amount_outside_the_stalls_bounds_is_refused(calm: Market) -> None:
    before = counts(calm.engine)
    for amount, shown in ((99, "0.99"), (50_001, "500.01")):
        with pytest.raises(InvalidAmount) as caught:
            open_amount_order(calm.engine, "stall1", amount)
        assert caught.value.message == (
            f"amount: {shown} is outside 1.00–500.00 for stall1's stall code"
        )
    assert counts(calm.engine) == before


def test_a_stall_that_does_not_take_qr_gets_no_code_and_no_order(calm: Market) -> None:
    disabled = ChannelConfig("qr", enabled=False, merchant_id="M100002")
    calm.engine.set_channel_config("stall2", disabled, actor="ops", reason="closed")
    with pytest.raises(ChannelRefused) as caught:
        open_amount_order(calm.engine, "stall2", 500)
    assert caught.value.message == "qr is disabled for stall2"
    with pytest.raises(ChannelRefused):
        stall_code(calm.engine, "stall2")


# -- refunds -------------------------------------------------------------------------------------


def test_a_refund_is_paid_out_through_the_aggregator(calm: Market) -> None:
    calm.paid_order()
    [result] = calm.deliver()
    refund = calm.engine.refund(
        result.payment.id, 500, request_id="r1", reason="bruised fruit", requested_by="liu"
    )
    [payout] = calm.collector.pay_out_refunds()
    assert payout.refund_no == refund.refund_no and payout.succeeded
    assert calm.engine.pending_refunds() == []
    assert calm.engine.check_books() == []
