"""Two of ``billfold demo``'s scenario packs, end to end on the injected clock: campus tuition
and utilities (electricity with a fixed-width file, gas with a CSV file).

Each runs import → payment through a real channel adapter against the sandbox →
reconciliation of the channel's statement → settlement batch → export files under
``out_dir``, and returns a :class:`~billfold.demo.summary.ScenarioSummary`.

Everything is keyed (bank transaction numbers, refund request ids, mandate numbers), the
statements are written from the bank transactions the engine recorded (see
:func:`sandbox_statement`), and each step looks at what is stored before acting, so running
a scenario twice on the same database changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from billfold.adapters.db.recon import SqlRecon
from billfold.channels.autodebit import AutoDebit
from billfold.channels.collect import ChannelRefused, Collector
from billfold.channels.counter import CounterChannel
from billfold.channels.mobile_banking import CHANNEL as MOBILE_BANKING
from billfold.channels.mobile_banking import MobileBankingChannel, PayAnswer, lookup, pay
from billfold.channels.secrets import DictSecrets
from billfold.clock import FixedClock, end_of_business_day, start_of_business_day
from billfold.collection.roster import Term
from billfold.demo.summary import ScenarioSummary
from billfold.engine import Engine
from billfold.errors import InvariantViolated, NotFound
from billfold.labels import label
from billfold.merchants.biller import Biller, BillerKind, SettlementAccount
from billfold.merchants.channel_config import ChannelConfig
from billfold.merchants.fees import FeeKind, FeeRule
from billfold.money import format_yuan
from billfold.packs.campus import Campus, GrantKind
from billfold.packs.utility import collection_file_for, import_arrears, offer_topup
from billfold.settlement.batch import BatchStatus
from billfold.settlement.exports import settlement_sheet, write_csv
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.settler import Settler
from billfold.settlement.utility_files import ARREARS_FIELDS, COLLECTION_FIELDS, Layout
from billfold.testing.sandbox.autodebit import SandboxBank as DebitBank
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.mobile_banking import SandboxBank

__all__ = [
    "CAMPUS",
    "GAS",
    "GAS_LAYOUT",
    "POWER",
    "POWER_LAYOUT",
    "PUBLIC_URL",
    "STATEMENT_MAPPING",
    "ScenarioChannels",
    "run_campus",
    "run_utilities",
    "sandbox_statement",
]

CAMPUS, POWER, GAS = "demo-campus", "demo-power", "demo-gas"
BANK_KEY_ENV = "BILLFOLD_DEMO_SCENARIO_BANK_KEY"
CHAOS = Chaos(min_delay=timedelta(seconds=1), max_delay=timedelta(seconds=20), duplicate_rate=0.5)
SEED = 20260906
#: Where the demo's payment notice sends the QR: what ``billfold demo --serve`` serves.
PUBLIC_URL = "http://127.0.0.1:8000"

TERM = Term("2026秋", date(2026, 9, 10), installments=True, min_part_fen=100_000)
ROSTER_CSV = """\
学号,姓名,年级,班级,家长电话,选报项目
2026301,周一鸣,七年级,1班,13900000301,dorm
2026302,吴思远,七年级,1班,13900000302,
2026303,郑可欣,七年级,2班,13900000303,dorm;insurance
2026304,王子涵,七年级,2班,13900000304,
2026305,冯雨桐,八年级,1班,13900000305,insurance
"""
FEES_CSV = """\
年级,班级,项目代码,项目名称,金额,可选
*,,dorm,住宿费,1200.00,yes
*,,insurance,学生平安保险,150.00,yes
七年级,,tuition,学费,4500.00,no
七年级,,books,教材费,380.00,no
八年级,,tuition,学费,4800.00,no
八年级,1班,books,教材费(实验班),460.00,no
"""

#: The sandbox bank's statement as a generic CSV (see billfold.settlement.parsers.generic_csv).
STATEMENT_MAPPING: dict[str, Any] = {
    "columns": {
        "channel_txn_id": "流水号",
        "order_no": "订单号",
        "amount": "金额",
        "occurred_at": "交易时间",
        "type": "类型",
        "refund_id": "退款单号",
    },
    "amount_unit": "yuan",
    "time_format": "%Y-%m-%d %H:%M:%S",
    "type_map": {"支付": "PAYMENT", "退款": "REFUND"},
}

#: The electricity company's mainframe: fixed width, GBK, amounts in fen.
POWER_LAYOUT = Layout.from_dict(
    {
        "format": "fixed",
        "encoding": "gbk",
        "amount_unit": "fen",
        "date_format": "%Y%m%d",
        "late_fee": "daily:10bps:cap=30%",
        "item": "power",
        "item_name": "电费",
        "fields": [
            {"name": "account_no", "start": 1, "width": 10},
            {"name": "name", "start": 11, "width": 12},
            {"name": "period", "start": 23, "width": 6},
            {"name": "amount", "start": 29, "width": 10},
            {"name": "due_date", "start": 39, "width": 8},
        ],
    },
    known=ARREARS_FIELDS,
)
POWER_OUT = Layout.from_dict(
    {
        "format": "fixed",
        "encoding": "gbk",
        "amount_unit": "fen",
        "date_format": "%Y%m%d",
        "trailer": "T{count:0>8}{sum:0>14}",
        "checksum": "md5",
        "checksum_line": "M{digest}",
        "fields": [
            {"name": "date", "start": 1, "width": 8},
            {"name": "seq", "start": 9, "width": 6},
            {"name": "account_no", "start": 15, "width": 10},
            {"name": "bill_no", "start": 25, "width": 24},
            {"name": "principal", "start": 49, "width": 10},
            {"name": "late_fee", "start": 59, "width": 8},
            {"name": "amount", "start": 67, "width": 10},
            {"name": "channel", "start": 77, "width": 16},
            {"name": "txn_id", "start": 93, "width": 32},
        ],
    },
    known=COLLECTION_FIELDS,
)
#: The gas company: a CSV with Chinese headers, amounts in yuan.
GAS_LAYOUT = Layout.from_dict(
    {
        "format": "csv",
        "late_fee": "daily:5bps:cap=30%",
        "item": "gas",
        "item_name": "燃气费",
        "fields": [
            {"name": "bill_no", "column": "账单号"},
            {"name": "account_no", "column": "户号"},
            {"name": "name", "column": "户名"},
            {"name": "period", "column": "账期"},
            {"name": "amount", "column": "欠费金额"},
            {"name": "due_date", "column": "缴费截止日"},
        ],
    },
    known=ARREARS_FIELDS,
)
GAS_OUT = Layout.from_dict(
    {
        "format": "csv",
        "date_format": "%Y-%m-%d",
        "time_format": "%Y-%m-%d %H:%M:%S",
        "trailer": "合计,{count},{sum}",
        "checksum": "sha256",
        "checksum_line": "SHA256,{digest}",
        "fields": [
            {"name": "seq", "column": "序号"},
            {"name": "account_no", "column": "户号"},
            {"name": "bill_no", "column": "账单号"},
            {"name": "principal", "column": "本金"},
            {"name": "late_fee", "column": "滞纳金"},
            {"name": "amount", "column": "实收金额"},
            {"name": "channel_name", "column": "渠道"},
            {"name": "txn_id", "column": "渠道流水号"},
            {"name": "paid_at", "column": "缴费时间"},
        ],
    },
    known=COLLECTION_FIELDS,
)
GAS_ARREARS = """\
账单号,户号,户名,账期,欠费金额,缴费截止日
G202607-5501,5501,钱先生,202607,128.60,2026-08-20
G202608-5501,5501,钱先生,202608,96.40,2026-09-20
G202608-5502,5502,孙女士,202608,64.00,2026-09-02
G202608-5503,5503,李先生,202608,210.00,2026-09-20
"""
POWER_ROWS = (
    ("8800100001", "赵大海", "202608", 23_650, "20260815"),
    ("8800100002", "钱小燕", "202608", 18_820, "20260925"),
    ("8800100003", "孙建国", "202608", 9_900, "20260902"),
)


def power_arrears() -> bytes:
    """The electricity company's arrears file, laid out byte for byte as POWER_LAYOUT says."""
    lines = []
    for account, name, period, fen, due in POWER_ROWS:
        raw = name.encode("gbk").ljust(12)
        lines.append(
            account.encode() + raw + period.encode() + str(fen).rjust(10, "0").encode()
            + due.encode()
        )  # fmt: skip
    return b"\r\n".join(lines) + b"\r\n"


# -- the sandbox ------------------------------------------------------------------------------


class ScenarioChannels:
    """Mobile banking, the counter and auto-debit against one seeded sandbox."""

    def __init__(self, engine: Engine, clock: FixedClock) -> None:
        self.engine, self.clock = engine, clock
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.gateway = SandboxGateway(clock, CHAOS, seed=SEED)
        bank = MobileBankingChannel.for_engine(
            engine, SandboxBank(self.gateway, key), DictSecrets({BANK_KEY_ENV: public})
        )
        self.collector = Collector(engine, {MOBILE_BANKING: bank, "counter": CounterChannel(clock)})
        self.debit_bank = DebitBank(self.gateway)
        self.autodebit = AutoDebit(engine, self.debit_bank)

    def bank_pay(self, biller: str, bill_nos: list[str], txn: str, amount_fen: int) -> PayAnswer:
        """The parent (or household) pays in the bank's app; the bank debits and confirms."""
        answer = pay(self.collector, biller, bill_nos, txn, amount_fen)
        if answer.accepted and answer.order_no:
            self.gateway.pay(MOBILE_BANKING, answer.order_no)
        return answer

    def deliver(self) -> int:
        """A minute passes; every notification that arrived is handed to the collector."""
        self.clock.advance(timedelta(minutes=1))
        delivered = self.gateway.due()
        for item in delivered:
            self.collector.notify(item.channel, item.headers, item.body)
        return len(delivered)


def bank_config(merchant_id: str, *, sole: bool = False) -> ChannelConfig:
    return ChannelConfig(
        MOBILE_BANKING,
        sole=sole,
        merchant_id=merchant_id,
        settings={"bank_public_key_env": BANK_KEY_ENV},
    )


def _configure(engine: Engine, code: str, configs: Iterable[ChannelConfig]) -> None:
    stored = engine.channel_configs(code)
    for config in configs:
        if config not in stored:
            engine.set_channel_config(code, config, actor="demo", reason="demo onboarding")


def sandbox_statement(engine: Engine, biller: str, channel: str, day: date) -> bytes:
    """The channel's statement of ``day`` for one biller: every payment and paid-out refund
    of that day. The sandbox bank keeps no books across demo runs, so the statement is written
    from what the engine recorded of the bank's transactions, and the demo's reconciliation
    matches cleanly; the scenario tests reconcile hand-written statements that disagree."""
    found = engine.biller(biller)
    if found.id is None:
        raise InvariantViolated("found.id is missing")
    tz = found.timezone
    with engine.uow() as uow:
        payments = uow.daybook.day_payments(found.id, day)
        refunds = SqlRecon(uow.conn).engine_only_refunds(
            channel, "", start_of_business_day(day, tz), end_of_business_day(day, tz)
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["流水号", "订单号", "金额", "交易时间", "类型", "退款单号"])
    for payment in payments:
        if payment.channel != channel:
            continue
        when = payment.paid_at.astimezone(ZoneInfo(tz))
        writer.writerow(
            [
                payment.channel_txn_id,
                payment.order_no,
                format_yuan(payment.amount_fen),
                f"{when:%Y-%m-%d %H:%M:%S}",
                "支付",
                "",
            ]
        )
    for refund in refunds:
        if refund.biller_id != found.id:
            continue
        writer.writerow(
            [
                refund.channel_refund_id or refund.refund_no,
                "",
                format_yuan(refund.amount_fen),
                f"{day:%Y-%m-%d} 23:00:00",
                "退款",
                refund.refund_no,
            ]
        )
    return out.getvalue().encode("utf-8")


def _reconcile(engine: Engine, biller: str, channel: str, day: date, out_dir: Path) -> int:
    """Reconcile the day's statement under the biller's merchant id for the channel; the
    discrepancies still open after auto-resolution."""
    merchant = next(
        (c.merchant_id for c in engine.channel_configs(biller) if c.channel == channel), None
    )
    data = sandbox_statement(engine, biller, channel, day)
    path = out_dir / f"{biller}-{channel}-statement-{day}.csv"
    path.write_bytes(data)
    result = Reconciler(engine).reconcile(
        data,
        format="generic-csv",
        business_date=day,
        channel=channel,
        merchant_id=merchant,
        file_name=path.name,
        column_map=STATEMENT_MAPPING,
        actor="demo",
    )
    resolved = {d.id for d in result.auto_resolved}
    return sum(1 for d in result.discrepancies if d.id not in resolved)


def _settle(engine: Engine, biller: str, day: date, out_dir: Path) -> tuple[int, list[Path]]:
    """Draft, approve, pay and confirm the day's batch (once); the payout file and the
    settlement report. Returns the net settled."""
    settler = Settler(engine)
    found = settler.batches(biller_code=biller, business_date=day)
    batch = found[0] if found else settler.draft(biller, day, by="clerk")
    if batch.status is BatchStatus.DRAFT:
        batch = settler.approve(batch.batch_no, by="supervisor")
    if batch.status is BatchStatus.APPROVED:
        batch = settler.pay(batch.batch_no, by="cashier")
    if batch.status is BatchStatus.PAID:
        batch = settler.confirm(batch.batch_no, by="cashier")
    payout = out_dir / f"{biller}-payout-{day}.csv"
    payout.write_bytes(settler.payout_file(batch.batch_no))
    report = out_dir / f"{biller}-settlement-{day}.csv"
    buffer = io.BytesIO()
    write_csv(settlement_sheet([batch]), buffer)
    report.write_bytes(buffer.getvalue())
    return batch.net_fen, [payout, report]


def _clock(engine: Engine) -> FixedClock:
    clock = engine.clock
    if not isinstance(clock, FixedClock):
        raise TypeError("the demo scenarios run on a FixedClock")
    return clock


def _ensure(engine: Engine, biller: Biller) -> None:
    try:
        engine.biller(biller.code)
    except NotFound:
        engine.create_biller(biller, actor="demo")


def _totals(engine: Engine, codes: Iterable[str]) -> tuple[int, int, int]:
    """(bills, bills paid in full, principal and late fees collected net of refunds)."""
    bills = paid = collected = 0
    with engine.uow() as uow:
        for code in codes:
            biller = uow.billers.get_by_code(code)
            if not (biller is not None and biller.id is not None):
                raise InvariantViolated("expected biller is not None and biller.id is not None")
            for bill in uow.bills.for_biller(biller.id):
                if bill.cancelled and bill.paid_fen == 0 and bill.refunded_fen == 0:
                    continue  # replaced or withdrawn before anything was paid
                bills += 1
                paid += bill.stored_status.value == "paid"
                collected += bill.paid_fen + bill.late_fee_paid_fen
    return bills, paid, collected


# -- campus tuition ---------------------------------------------------------------------------


def run_campus(engine: Engine, out_dir: Path) -> ScenarioSummary:
    """明德中学's autumn term: roster and fee items in, parents pay through mobile banking (the
    school's designated sole channel) in full or in installments, a scholarship and a hardship
    waiver, a withdrawal refunded, the statement reconciled, the day settled, the bursar's
    reports and payment notices written."""
    clock = _clock(engine)
    out_dir.mkdir(parents=True, exist_ok=True)
    _ensure(
        engine,
        Biller(
            code=CAMPUS,
            name="明德中学",
            kind=BillerKind.SCHOOL,
            settlement_account=SettlementAccount("示范银行", "明德中学", "6222020200765432101"),
            fee_rules=(FeeRule(channel=MOBILE_BANKING, kind=FeeKind.BPS, bps=20, min_fen=10),),
        ),
    )
    _configure(engine, CAMPUS, [bank_config("BANK-MINGDE", sole=True)])
    campus = Campus(engine)
    day = engine.today(CAMPUS)
    changes = campus.import_roster(
        CAMPUS, ROSTER_CSV.encode(), FEES_CSV.encode(), TERM, actor="bursar"
    )
    report = out_dir / f"{CAMPUS}-roster-import.txt"
    report.write_text("\n".join(changes.report_zh()) + "\n", encoding="utf-8")
    channels = ScenarioChannels(engine, clock)

    # a scholarship and a hardship waiver, each approved by name (once)
    for number, kind, fen, note in (
        ("2026303", GrantKind.SCHOLARSHIP, 100_000, "2026 区三好学生"),
        ("2026304", GrantKind.HARDSHIP, 200_000, "低保家庭"),
    ):
        if campus.current_bill(CAMPUS, TERM.name, number).waived_fen == 0:
            campus.grant(
                CAMPUS,
                TERM.name,
                number,
                fen,
                kind=kind,
                approved_by="校长 陈",
                note=note,
                request_id=f"demo-grant-{number}",
            )

    # parents look their child up by 学号 and pay in the bank's app
    for number, txn, part in (
        ("2026301", "MD-0301", None),  # in full
        ("2026302", "MD-0302", 200_000),  # first installment
        ("2026303", "MD-0303", None),  # in full, after the scholarship
        ("2026305", "MD-0305", None),  # in full, then withdraws
    ):
        found = lookup(engine, number, CAMPUS)
        if found.found:
            bill = found.bills[0]
            channels.bank_pay(CAMPUS, [bill.bill_no], txn, part or bill.amount_due_fen)
    while channels.gateway.outbox:
        channels.deliver()

    # a parent tries the counter: the school takes mobile banking only
    refusal = ""
    order = engine.create_order(
        CAMPUS, [f"{TERM.name}-2026304"], idempotency_key="demo-campus-counter-2026304"
    )
    try:
        channels.collector.start(order.order_no, "counter")
    except ChannelRefused:
        refusal = (
            f"{CAMPUS} 指定唯一收款渠道为{label('channel', MOBILE_BANKING)}；"
            f"{label('channel', 'counter')}缴费不予受理"
        )
    (out_dir / f"{CAMPUS}-sole-channel.txt").write_text(refusal + "\n", encoding="utf-8")

    # 冯雨桐 moves away: what was paid is refunded through the bank, the bill closed
    with suppress(NotFound):  # withdrawn on an earlier run
        campus.withdraw(CAMPUS, TERM.name, "2026305", by="bursar", reason="转学")
    channels.collector.pay_out_refunds()

    discrepancies = _reconcile(engine, CAMPUS, MOBILE_BANKING, day, out_dir)
    settled, settlement_files = _settle(engine, CAMPUS, day, out_dir)
    files = [report, out_dir / f"{CAMPUS}-sole-channel.txt"]
    files += campus.reports(CAMPUS, TERM.name, day, out_dir)
    notice = out_dir / f"{CAMPUS}-notice-2026302.png"
    notice.write_bytes(campus.notice_png(CAMPUS, TERM.name, "2026302", base_url=PUBLIC_URL))
    files += [notice, out_dir / f"{CAMPUS}-{MOBILE_BANKING}-statement-{day}.csv"]
    files += settlement_files
    bills, paid, collected = _totals(engine, [CAMPUS])
    return ScenarioSummary(
        "campus tuition", 1, bills, paid, collected, discrepancies, settled, files
    )


# -- utilities --------------------------------------------------------------------------------


def run_utilities(engine: Engine, out_dir: Path) -> ScenarioSummary:
    """城西供电 (fixed-width files) and 城北燃气 (CSV files): arrears in, households look up
    their 户号 in mobile banking and pay with the late fee as of now, a prepaid top-up, an
    auto-debit mandate paying a bill on its due date, the statements reconciled, both days
    settled, and the collection files back to each utility."""
    clock = _clock(engine)
    out_dir.mkdir(parents=True, exist_ok=True)
    for code, name, account in (
        (POWER, "城西供电公司", "6222020200111122223"),
        (GAS, "城北燃气公司", "6222020200333344445"),
    ):
        _ensure(
            engine,
            Biller(
                code=code,
                name=name,
                kind=BillerKind.UTILITY,
                settlement_account=SettlementAccount("示范银行", name, account),
                fee_rules=(FeeRule(channel=MOBILE_BANKING, kind=FeeKind.FIXED, fixed_fen=30),),
            ),
        )
    _configure(
        engine,
        POWER,
        [bank_config("BANK-POWER"), ChannelConfig("autodebit", merchant_id="AD-POWER")],
    )
    _configure(engine, GAS, [bank_config("BANK-GAS")])
    import_arrears(engine, POWER, power_arrears(), POWER_LAYOUT, file_name="power-202608.dat")
    import_arrears(engine, GAS, GAS_ARREARS.encode(), GAS_LAYOUT, file_name="gas-202608.csv")
    offer_topup(engine, GAS, "5504", "202609", min_fen=5_000, max_fen=200_000, name="周女士")
    channels = ScenarioChannels(engine, clock)
    first = engine.today(POWER)

    # households look their 户号 up in the bank's app: arrears with the late fee as of now
    lookups: dict[str, Any] = {}
    for biller, account, txn in (
        (POWER, "8800100001", "PW-0001"),
        (GAS, "5501", "GS-0001"),
    ):
        found = lookup(engine, account, biller)
        lookups[account] = found.as_dict()
        if found.found:
            nos = [bill.bill_no for bill in found.bills]
            channels.bank_pay(biller, nos, txn, found.total_due_fen)
    topup = lookup(engine, "5504", GAS)
    lookups["5504"] = topup.as_dict()
    if topup.found:
        channels.bank_pay(GAS, [topup.bills[0].bill_no], "GS-TOPUP-0001", 30_000)
    while channels.gateway.outbox:
        channels.deliver()

    # 孙建国 signed an auto-debit mandate: the pre-debit notice now, the debit on the due date
    if not channels.autodebit.mandates(POWER):
        signed = channels.autodebit.sign(
            POWER,
            "8800100003",
            "6222021234500003",
            per_debit_limit_fen=50_000,
            monthly_limit_fen=100_000,
            actor="teller",
        )
        channels.autodebit.activate(signed.mandate_no, agreement_no="PW-AGR-0003", actor="bank")
    noticed = channels.autodebit.run_once()
    clock.advance(timedelta(hours=24))
    debited = channels.autodebit.run_once()
    second = engine.today(POWER)
    (out_dir / "utility-lookups.json").write_text(
        json.dumps(
            {"lookups": lookups, "autodebit": [str(noticed), str(debited)]},
            ensure_ascii=False,
            indent=2,
            sort_keys=True,
        )
        + "\n",
        encoding="utf-8",
    )

    files = [out_dir / "utility-lookups.json"]
    discrepancies = settled = 0
    for biller, layout, suffix in ((POWER, POWER_OUT, "dat"), (GAS, GAS_OUT, "csv")):
        for day in (first, second):
            for channel in (MOBILE_BANKING, "autodebit"):
                if biller == GAS and channel == "autodebit":
                    continue
                discrepancies += _reconcile(engine, biller, channel, day, out_dir)
                files.append(out_dir / f"{biller}-{channel}-statement-{day}.csv")
            net, written = _settle(engine, biller, day, out_dir)
            settled += net
            files += written
            path = out_dir / f"{biller}-collections-{day:%Y%m%d}.{suffix}"
            path.write_bytes(collection_file_for(engine, biller, day, layout))
            files.append(path)
    bills, paid, collected = _totals(engine, [POWER, GAS])
    return ScenarioSummary("utilities", 2, bills, paid, collected, discrepancies, settled, files)
