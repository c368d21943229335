"""The demo's payers, paying through every channel against one sandbox.

:class:`DemoChannels` wires the aggregated QR, mobile banking, the counter, WeChat Pay, Alipay,
POS and auto-debit to the demo's engine through one :class:`~billfold.channels.collect.
Collector`; one seeded :class:`~billfold.testing.sandbox.gateway.SandboxGateway` plays every far end
and delivers notifications a few seconds late, some of them twice. Keys are made per run and
kept in memory only: the billers' channel configurations name them, never hold them.

Every payment is keyed — a request id, a bank transaction number, an idempotency key, a
receipt or trace number — and a payment whose order is already paid is not made again, so a
second run on the same database pays nothing twice.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from billfold.channels.alipay import AlipayChannel
from billfold.channels.autodebit import AutoDebit
from billfold.channels.base import Channel
from billfold.channels.collect import ChannelRefused, Collector
from billfold.channels.counter import CounterChannel, confirm_at_counter
from billfold.channels.mobile_banking import MobileBankingChannel, lookup
from billfold.channels.mobile_banking import pay as bank_pay
from billfold.channels.pos import PosChannel
from billfold.channels.qr import QrChannel, open_amount_order, route, stall_code
from billfold.channels.secrets import DictSecrets
from billfold.channels.wechatpay import WechatPayChannel
from billfold.clock import FixedClock
from billfold.collection.confirming import ConfirmResult
from billfold.engine import Engine
from billfold.errors import NotFound
from billfold.merchants.biller import Biller, BillerKind
from billfold.merchants.channel_config import ChannelConfig
from billfold.money import format_yuan
from billfold.settlement.complaint import ComplaintKind, ComplaintSource
from billfold.settlement.complaints import ComplaintDesk, NewComplaint
from billfold.testing.pos import FakeTerminal
from billfold.testing.sandbox.alipay import SandboxAlipay, SandboxAlipayApp
from billfold.testing.sandbox.autodebit import SandboxBank as DebitBank
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.mobile_banking import SandboxBank
from billfold.testing.sandbox.qr import SandboxAcquirer
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant, SandboxWechatPay

__all__ = ["CHAOS", "COLLEGE", "COLLEGE_CSV", "MARKET", "DemoChannels", "setup_channels"]

#: Mild and seeded: every notification arrives 1-20 s late, half of them twice.
CHAOS = Chaos(min_delay=timedelta(seconds=1), max_delay=timedelta(seconds=20), duplicate_rate=0.5)
SEED = 20260901

MARKET, COLLEGE = "demo-market", "demo-college"
COLLEGE_CSV = """\
bill_no,payer_id,payer_name,items,due_date,period
C2026-101,2026101,陈小华,tuition:学费=3200.00;dorm:住宿费=800.00,2026-09-15,2026秋
C2026-102,2026102,林小雨,tuition:学费=3200.00;dorm:住宿费=800.00,2026-09-15,2026秋
"""
QR_MERCHANT, QR_KEY_ENV = "M-DEMO-STALL-01", "BILLFOLD_DEMO_QR_NOTIFY_KEY"
BANK_KEY_ENV = "BILLFOLD_DEMO_BANK_PUBLIC_KEY"
WECHAT_MCHID, WECHAT_APPID, OPENID = (
    "1230000109",
    "wxd678efh567hg6787",
    "oDemo0Wechat0Payer0000000001",
)
ALIPAY_APP, ALIPAY_SELLER, BUYER = "2021000100000001", "2088100000000001", "2088102177846880"
TERMINAL = "T0000001"
LOST_BILL = "W202608-0104"  # paid by WeChat; the notification is lost, a complaint finds it
WECHAT_UA = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.50 NetType/WIFI"


def _qr_config() -> ChannelConfig:
    settings = {
        "merchant_name_en": "LIU FRUIT STALL",
        "merchant_city_en": "HANGZHOU",
        "merchant_city_zh": "杭州",
        "mcc": "5411",
        "notify_key_env": QR_KEY_ENV,
        "open_min_fen": 100,
        "open_max_fen": 50_000,
    }
    return ChannelConfig("qr", merchant_id=QR_MERCHANT, settings=settings)


def _configs(
    wechat: SandboxWechatMerchant, alipay: SandboxAlipayApp
) -> dict[str, list[ChannelConfig]]:
    """Which channels each biller takes (the college only mobile banking: its sole channel)."""
    bank = {"bank_public_key_env": BANK_KEY_ENV}
    return {
        "demo-school": [ChannelConfig("counter"), alipay.config()],
        "demo-water": [
            ChannelConfig("counter"),
            wechat.config(),
            ChannelConfig("pos"),
            ChannelConfig("autodebit"),
        ],
        MARKET: [_qr_config()],
        COLLEGE: [
            ChannelConfig("mobile_banking", sole=True, merchant_id="BANK-COLLEGE", settings=bank)
        ],
    }


def setup_channels(engine: Engine, clock: FixedClock) -> DemoChannels:
    """The stall and the college, every biller's channel configuration, and the sandbox."""
    existing = {b.code for b in engine.billers()}
    if MARKET not in existing:
        engine.create_biller(
            Biller(code=MARKET, name="东门市场 刘记水果摊", kind=BillerKind.MARKET_STALL),
            actor="demo",
        )
    if COLLEGE not in existing:
        engine.create_biller(
            Biller(code=COLLEGE, name="城南职业技术学院", kind=BillerKind.SCHOOL), actor="demo"
        )
    wechat = SandboxWechatMerchant.generate(WECHAT_MCHID, WECHAT_APPID)
    alipay = SandboxAlipayApp.generate(ALIPAY_APP, ALIPAY_SELLER)
    for code, configs in _configs(wechat, alipay).items():
        stored = engine.channel_configs(code)
        for config in configs:
            if config not in stored:  # a rerun leaves the configuration (and its audit) alone
                engine.set_channel_config(code, config, actor="demo", reason="demo onboarding")
    return DemoChannels(engine, clock, wechat, alipay)


class DemoChannels:
    def __init__(
        self,
        engine: Engine,
        clock: FixedClock,
        wechat: SandboxWechatMerchant,
        alipay: SandboxAlipayApp,
    ) -> None:
        self.engine = engine
        self.clock = clock
        bank_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        qr_key = secrets.token_hex(16).encode("ascii")
        public_pem = bank_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        keys = DictSecrets(
            {QR_KEY_ENV: qr_key, BANK_KEY_ENV: public_pem, **wechat.secrets(), **alipay.secrets()}
        )
        self.gateway = SandboxGateway(clock, CHAOS, seed=SEED)
        self.pos = PosChannel(engine)
        channels: list[Channel] = [
            CounterChannel(clock),
            QrChannel.for_engine(
                engine, SandboxAcquirer(self.gateway, {QR_MERCHANT: qr_key}), keys, render=False
            ),
            MobileBankingChannel.for_engine(engine, SandboxBank(self.gateway, bank_key), keys),
            WechatPayChannel(
                keys,
                engine,
                clock,
                SandboxWechatPay(self.gateway, [wechat]),
                notify_url="https://demo.billfold.invalid/notify/wechatpay",
            ),
            AlipayChannel(
                keys,
                engine,
                clock,
                SandboxAlipay(self.gateway, [alipay]),
                notify_url="https://demo.billfold.invalid/notify/alipay",
            ),
            self.pos,
        ]
        self.collector = Collector(engine, {channel.name: channel for channel in channels})
        self.autodebit = AutoDebit(engine, DebitBank(self.gateway))

    def settle(self) -> str:
        """Let a minute pass and hand what arrived meanwhile to the collector, in order."""
        self.clock.advance(timedelta(minutes=1))
        results = [self.collector.notify(d.channel, d.headers, d.body) for d in self.gateway.due()]
        repeats = sum(1 for r in results if r is not None and r.duplicate)
        return f"{len(results)} notification(s), {repeats} repeat(s) credited nothing"

    # -- the counter ----------------------------------------------------------------------
    def counter(
        self, biller: str, bill_nos: list[str], receipt: str, amount_fen: int | None = None
    ) -> ConfirmResult:
        """A clerk takes cash for the bills and confirms with the receipt number."""
        order = self.engine.create_order(
            biller, bill_nos, amount_fen=amount_fen, idempotency_key=f"demo-{receipt}"
        )
        if order.payable:
            self.collector.start(order.order_no, "counter")
        return confirm_at_counter(
            self.collector, order.order_no, receipt, order.total_fen, operator="clerk-01"
        )

    # -- the other channels ---------------------------------------------------------------
    def stall(self) -> str:
        """A shopper scans the stall's static code with WeChat and types in 12.50."""
        code = stall_code(self.engine, MARKET)
        flow = route(WECHAT_UA).flow.value
        order = open_amount_order(self.engine, MARKET, 1250, request_id="demo-stall-0001")
        said = f"stall code {code[:24]}… scanned in WeChat ({flow}), 12.50 entered"
        return f"{said}; {self._collect(order.order_no, order.payable, 'qr', None)}"

    def mobile_banking(self, student_no: str = "2026101") -> str:
        """A parent looks the college's bill up by 学号 in the bank's app, then pays it."""
        found = lookup(self.engine, student_no)
        said = f"lookup {student_no}: {found.message}"
        if found.found:
            bill = found.bills[0]
            answer = bank_pay(
                self.collector,
                bill.biller_code,
                [bill.bill_no],
                "DEMO-BANK-0001",
                bill.amount_due_fen,
            )
            said += f", {bill.bill_no} {format_yuan(bill.amount_due_fen)} → {answer.code.value}"
            if answer.accepted and answer.order_no:
                self.gateway.pay("mobile_banking", answer.order_no)
        return f"{said}; {self.settle()}"

    def mini_program(
        self, channel: str, biller: str, bill_no: str, payer: str, *, lose: bool = False
    ) -> str:
        """A WeChat or Alipay mini-program pays one bill (``lose``: its notification is lost)."""
        order = self.engine.create_order(
            biller, [bill_no], idempotency_key=f"demo-{channel}-{bill_no}"
        )
        said = f"{bill_no} {format_yuan(order.total_fen)} via {channel}"
        paid = self._collect(order.order_no, order.payable, channel, payer, lose=lose)
        return f"{said}; {paid}"

    def _collect(
        self, order_no: str, payable: bool, channel: str, payer: str | None, *, lose: bool = False
    ) -> str:
        """Start the order with ``channel``, let the payer pay, deliver what arrives."""
        if payable:
            self.collector.start(order_no, channel, payer_ref=payer)
            self.gateway.pay(channel, order_no)
            if lose:
                return (
                    f"notification lost ({self.gateway.lose(channel, order_no)}); {self.settle()}"
                )
            return self.settle()
        self.settle()  # the clock moves the same on every run
        return f"order {order_no} is {self.engine.order(order_no).status.value} already"

    def wechat(self) -> str:
        """周先生's neighbour pays by WeChat; WeChat's notification never arrives."""
        return self.mini_program("wechatpay", "demo-water", LOST_BILL, OPENID, lose=True)

    def complaint(self) -> tuple[str, dict[str, str]]:
        """The payer of the lost WeChat payment complains "I paid but the bill shows unpaid"
        on the payer page; the engine requeries WeChat Pay, credits the money through the
        exactly-once confirmation and resolves the complaint. A rerun finds the same one."""
        desk = ComplaintDesk(self.engine, self.collector.requery)
        water = self.engine.biller("demo-water").id or 0
        found = next(
            (c for c in desk.complaints(biller_ids=[water]) if c.bill_no == LOST_BILL), None
        )
        if found is None:
            order = self.engine.create_order(
                "demo-water", [LOST_BILL], idempotency_key=f"demo-wechatpay-{LOST_BILL}"
            )
            remote = self.gateway.query("wechatpay", order.order_no)
            found = desk.open(
                NewComplaint(
                    "demo-water",
                    ComplaintKind.PAID_NOT_CREDITED,
                    "缴费人",
                    ComplaintSource.PAYER,
                    bill_no=LOST_BILL,
                    channel_ref=(remote.txn_id or "") if remote else "",
                    description="已付款但账单显示未缴",
                )
            )
        bill = self.engine.bill("demo-water", LOST_BILL)
        view = {
            "bill_no": LOST_BILL,
            "kind": found.kind.value,
            "status": found.status.value,
            "answer": found.answer.value if found.answer else "",
            "bill": bill.stored_status.value,
        }
        line = (
            f"{LOST_BILL} {view['kind']} → {view['status']} ({view['answer']}), "
            f"bill {view['bill']} {format_yuan(bill.paid_fen)}"
        )
        return line, view

    def alipay(self) -> str:
        return self.mini_program("alipay", "demo-school", "T2026-005", BUYER)

    def card(self) -> str:
        """A card at the water company's service hall, by bill number (trace 000001)."""
        try:
            self.pos.terminal(TERMINAL)
        except NotFound:
            self.pos.register_terminal(TERMINAL, "demo-water", actor="demo")
        bill = self.engine.bill("demo-water", "W202608-0105")  # a repeat gets the first answer
        answer = FakeTerminal(self.pos, TERMINAL).sale(bill.principal_fen, bill_ref=bill.bill_no)
        said = answer.message if answer is not None else "no answer"
        return f"{bill.bill_no} {format_yuan(bill.principal_fen)} by card: {said}"

    def mandate(self, payer_id: str = "0101006") -> str:
        """A household signs an auto-debit mandate; the pre-debit notice goes out 24 h ahead."""
        if not any(ident == payer_id for _, _, ident in self.autodebit.mandates("demo-water")):
            signed = self.autodebit.sign(
                "demo-water",
                payer_id,
                "6222021234567890",
                per_debit_limit_fen=50_000,
                monthly_limit_fen=100_000,
                actor="teller",
            )
            self.autodebit.activate(signed.mandate_no, agreement_no="DEMO-AGR-0106", actor="bank")
        return f"auto-debit mandate of {payer_id}: {self.autodebit.run_once()}"

    def refused(self) -> str:
        """A college parent tries WeChat Pay; the college takes mobile banking only."""
        order = self.engine.create_order(
            COLLEGE, ["C2026-102"], idempotency_key="demo-college-wechat-C2026-102"
        )
        try:
            self.collector.start(order.order_no, "wechatpay", payer_ref=OPENID)
        except ChannelRefused as exc:
            return exc.message
        return f"{COLLEGE} took wechatpay: its designated sole channel is not configured"
