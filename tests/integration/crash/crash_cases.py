"""The money use cases the crash harness runs (billfold.testing.crash), each with its set-up.

Each set-up builds a small world on the engine and returns the use case's inputs — what a
client would send again after a crash: ids, amounts, request ids, idempotency keys.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from billfold import Biller, BillerKind, Engine, FeeRule, FixedClock, SettlementAccount
from billfold.adapters.outbox.dispatcher import run_once
from billfold.adapters.outbox.endpoints import add_endpoint
from billfold.adapters.outbox.retry import RetryPolicy
from billfold.demo.gov_presale import (
    BUREAU_CODE,
    CONTRACTS,
    DEVELOPER,
    PROJECT,
    PROJECT_TERMINAL,
    Sandbox,
    setup_presale,
)
from billfold.merchants.channel_config import ChannelConfig
from billfold.money import format_yuan
from billfold.packs.presale import PresaleDesk
from billfold.settlement.discrepancy import Action
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.settler import Profile, Settler
from billfold.testing.crash import CrashCase
from billfold.testing.webhooks import FakeTransport

SCHOOL = "s1"
WX_MCH = "1900000109"


def school(engine: Engine, *amounts: str) -> list[str]:
    """A school taking WeChat Pay (0.6 % fee), one bill per amount, one order each."""
    engine.create_biller(
        Biller(
            code=SCHOOL,
            name="第一中学",
            kind=BillerKind.SCHOOL,
            settlement_account=SettlementAccount("工商银行", "第一中学", "6222020200112233"),
            fee_rules=(FeeRule("wechatpay", bps=60, min_fen=1),),
        )
    )
    engine.set_channel_config(
        SCHOOL, ChannelConfig("wechatpay", merchant_id=WX_MCH), actor="t", reason="setup"
    )
    rows = [f"B{n:04d},2026{n:04d},{amount}" for n, amount in enumerate(amounts, 1)]
    engine.import_bills(SCHOOL, ("bill_no,payer_id,amount\n" + "\n".join(rows)).encode())
    return [engine.create_order(SCHOOL, [f"B{n:04d}"]).order_no for n in range(1, len(amounts) + 1)]


def paid(engine: Engine, amount: str = "100.00") -> int:
    (order_no,) = school(engine, amount)
    order = engine.order(order_no)
    return engine.confirm("wechatpay", "W1", order_no, order.total_fen).payment.id


# -- confirm, credit after review, refund, refund completion, reversal, waiver ---------------


def _confirm_setup(engine: Engine) -> Any:
    (order_no,) = school(engine, "100.00")
    return order_no


def _confirm(engine: Engine, order_no: Any) -> object:
    return engine.confirm("wechatpay", "W1", order_no, 10000)


def _held_setup(engine: Engine) -> Any:
    (order_no,) = school(engine, "100.00")
    return engine.confirm("wechatpay", "W1", order_no, 12000).payment.id  # 20.00 too much


def _credit_held(engine: Engine, payment_id: Any) -> object:
    return engine.credit_held(payment_id, by="reviewer", reason="paid 20.00 too much")


def _refund(engine: Engine, payment_id: Any) -> object:
    return engine.refund(
        payment_id, 3000, request_id="RQ-1", reason="overcharged", requested_by="clerk"
    )


def _refund_setup(engine: Engine) -> Any:
    return _refund(engine, paid(engine)).refund_no  # type: ignore[attr-defined]


def _complete_refund(engine: Engine, refund_no: Any) -> object:
    return engine.complete_refund(refund_no, channel_refund_id="WXR-1")


def _reverse(engine: Engine, _: Any) -> object:
    return engine.reverse("wechatpay", "W1", reason="terminal timed out", requested_by="clerk")


def _waiver_setup(engine: Engine) -> Any:
    school(engine, "100.00")
    return "B0001"


def _waive(engine: Engine, bill_no: Any) -> object:
    return engine.waive(
        SCHOOL, bill_no, 2000, reason="助学减免", granted_by="bursar", request_id="WV-1"
    )


# -- settlement, escrow release, discrepancy resolution, outbox ------------------------------


def _settlement_setup(engine: Engine) -> Any:
    paid(engine)
    settler = Settler(engine)
    settler.set_profile(SCHOOL, Profile(settle_unreconciled=True), actor="ops", reason="T+0")
    return settler.draft(SCHOOL, engine.today(SCHOOL), by="clerk").batch_no


def _approve(engine: Engine, batch_no: Any) -> object:
    return Settler(engine).approve(batch_no, by="supervisor")


def _approved_setup(engine: Engine) -> Any:
    return _approve(engine, _settlement_setup(engine)).batch_no  # type: ignore[attr-defined]


def _pay(engine: Engine, batch_no: Any) -> object:
    return Settler(engine).pay(batch_no, by="cashier")


def _paid_out_setup(engine: Engine) -> Any:
    return _pay(engine, _approved_setup(engine)).batch_no  # type: ignore[attr-defined]


def _confirm_payout(engine: Engine, batch_no: Any) -> object:
    return Settler(engine).confirm(batch_no, by="cashier")


def _release_setup(engine: Engine) -> Any:
    setup_presale(engine)
    terminal = Sandbox(engine).terminal(PROJECT_TERMINAL, DEVELOPER, PROJECT)
    terminal.sale(100_000_000, bill_ref=CONTRACTS[0].contract_no)
    PresaleDesk(engine).sync()
    return "R1"


def _release(engine: Engine, request_id: Any) -> object:
    return PresaleDesk(engine).release(
        BUREAU_CODE, 20_000_000, request_id=request_id, by="developer", reason="基础工程款"
    )


def _wx_statement(order_no: str) -> bytes:
    header = (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
        "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
        "费率备注"
    )
    cells = [
        "2026-09-01 10:00:00", "wx2421b1c4370ec43b", WX_MCH, "0", "", "W9", order_no,
        "oUpF8uMuAJO_M2p", "NATIVE", "SUCCESS", "OTHERS", "CNY", format_yuan(3000), "0.00",
        "0", "0", "0.00", "0.00", "", "", "学费", "", "0.18000", "0.60%", format_yuan(3000),
        "0.00", "",
    ]  # fmt: skip
    summary = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
    row = ",".join("`" + cell for cell in cells)
    return "\n".join([header, row, summary, "`1,`30.00,`0.00,`0.00,`0.18,`30.00,`0.00"]).encode()


def _discrepancy_setup(engine: Engine) -> Any:
    (order_no,) = school(engine, "30.00")
    run = Reconciler(engine).reconcile(
        _wx_statement(order_no),
        format="wechatpay",
        business_date=engine.today(SCHOOL),
        auto_resolve=False,
    )
    (lost,) = run.discrepancies  # the channel has a payment we never heard of
    return lost.id


def _resolve(engine: Engine, discrepancy_id: Any) -> object:
    return Reconciler(engine).resolve(
        discrepancy_id,
        Action.CREDIT,
        by="reconciler",
        reason="lost notification",
        request_id="RS-1",
    )


TRANSPORT = FakeTransport()
POLICY = RetryPolicy()


def _outbox_setup(engine: Engine) -> Any:
    (order_no,) = school(engine, "100.00")
    add_endpoint(engine, SCHOOL, "https://school.example/hooks", "s" * 32, clock=engine.clock)
    engine.confirm("wechatpay", "W1", order_no, 10000)
    return None


def _dispatch(engine: Engine, _: Any) -> object:
    return run_once(engine, TRANSPORT, engine.clock, policy=POLICY)


def _dispatch_after_lease(engine: Engine, _: Any) -> object:
    """The dispatcher restarts: a delivery it had claimed comes due again after the lease."""
    later = FixedClock(engine.clock.now() + POLICY.lease + timedelta(seconds=1))
    return run_once(engine, TRANSPORT, later, policy=POLICY)


CASES = (
    CrashCase("confirm", _confirm_setup, _confirm),
    CrashCase("credit after review", _held_setup, _credit_held),
    CrashCase("refund", paid, _refund),
    CrashCase("refund completion", _refund_setup, _complete_refund),
    CrashCase("reversal", paid, _reverse),
    CrashCase("waiver", _waiver_setup, _waive),
    CrashCase("settlement approve", _settlement_setup, _approve),
    CrashCase("settlement pay", _approved_setup, _pay),
    CrashCase("settlement confirm", _paid_out_setup, _confirm_payout),
    CrashCase("escrow release", _release_setup, _release),
    CrashCase("discrepancy resolution", _discrepancy_setup, _resolve),
    CrashCase(
        "outbox fan-out and delivery",
        _outbox_setup,
        _dispatch,
        retry=_dispatch_after_lease,
        # a delivery claimed before the crash is attempted again after its lease: at least
        # once (receivers drop repeats by X-Billfold-Event-Id)
        ignore={"outbox_deliveries": ("attempts", "next_attempt_at", "delivered_at")},
    ),
)
