"""Alipay refuses refunds it can never make as alipay.trade.refund does — past the window
(ACQ.TRADE_HAS_FINISHED, three months by default) or for a closed buyer account
(ACQ.BUYER_ERROR) — and each such refund needs a bank transfer; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billfold import Biller, BillerKind, Engine
from billfold.channels.alipay import AlipayChannel
from billfold.channels.base import Decline
from billfold.channels.collect import Collector
from billfold.channels.secrets import DictSecrets
from billfold.clock import FixedClock
from billfold.collection.refund import RefundStatus
from billfold.collection.refund_transfer import TransferReason
from billfold.settlement.refund_transfer_desk import RefundTransferDesk
from billfold.testing.sandbox.alipay import SandboxAlipay, SandboxAlipayApp
from billfold.testing.sandbox.gateway import SandboxGateway

BUYER = "2088102177846880"


@pytest.fixture(scope="module")
def app() -> SandboxAlipayApp:
    return SandboxAlipayApp.generate("2021000117600001", "2088101117955611")


def _paid_refund(
    engine: Engine, clock: FixedClock, app: SandboxAlipayApp
) -> tuple[Collector, SandboxGateway, str, str]:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", b"bill_no,payer_id,amount\nT1,2024001,10.00\n")
    engine.set_channel_config("s1", app.config(), actor="ops", reason="onboarding")
    gateway = SandboxGateway(clock, seed=7)
    channel = AlipayChannel(
        DictSecrets(app.secrets()),
        engine,
        clock,
        SandboxAlipay(gateway, [app]),
        notify_url="https://p.example/n",
    )
    collector = Collector(engine, {"alipay": channel})
    order = engine.create_order("s1", ["T1"])
    collector.start(order.order_no, "alipay", payer_ref=BUYER)
    gateway.pay("alipay", order.order_no)
    (paid,) = [collector.notify(d.channel, d.headers, d.body) for d in gateway.due()]
    assert paid is not None
    refund = engine.refund(paid.payment.id, 300, request_id="r", reason="多缴", requested_by="c")
    return collector, gateway, order.order_no, refund.refund_no


def test_a_refund_past_alipays_window_needs_a_bank_transfer(
    engine: Engine, clock: FixedClock, app: SandboxAlipayApp
) -> None:
    collector, _, _, refund_no = _paid_refund(engine, clock, app)
    clock.advance(timedelta(days=91))
    (payout,) = collector.pay_out_refunds()
    assert not payout.succeeded and "ACQ.TRADE_HAS_FINISHED" in payout.message
    transfer = RefundTransferDesk(engine).get(refund_no)
    assert transfer.reason is TransferReason.WINDOW_CLOSED
    assert transfer.refund_status is RefundStatus.NEEDS_TRANSFER


def test_a_closed_alipay_account_needs_a_bank_transfer(
    engine: Engine, clock: FixedClock, app: SandboxAlipayApp
) -> None:
    collector, gateway, order_no, refund_no = _paid_refund(engine, clock, app)
    gateway.refuse_refunds("alipay", order_no, Decline.ACCOUNT_CLOSED)
    (payout,) = collector.pay_out_refunds()
    assert "ACQ.BUYER_ERROR" in payout.message
    assert RefundTransferDesk(engine).get(refund_no).reason is TransferReason.ACCOUNT_CLOSED


def test_a_refund_inside_the_window_is_paid_back_the_way_it_came(
    engine: Engine, clock: FixedClock, app: SandboxAlipayApp
) -> None:
    collector, _, _, refund_no = _paid_refund(engine, clock, app)
    clock.advance(timedelta(days=89))
    (payout,) = collector.pay_out_refunds()
    assert payout.succeeded
    assert RefundTransferDesk(engine).transfers() == []
    with engine.uow() as uow:
        refund = uow.refunds.get_by_no(refund_no)
    assert refund is not None and refund.status is RefundStatus.SUCCEEDED
