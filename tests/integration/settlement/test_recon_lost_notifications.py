"""The sandbox loses 5% of WeChat Pay's notifications. The next day's trade bill, generated
from the sandbox's own records in WeChat Pay's format and read by the real parser, finds
exactly the orders whose every notification was lost and credits them through the engine's
confirm; the books balance; reconciling the file again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from recon_fixtures import DAY, local, wx_bill  # type: ignore[import-not-found]
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine, FeeRule, FixedClock, OrderStatus
from billfold.adapters.db import schema as t
from billfold.channels.base import RemoteState
from billfold.channels.collect import Collector
from billfold.channels.secrets import DictSecrets
from billfold.channels.wechatpay import WechatPayChannel
from billfold.money import format_yuan
from billfold.settlement.discrepancy import Action, Code
from billfold.settlement.reconciler import Reconciler
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant, SandboxWechatPay

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
FEE = FeeRule("wechatpay", bps=60, min_fen=1)


@pytest.fixture(scope="module")
def merchant() -> SandboxWechatMerchant:
    return SandboxWechatMerchant.generate("1230000109", "wxd678efh567hg6787")


def _trade_bill(gateway: SandboxGateway, mchid: str) -> bytes:
    """WeChat Pay's trade bill for the day, from what the sandbox knows was paid."""
    rows = []
    for remote in sorted(gateway.orders.values(), key=lambda r: r.paid_at or r.created_at):
        if remote.state is not RemoteState.PAID or remote.paid_at is None:
            continue
        amount = format_yuan(remote.paid_fen)
        fee = format_yuan(FEE.fee_for(remote.paid_fen))
        cells = [
            local(remote.paid_at), "wxd678efh567hg6787", mchid, "0", "", remote.txn_id or "",
            remote.order_no, OPENID, "JSAPI", "SUCCESS", "OTHERS", "CNY", amount, "0.00", "0",
            "0", "0.00", "0.00", "", "", "学费", "", f"{fee}000", "0.60%", amount, "0.00", "",
        ]  # fmt: skip
        rows.append(",".join("`" + cell for cell in cells))
    return wx_bill(*rows)


def _count(engine: Engine, table: object) -> int:
    with engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_next_days_statement_credits_exactly_the_lost_notifications(
    engine: Engine, clock: FixedClock, merchant: SandboxWechatMerchant
) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL, fee_rules=(FEE,)))
    engine.set_channel_config("s1", merchant.config(), actor="ops", reason="onboarding")
    count = 80
    rows = [f"T{n:03d},2026{n:04d},{100 + n}.{n % 100:02d}" for n in range(count)]
    engine.import_bills("s1", ("bill_no,payer_id,amount\n" + "\n".join(rows)).encode())
    gateway = SandboxGateway(clock, Chaos(drop_rate=0.05, duplicate_rate=0.2), seed=11)
    sandbox = SandboxWechatPay(gateway, [merchant])
    channel = WechatPayChannel(
        DictSecrets(merchant.secrets()), engine, clock, sandbox, notify_url="https://x/notify"
    )
    collector = Collector(engine, {"wechatpay": channel})
    delivered: list[str] = []

    def deliver() -> None:
        for delivery in gateway.due():
            delivered.append(delivery.order_no)
            collector.notify(delivery.channel, delivery.headers, delivery.body)

    for n in range(count):
        order = engine.create_order("s1", [f"T{n:03d}"])
        collector.start(order.order_no, "wechatpay", payer_ref=OPENID)
        gateway.pay("wechatpay", order.order_no)
        clock.advance(seconds=30)
        deliver()
    clock.advance(minutes=5)
    deliver()
    assert gateway.outbox == []  # everything that was not dropped has arrived
    # The sandbox, not the test, dropped them: about 5% of all notifications sent.
    sent = len(delivered) + len(gateway.dropped)
    assert sent > count and 0.02 <= len(gateway.dropped) / sent <= 0.10
    # Lost: every copy of the order's notification was dropped (a duplicate may have arrived).
    lost = {d.order_no for d in gateway.dropped} - set(delivered)
    assert len(lost) >= 2
    assert lost == {
        r.order_no
        for r in gateway.orders.values()
        if engine.order(r.order_no).status is OrderStatus.PAYING
    }

    clock.set(datetime(2026, 9, 1, 22, 0, tzinfo=UTC))  # 06:00 the next day in Shanghai
    bill = _trade_bill(gateway, merchant.mchid)
    recon = Reconciler(engine)
    result = recon.reconcile(bill, format="wechatpay", business_date=DAY, file_name="wx.csv")
    assert result.run.merchant_id == merchant.mchid
    assert {d.code for d in result.discrepancies} == {Code.CHANNEL_ONLY}
    assert {d.order_no for d in result.discrepancies} == lost
    assert {d.order_no for d in result.auto_resolved} == lost
    assert all(d.action is Action.CREDIT for d in result.auto_resolved)
    for order_no in lost:
        assert engine.order(order_no).status is OrderStatus.PAID
    assert result.run.matched_count == count - len(lost)
    assert engine.check_books() == []

    before = (engine.trial_balance(), _count(engine, t.payments), _count(engine, t.audit_log))
    again = recon.reconcile(bill, format="wechatpay", business_date=DAY, file_name="wx.csv")
    assert not again.created and again.auto_resolved == []
    assert (engine.trial_balance(), _count(engine, t.payments), _count(engine, t.audit_log)) == (
        before
    )
