"""Chaos: 1,000 orders over every channel, one misbehaving sandbox, one order flow.

Under the sandbox with duplicates, drops and reordering at a high rate, 1,000 orders over all
channels end with every paid order credited exactly once and the journal balanced.

One seeded :class:`SandboxGateway` plays the far end of the aggregated QR, mobile banking,
the counter clerks' confirmations, WeChat Pay, Alipay and the auto-debit bank. It fails some
payments, sends some notifications twice, loses some and delays all of them by up to three
minutes, so they arrive out of order. Card terminals lose requests and answers and reverse
(冲正); the auto-debit bank loses answers and is unreachable. Some payers pay the same bill
through two channels. The clock moves in 20-second steps; whatever has arrived is handed to
``Collector.notify`` in arrival order; lost notifications are recovered by
``Collector.requery_stuck`` (a counter clerk, whose desk cannot be asked, presses confirm
again). The end state is then checked with SQL against what the sandbox, the terminals and
the bank say happened, and every notification is delivered once more to show that it
changes nothing.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import and_, func, select

from billfold import Biller, BillerKind, Engine, PaymentStatus
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.mandates import mandate_debits
from billfold.channels.alipay import AlipayChannel
from billfold.channels.autodebit import AutoDebit
from billfold.channels.base import Channel, RemoteState
from billfold.channels.collect import Collector
from billfold.channels.counter import CounterChannel, confirm_cash_refund
from billfold.channels.mobile_banking import MobileBankingChannel, lookup
from billfold.channels.mobile_banking import pay as bank_pay
from billfold.channels.pos import PosChannel, Sale
from billfold.channels.qr import QrChannel
from billfold.channels.secrets import DictSecrets
from billfold.channels.verification import NotificationRejected
from billfold.channels.wechatpay import WechatPayChannel
from billfold.clock import FixedClock
from billfold.collection.mandate import DebitStatus
from billfold.merchants.channel_config import ChannelConfig
from billfold.money import format_yuan
from billfold.testing.pos import FakeTerminal
from billfold.testing.sandbox.alipay import SandboxAlipay, SandboxAlipayApp
from billfold.testing.sandbox.autodebit import SandboxBank as DebitSandboxBank
from billfold.testing.sandbox.gateway import Chaos, Delivery, RemoteOrder, SandboxGateway
from billfold.testing.sandbox.mobile_banking import SandboxBank
from billfold.testing.sandbox.qr import SandboxAcquirer
from billfold.testing.sandbox.wechatpay import SandboxWechatMerchant, SandboxWechatPay

pytestmark = pytest.mark.slow

SEED = 20260901
CHAOS = Chaos(
    min_delay=timedelta(seconds=1),
    max_delay=timedelta(minutes=3),
    duplicate_rate=0.3,
    drop_rate=0.1,
    fail_rate=0.05,
)
STEP = timedelta(seconds=20)
STEPS = 40
#: The channels whose far end notifies (and can be asked); a bill is paid twice among them.
NOTIFYING = ("qr", "mobile_banking", "counter", "wechatpay", "alipay")
SINGLE_BILLS, PAIRED_BILLS, POS_BILLS, DEBITED_BILLS = 700, 50, 100, 100
ORDERS = SINGLE_BILLS + 2 * PAIRED_BILLS + POS_BILLS + DEBITED_BILLS
BILLERS = {"water": ("城东水务", BillerKind.UTILITY), "school": ("第一实验中学", BillerKind.SCHOOL)}
DEBIT_DUE = "2026-09-02"  # planned 2026-09-01 16:00 UTC; noticed now, debited 24 h later
DEBIT_AT = datetime(2026, 9, 2, 2, 0, tzinfo=UTC)
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
BUYER = "2088102177846880"
TERMINALS = {"water": "T0000001", "school": "T0000002"}
CLERK = "clerk-07"


@dataclass(frozen=True)
class Keys:
    """Every merchant's keys, made once for both databases (RSA keys take a while)."""

    bank: rsa.RSAPrivateKey
    wechat: dict[str, SandboxWechatMerchant]
    alipay: dict[str, SandboxAlipayApp]
    qr: dict[str, bytes]


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        bank=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        wechat={
            code: SandboxWechatMerchant.generate(f"123000010{i}", f"wx00000000000001{i}")
            for i, code in enumerate(BILLERS)
        },
        alipay={
            code: SandboxAlipayApp.generate(f"202100010000000{i}", f"208810000000000{i}")
            for i, code in enumerate(BILLERS)
        },
        qr={code: f"{code}-qr-notify-key-0123456789".encode() for code in BILLERS},
    )


@dataclass(frozen=True)
class Plan:
    """One bill and how it is paid: one notifying channel, two of them, ``pos`` or
    ``autodebit``."""

    biller: str
    bill_no: str
    payer_id: str
    amount_fen: int
    channels: tuple[str, ...]


def plans(rng: random.Random) -> list[Plan]:
    kinds = (
        [tuple([NOTIFYING[i % len(NOTIFYING)]]) for i in range(SINGLE_BILLS)]
        + [tuple(rng.sample(NOTIFYING, 2)) for _ in range(PAIRED_BILLS)]
        + [("pos",)] * POS_BILLS
        + [("autodebit",)] * DEBITED_BILLS
    )
    rng.shuffle(kinds)
    codes = list(BILLERS)
    return [
        Plan(codes[i % 2], f"B{i:05d}", f"P{i:05d}", rng.randint(1_000, 80_000), channels)
        for i, channels in enumerate(kinds)
    ]


def bills_csv(biller: str, planned: list[Plan]) -> bytes:
    lines = ["bill_no,payer_id,amount,due_date"]
    for plan in planned:
        if plan.biller == biller:
            due = DEBIT_DUE if plan.channels == ("autodebit",) else ""
            lines.append(f"{plan.bill_no},{plan.payer_id},{format_yuan(plan.amount_fen)},{due}")
    return ("\n".join(lines) + "\n").encode()


def counter_confirmation(remote: RemoteOrder, sent_at: datetime) -> tuple[dict[str, str], bytes]:
    """What a clerk's screen sends when the payer has paid at the counter (its HTTP form)."""
    body = {
        "order_no": remote.order_no,
        "receipt_no": f"R{remote.txn_id}",
        "amount_fen": remote.paid_fen,
        "operator": CLERK,
        "tender": "cash",
    }
    return {"Content-Type": "application/json"}, json.dumps(body).encode()


@dataclass
class World:
    engine: Engine
    clock: FixedClock
    gateway: SandboxGateway
    collector: Collector
    alipay: SandboxAlipay
    debit_bank: DebitSandboxBank
    autodebit: AutoDebit
    terminals: dict[str, FakeTerminal]
    rng: random.Random
    delivered: list[Delivery] = field(default_factory=list)
    pos_expected: dict[str, bool] = field(default_factory=dict)  # order → credited?
    pos_chaos: Counter[str] = field(default_factory=Counter)
    bank_serial: int = 0

    def deliver(self) -> None:
        for delivery in self.gateway.due():
            self.collector.notify(delivery.channel, delivery.headers, delivery.body)
            self.delivered.append(delivery)

    def tick(self) -> None:
        self.clock.advance(STEP)
        self.deliver()

    def open_order(self, plan: Plan, channel: str) -> str:
        """The payer's way in: an order started with ``channel`` (the bank looks the bill up
        first, then asks to pay it under its own transaction number)."""
        if channel == "mobile_banking":
            found = lookup(self.engine, plan.payer_id, plan.biller)
            [bill] = found.bills
            self.bank_serial += 1
            answer = bank_pay(
                self.collector,
                plan.biller,
                [bill.bill_no],
                f"BK{self.bank_serial:08d}",
                bill.amount_due_fen,
            )
            assert answer.accepted and answer.order_no, answer.message
            return answer.order_no
        order = self.engine.create_order(plan.biller, [plan.bill_no])
        payer_ref = {"wechatpay": OPENID, "alipay": BUYER, "pos": TERMINALS[plan.biller]}
        self.collector.start(order.order_no, channel, payer_ref=payer_ref.get(channel))
        if channel == "counter":  # the clerk's desk: the payer hands over cash there
            self.gateway.open(channel, order.order_no, order.total_fen)
        return order.order_no

    def pay(self, plan: Plan) -> None:
        if plan.channels == ("pos",):
            self.card_sale(plan, self.open_order(plan, "pos"))
            return
        opened = [(channel, self.open_order(plan, channel)) for channel in plan.channels]
        self.rng.shuffle(opened)  # which of two payments comes first is up to the payer
        for channel, order_no in opened:
            self.gateway.pay(channel, order_no)

    def card_sale(self, plan: Plan, order_no: str) -> None:
        """A card sale over a terminal link that loses requests and answers, and repeats."""
        terminal = self.terminals[plan.biller]
        roll = self.rng.random()
        if roll < 0.10:  # billfold took the sale; the answer was lost: the terminal reverses
            assert terminal.sale(plan.amount_fen, order_no=order_no, lose="answer") is None
            assert terminal.reverse_unanswered().approved
            self.pos_chaos["answer lost, reversed"] += 1
            self.pos_expected[order_no] = False
        elif roll < 0.15:  # the request was lost; the reversal overtakes the late sale
            assert terminal.sale(plan.amount_fen, order_no=order_no, lose="request") is None
            late = terminal.unanswered
            assert late is not None and terminal.reverse_unanswered().approved
            assert not terminal.host.sale(late).approved
            self.pos_chaos["request lost, reversed, then arrived"] += 1
            self.pos_expected[order_no] = False
        else:
            answer = terminal.sale(plan.amount_fen, order_no=order_no)
            assert answer is not None and answer.approved, answer
            if roll < 0.35:  # the terminal sends the same sale again
                again = Sale(
                    terminal.terminal_id,
                    terminal.batch_no,
                    f"{terminal.trace:06d}",
                    plan.amount_fen,
                    order_no=order_no,
                    card_masked=terminal.card,
                )
                assert terminal.host.sale(again) == answer
                self.pos_chaos["sent twice"] += 1
            self.pos_expected[order_no] = True


def build_world(engine: Engine, clock: FixedClock, keys: Keys) -> World:
    bank_pem = keys.bank.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    values: dict[str, str | bytes] = {"CHAOS_BANK_PUBLIC_KEY": bank_pem}
    for code, (name, kind) in BILLERS.items():
        values[f"CHAOS_{code.upper()}_QR_KEY"] = keys.qr[code]
        values.update(keys.wechat[code].secrets())
        values.update(keys.alipay[code].secrets())
        engine.create_biller(Biller(code=code, name=name, kind=kind))
        configs = [
            ChannelConfig(
                "qr",
                merchant_id=f"M-{code.upper()}",
                settings={
                    "merchant_name_en": code.upper(),
                    "merchant_city_en": "HANGZHOU",
                    "notify_key_env": f"CHAOS_{code.upper()}_QR_KEY",
                },
            ),
            ChannelConfig(
                "mobile_banking",
                merchant_id=f"BANK-{code.upper()}",
                settings={"bank_public_key_env": "CHAOS_BANK_PUBLIC_KEY"},
            ),
            ChannelConfig("counter"),
            keys.wechat[code].config(),
            keys.alipay[code].config(),
            ChannelConfig("pos"),
            ChannelConfig("autodebit"),
        ]
        for config in configs:
            engine.set_channel_config(code, config, actor="ops", reason="onboarding")
    secrets = DictSecrets(values)
    gateway = SandboxGateway(clock, CHAOS, seed=SEED)
    gateway.register("counter", counter_confirmation)
    qr_keys = {f"M-{code.upper()}": keys.qr[code] for code in BILLERS}
    alipay = SandboxAlipay(gateway, keys.alipay.values())
    pos = PosChannel(engine)
    channels: list[Channel] = [
        QrChannel.for_engine(engine, SandboxAcquirer(gateway, qr_keys), secrets, render=False),
        MobileBankingChannel.for_engine(engine, SandboxBank(gateway, keys.bank), secrets),
        CounterChannel(clock),
        WechatPayChannel(
            secrets,
            engine,
            clock,
            SandboxWechatPay(gateway, keys.wechat.values()),
            notify_url="https://pay.example.com/notify/wechatpay",
        ),
        AlipayChannel(
            secrets, engine, clock, alipay, notify_url="https://pay.example.com/notify/alipay"
        ),
        pos,
    ]
    collector = Collector(engine, {channel.name: channel for channel in channels})
    terminals = {}
    for code, terminal_id in TERMINALS.items():
        pos.register_terminal(terminal_id, code, actor="ops")
        terminals[code] = FakeTerminal(pos, terminal_id)
    debit_bank = DebitSandboxBank(gateway)
    return World(
        engine,
        clock,
        gateway,
        collector,
        alipay,
        debit_bank,
        AutoDebit(engine, debit_bank),
        terminals,
        random.Random(SEED + 1),
    )


# -- the books, read with SQL ------------------------------------------------------------------


def rows(engine: Engine, query: Any) -> list[Any]:
    with engine.uow() as uow:
        return list(uow.conn.execute(query).all())


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything money and orders are made of."""
    p, o, b, r = t.payments.c, t.orders.c, t.bills.c, t.refunds.c
    counts = {
        table.name: rows(engine, select(func.count()).select_from(table))[0][0]
        for table in (t.journal_entries, t.journal_postings, t.outbox_events, t.audit_log)
    }
    return {
        **counts,
        "payments": sorted(
            rows(engine, select(p.channel, p.channel_txn_id, p.status, p.refunded_fen))
        ),
        "orders": sorted(rows(engine, select(o.order_no, o.status, o.payment_id))),
        "bills": sorted(rows(engine, select(b.id, b.paid_fen, b.status, b.version))),
        "refunds": sorted(rows(engine, select(r.refund_no, r.status, r.amount_fen))),
        "balance": engine.trial_balance(),
    }


def remote_txn(world: World, remote: RemoteOrder) -> str | None:
    """The transaction id the far end reports for a paid remote order."""
    if remote.channel == "mobile_banking":
        return remote.payer_ref
    if remote.channel == "alipay":
        return world.alipay.trades[remote.order_no].trade_no
    if remote.channel == "counter":
        return f"R{remote.txn_id}"
    return remote.txn_id


# -- the run -----------------------------------------------------------------------------------


def run_chaos(world: World, planned: list[Plan]) -> dict[str, int]:
    clock, gateway, auto = world.clock, world.gateway, world.autodebit
    for plan in planned:
        if plan.channels == ("autodebit",):
            mandate = auto.sign(
                plan.biller,
                plan.payer_id,
                "6222021234567890",
                per_debit_limit_fen=100_000,
                monthly_limit_fen=200_000,
                actor="teller",
            )
            auto.activate(mandate.mandate_no, agreement_no=f"AGR-{plan.payer_id}", actor="bank")
    assert auto.run_once().noticed == DEBITED_BILLS  # pre-debit notices, 24 h ahead

    now_paid = [plan for plan in planned if plan.channels != ("autodebit",)]
    per_step = -(-len(now_paid) // STEPS)
    for start in range(0, len(now_paid), per_step):
        for plan in now_paid[start : start + per_step]:
            world.pay(plan)
        world.tick()
    while gateway.outbox:
        world.tick()

    # a counter desk cannot be asked: the clerk whose screen showed no answer confirms again
    retried = [d for d in gateway.dropped if d.channel == "counter"]
    for delivery in retried:
        world.collector.notify(delivery.channel, delivery.headers, delivery.body)
        world.delivered.append(delivery)

    clock.advance(minutes=11)
    recovered = world.collector.requery_stuck(older_than=timedelta(minutes=10))
    payouts = world.collector.pay_out_refunds()
    world.tick()  # WeChat Pay's refund notifications
    for refund in world.collector.engine.pending_refunds():  # the counter's cash went out
        if world.collector.engine.payment(refund.payment_id).channel == "counter":
            confirm_cash_refund(world.collector.engine, refund.refund_no, by="cashier-01")

    clock.set(DEBIT_AT)  # the debit day: the bank is unreachable twice and loses answers
    world.debit_bank.unreachable, world.debit_bank.lose_answers = 2, 5
    first = auto.run_once()
    for _ in range(3):  # after the lease, the run asks the bank about what is in doubt
        clock.advance(auto.policy.lease + timedelta(minutes=1))
        auto.run_once()
    return {
        "recovered": len(recovered),
        "counter_retried": len(retried),
        "refunds_paid_out": sum(1 for p in payouts if p.succeeded),
        "debits_in_doubt": first.in_doubt,
    }


def test_every_paid_order_is_credited_exactly_once_under_chaos(
    engine: Engine, clock: FixedClock, keys: Keys
) -> None:
    rng = random.Random(SEED)
    planned = plans(rng)
    world = build_world(engine, clock, keys)
    for code in BILLERS:
        assert engine.import_bills(code, bills_csv(code, planned)).created == len(planned) // 2
    stats = run_chaos(world, planned)
    gateway = world.gateway

    # the chaos happened: without it this test would prove nothing
    arrivals = Counter((d.channel, d.order_no) for d in world.delivered)
    remotes = list(gateway.orders.values())
    failed = [r for r in remotes if r.state is RemoteState.FAILED]
    assert sum(1 for n in arrivals.values() if n > 1) > 50
    assert len(gateway.dropped) > 50 and stats["recovered"] > 20 and stats["counter_retried"] > 0
    assert len(failed) > 10
    assert {channel for channel, _ in arrivals} == set(NOTIFYING)
    assert min(world.pos_chaos.values()) > 0 and len(world.pos_chaos) == 3
    assert stats["debits_in_doubt"] > 0

    order_rows = rows(
        engine,
        select(t.orders.c.order_no, t.orders.c.status, t.order_lines.c.bill_id).join(
            t.order_lines, t.order_lines.c.order_id == t.orders.c.id
        ),
    )
    bill_of = {row.order_no: row.bill_id for row in order_rows}
    assert len(bill_of) == len(order_rows) == ORDERS  # one line each: one bill per order
    status_of = {row.order_no: row.status for row in order_rows}
    p = t.payments.c
    payments = rows(
        engine,
        select(p.id, p.channel, p.channel_txn_id, p.order_no, p.status, p.reason, p.amount_fen),
    )
    by_order: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for payment in payments:
        by_order[(payment.channel, payment.order_no)].append(payment)

    # what the far end says, order by order: paid → exactly one payment; otherwise none
    paid_bills: set[int] = set()
    losers: list[Any] = []
    for remote in remotes:
        found = by_order.pop((remote.channel, remote.order_no), [])
        if remote.state is not RemoteState.PAID:
            assert found == [], (remote, found)
            assert status_of[remote.order_no] != "paid"
            continue
        [payment] = found
        assert (payment.channel_txn_id, payment.amount_fen) == (
            remote_txn(world, remote),
            remote.paid_fen,
        )
        if payment.status == PaymentStatus.CREDITED:
            assert bill_of[remote.order_no] not in paid_bills, "a bill credited twice"
            paid_bills.add(bill_of[remote.order_no])
            assert status_of[remote.order_no] == "paid"
        else:  # paid twice through two channels: the later payment waits in suspense
            assert (payment.status, payment.reason) == ("suspense", "already_paid")
            losers.append(payment)
    # what the terminals say: an approved sale is credited once, a reversed one not at all
    for order_no, approved in world.pos_expected.items():
        found = by_order.pop(("pos", order_no), [])
        credited = [x for x in found if x.status == PaymentStatus.CREDITED]
        assert len(credited) == (1 if approved else 0), (order_no, found)
        assert all(x.status in ("credited", "reversed") for x in found)
        if approved:
            paid_bills.add(bill_of[order_no])
    assert dict(by_order) == {}  # no payment the far ends do not know of

    paid_orders_per_bill = Counter(
        bill_of[r.order_no] for r in remotes if r.state is RemoteState.PAID
    ).most_common()
    assert len(losers) == sum(1 for _, n in paid_orders_per_bill if n == 2) > 0
    for loser in losers:
        assert bill_of[loser.order_no] in paid_bills

    # with SQL: each bill is credited by exactly the payments expected, and paid once
    b, ol = t.bills.c, t.order_lines.c
    credited_per_bill = rows(
        engine,
        select(b.id, b.principal_fen, b.paid_fen, func.count(p.id))
        .select_from(t.bills)
        .outerjoin(t.order_lines, ol.bill_id == b.id)
        .outerjoin(
            t.payments,
            and_(p.order_id == ol.order_id, p.status == PaymentStatus.CREDITED.value),
        )
        .group_by(b.id, b.principal_fen, b.paid_fen),
    )
    assert len(credited_per_bill) == len(planned)
    for bill_id, principal, paid, credits in credited_per_bill:
        expected = bill_id in paid_bills
        assert (credits, paid) == ((1, principal) if expected else (0, 0)), bill_id
    assert (
        rows(
            engine,
            select(p.channel, p.channel_txn_id)
            .group_by(p.channel, p.channel_txn_id)
            .having(func.count() > 1),
        )
        == []
    )
    assert (
        rows(
            engine,
            select(p.order_no)
            .where(p.status == PaymentStatus.CREDITED.value)
            .group_by(p.order_no)
            .having(func.count() > 1),
        )
        == []
    )
    assert rows(engine, select(p.id).where(p.status == PaymentStatus.HELD.value)) == []

    # each payment in suspense was refunded in full, once, through its own channel
    r = t.refunds.c
    refunds = rows(engine, select(r.payment_id, r.status, r.amount_fen))
    assert sorted((x.payment_id, x.status, x.amount_fen) for x in refunds) == sorted(
        (x.id, "succeeded", x.amount_fen) for x in losers
    )
    assert stats["refunds_paid_out"] == len(losers)

    # the auto-debit bank's view: every debit it made is credited; none is left in doubt
    debits = rows(engine, select(mandate_debits.c.status, mandate_debits.c.bank_txn_id))
    assert Counter(d.status for d in debits).keys() <= {
        DebitStatus.SUCCEEDED.value,
        DebitStatus.FAILED.value,
    }
    assert sorted(d.bank_txn_id for d in debits if d.bank_txn_id) == sorted(
        str(a.bank_txn_id) for a in world.debit_bank.debited
    )

    # every credited QR payment made the stall speaker talk exactly once
    e = t.outbox_events.c
    broadcasts = [
        json.loads(x.payload)["data"]["channel_txn_id"]
        for x in rows(engine, select(e.payload).where(e.event_type == "voice.broadcast"))
    ]
    credited_qr = [
        x.channel_txn_id for x in payments if (x.channel, x.status) == ("qr", "credited")
    ]
    assert sorted(broadcasts) == sorted(credited_qr) and len(set(broadcasts)) == len(broadcasts)

    # the terminals' batches agree with billfold's after all the lost answers and reversals
    assert all(terminal.settle().agreed for terminal in world.terminals.values())

    assert engine.check_books() == []
    assert sum(engine.trial_balance().values()) == 0

    # the far ends send everything again — what arrived and what was lost — each at the time
    # it was first sent, so freshness checks pass and only the exactly-once rules decide
    before = snapshot(engine)
    rejected: Counter[tuple[str, str]] = Counter()
    for delivery in sorted(world.delivered + gateway.dropped, key=lambda d: d.due_at):
        clock.set(delivery.due_at)
        try:
            result = world.collector.notify(delivery.channel, delivery.headers, delivery.body)
        except NotificationRejected as exc:
            rejected[(delivery.channel, exc.reason)] += 1
            continue
        assert result is None or result.duplicate
    clock.set(DEBIT_AT + timedelta(hours=1))
    assert world.collector.requery_stuck(older_than=timedelta(minutes=10)) == []
    assert world.autodebit.run_once().debited == 0
    assert {reason for _, reason in rejected} <= {"replayed_nonce"}  # WeChat Pay's nonces
    assert snapshot(engine) == before
