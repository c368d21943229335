"""The government-fees and presale-escrow scenarios of ``billfold demo``, end to end.

:func:`run_government`: an exit-entry office prices a passport application from its fee
catalogue and is paid by aggregated QR; the traffic police's fines are looked up by decision
number and paid by card with the statutory penalty; every payment gets a receipt (JSON and a
printable page); the acquirers' statements are reconciled and both offices settled.

:func:`run_presale`: a developer's supervised project takes house-purchase money through its
own POS terminal and QR; a transfer naming no contract is held and alerted; every escrow
entry is pushed to a (fake) housing bureau over HTTP; a release within the milestone limit
is made and one over it refused; statements reconciled, the collection settled into the
supervised account, the daily escrow report written.

Both take an engine whose clock stands at the demo's business day (2026-09-01 10:00 in
Asia/Shanghai) and are idempotent: every step is keyed, so a second run on the same database
changes nothing and returns the same summary.
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from billfold.adapters.db import schema as t
from billfold.adapters.outbox.bureau_push import BureauLink, HttpxBureauTransport, push_due
from billfold.channels.collect import Collector
from billfold.channels.pos import PosChannel
from billfold.channels.qr import QrChannel
from billfold.channels.qr_render import render_svg
from billfold.channels.secrets import DictSecrets
from billfold.collection.payer import IdentifierKind, Payer
from billfold.collection.payment import PaymentStatus
from billfold.demo.campus_utility import PUBLIC_URL
from billfold.demo.summary import ScenarioSummary
from billfold.engine import Engine
from billfold.errors import BillfoldError, InvariantViolated, NotFound
from billfold.merchants.biller import Biller, BillerKind, SettlementAccount, SubUnit, SubUnitKind
from billfold.merchants.channel_config import ChannelConfig
from billfold.merchants.fee_catalogue import FeeItem
from billfold.merchants.presale import Contract, Milestone, Project
from billfold.money import format_yuan
from billfold.packs.government import Government, receipt_verify_url
from billfold.packs.presale import PresaleDesk, ReleaseRefused
from billfold.settlement.batch import BatchStatus
from billfold.settlement.discrepancy import DiscrepancyStatus
from billfold.settlement.exports import settlement_sheet, write_sheet
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.settler import Settler
from billfold.testing.fake_bureau import FakeBureau
from billfold.testing.pos import FakeTerminal
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.qr import SandboxAcquirer

__all__ = [
    "BUREAU_CODE",
    "DEVELOPER",
    "EXIT_ENTRY",
    "TRAFFIC",
    "Sandbox",
    "acquirer_statement",
    "run_government",
    "run_presale",
    "setup_government",
    "setup_presale",
]

EXIT_ENTRY, TRAFFIC, DEVELOPER = "demo-gov-ee", "demo-gov-traffic", "demo-developer"
PROJECT, BUREAU_CODE = "LJY-1", "JG2026-0088"
QR_KEY_ENV = "BILLFOLD_DEMO_GOV_QR_KEY"
MERCHANTS = {
    (EXIT_ENTRY, "qr"): "M-DEMO-GOV-EE",
    (TRAFFIC, "pos"): "POS-DEMO-TRAFFIC",
    (DEVELOPER, "pos"): "POS-DEMO-LJY",
    (DEVELOPER, "qr"): "M-DEMO-LJY",
}
POLICE_TERMINAL, PROJECT_TERMINAL = "G0000001", "P0000088"
STATEMENT_MAP = {
    "columns": {
        "channel_txn_id": "流水号",
        "order_no": "订单号",
        "amount": "金额",
        "occurred_at": "交易时间",
        "status": "状态",
    },
    "status_map": {"成功": "SUCCESS"},
}
CATALOGUE = (
    FeeItem("passport", "普通护照", 20_000, date(2019, 1, 1)),
    FeeItem("passport", "普通护照", 12_000, date(2026, 6, 1)),
    FeeItem("eep-hk", "往来港澳通行证", 6_000, date(2019, 1, 1)),
    FeeItem("hukou-card", "户口簿工本费", 800, date(2020, 1, 1)),
)
FINES = (  # decision no, party, fine, deadline: one 12 days late, one in time
    ("杭公交决字〔2026〕第330100001号", "钱多多", 20_000, date(2026, 8, 20)),
    ("杭公交决字〔2026〕第330100002号", "孙悟净", 5_000, date(2026, 9, 15)),
)
CONTRACTS = (
    Contract("HT-LJY-2026-0001", "3幢1单元1201", 312_000_000, "陈家豪"),
    Contract("HT-LJY-2026-0002", "3幢1单元1502", 298_500_000, "李晓梅"),
    Contract("HT-LJY-2026-0003", "5幢2单元0801", 276_000_000, "王建国"),
)
STAGES = (
    Milestone("foundation", "基础工程完成", 3_000),
    Milestone("topped", "主体结构封顶", 6_000),
    Milestone("completed", "竣工验收备案", 9_500),
    Milestone("delivered", "房屋交付办证", 10_000),
)
BUREAU_SECRET = "demo-bureau-signing-secret"


class Sandbox:
    """The QR acquirer and the card terminals of one run, in front of ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        key = secrets.token_hex(16).encode("ascii")
        calm_but_twice = Chaos(min_delay=timedelta(0), max_delay=timedelta(0), duplicate_rate=1.0)
        self.gateway = SandboxGateway(engine.clock, calm_but_twice, seed=20260901)
        merchants = {m: key for (_, ch), m in MERCHANTS.items() if ch == "qr"}
        self.pos = PosChannel(engine)
        qr = QrChannel.for_engine(
            engine,
            SandboxAcquirer(self.gateway, merchants),
            DictSecrets({QR_KEY_ENV: key}),
            render=False,
        )
        self.collector = Collector(engine, {"qr": qr, "pos": self.pos})

    def pay_qr(
        self, biller: str, bill_nos: list[str], key: str, amount_fen: int | None = None
    ) -> str:
        """A payer scans the order's QR and pays; the acquirer notifies (twice)."""
        order = self.engine.create_order(
            biller, bill_nos, amount_fen=amount_fen, idempotency_key=key
        )
        if order.payable:
            self.collector.start(order.order_no, "qr")
            self.gateway.pay("qr", order.order_no)
            for note in self.gateway.due():
                self.collector.notify(note.channel, note.headers, note.body)
        return order.order_no

    def terminal(self, terminal_id: str, biller: str, sub_unit: str | None = None) -> FakeTerminal:
        try:
            self.pos.terminal(terminal_id)
        except NotFound:
            self.pos.register_terminal(terminal_id, biller, sub_unit=sub_unit, actor="demo")
        return FakeTerminal(self.pos, terminal_id)


def _configure(engine: Engine, code: str) -> None:
    stored = engine.channel_configs(code)
    for (biller, channel), merchant in MERCHANTS.items():
        if biller != code:
            continue
        settings: dict[str, object] = {}
        if channel == "qr":
            settings = {
                "merchant_name_en": "BILLFOLD DEMO",
                "merchant_city_en": "HANGZHOU",
                "mcc": "9399",
                "notify_key_env": QR_KEY_ENV,
            }
        config = ChannelConfig(channel, merchant_id=merchant, settings=settings)
        if config not in stored:
            engine.set_channel_config(code, config, actor="demo", reason="demo onboarding")


def _ensure(engine: Engine, biller: Biller) -> None:
    if biller.code not in {b.code for b in engine.billers()}:
        engine.create_biller(biller, actor="demo")
    _configure(engine, biller.code)


# -- government ---------------------------------------------------------------------------------


def setup_government(engine: Engine) -> Government:
    """Both offices, the exit-entry catalogue, a passport application and the two fines."""
    _ensure(
        engine,
        Biller(
            code=EXIT_ENTRY,
            name="杭州市公安局出入境管理局",
            kind=BillerKind.GOVERNMENT,
            settlement_account=SettlementAccount(
                "国库杭州中心支库", "财政非税收入专户", "330100000001"
            ),
        ),
    )
    _ensure(
        engine,
        Biller(
            code=TRAFFIC,
            name="杭州市公安局交通警察支队",
            kind=BillerKind.GOVERNMENT,
            settlement_account=SettlementAccount(
                "国库杭州中心支库", "罚没收入专户", "330100000002"
            ),
        ),
    )
    gov = Government(engine)
    for item in CATALOGUE:
        gov.set_fee(EXIT_ENTRY, item, actor="demo", reason="收费目录")
    applicant = Payer(IdentifierKind.ID_NUMBER, "330106199001011234", name="周慧敏")
    gov.issue_fee_bill(EXIT_ENTRY, "EE-2026-000321", applicant, ["passport", "eep-hk"])
    for decision, party, fine, deadline in FINES:
        gov.add_fine(TRAFFIC, decision, party=party, fine_fen=fine, deadline=deadline)
    return gov


def run_government(engine: Engine, out_dir: Path) -> ScenarioSummary:
    gov = setup_government(engine)
    sandbox = Sandbox(engine)
    day = engine.today(EXIT_ENTRY)
    sandbox.pay_qr(EXIT_ENTRY, ["EE-2026-000321"], "demo-gov-ee-000321")
    police = sandbox.terminal(POLICE_TERMINAL, TRAFFIC)
    for decision, _, _, _ in FINES:
        try:
            _, bill, quote = gov.lookup_fine(decision)
        except BillfoldError:  # paid on an earlier run: the terminal's repeat changes nothing
            bill_no, amount = decision, engine.bill(TRAFFIC, decision).paid_fen
            amount += engine.bill(TRAFFIC, decision).late_fee_paid_fen
        else:
            bill_no, amount = bill.bill_no, quote.total_fen
        police.sale(amount, bill_ref=bill_no)
    out = out_dir / "government"
    files = _receipts(engine, gov, (EXIT_ENTRY, TRAFFIC), out / "receipts")
    files += _reconcile_and_settle(engine, (EXIT_ENTRY, TRAFFIC), day, out)
    return _summary("government fees", engine, (EXIT_ENTRY, TRAFFIC), day, files)


def _receipts(engine: Engine, gov: Government, codes: tuple[str, ...], out: Path) -> list[Path]:
    """Each payment's receipt as JSON, a printable page and a PDF; the page's and the PDF's
    QR open the receipt's verification page on the demo's payer pages."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for payment_id in _credited(engine, codes):
        receipt = gov.issue_receipt(payment_id)
        url = receipt_verify_url(PUBLIC_URL, receipt)
        page = receipt.to_html(qr_svg=render_svg(url), verify_url=url)
        for suffix, text in (("json", receipt.to_json()), ("html", page)):
            path = out / f"{receipt.receipt_no}.{suffix}"
            path.write_text(text + ("\n" if suffix == "json" else ""), encoding="utf-8")
            files.append(path)
        pdf = out / f"{receipt.receipt_no}.pdf"
        pdf.write_bytes(gov.receipt_pdf(receipt.receipt_no, base_url=PUBLIC_URL))
        files.append(pdf)
    return files


# -- presale ------------------------------------------------------------------------------------


def setup_presale(engine: Engine) -> PresaleDesk:
    """The developer, its supervised project with milestones, and the buyers' contracts."""
    _ensure(
        engine,
        Biller(
            code=DEVELOPER,
            name="杭州丽景置业有限公司",
            kind=BillerKind.HOUSING_DEVELOPER,
            settlement_account=SettlementAccount(
                "示范银行杭州分行", "丽景苑一期预售资金监管专户", "3301040160000088"
            ),
            sub_units=(SubUnit(PROJECT, "丽景苑一期", SubUnitKind.PROJECT),),
        ),
    )
    desk = PresaleDesk(engine)
    desk.add_project(
        Project(
            DEVELOPER,
            PROJECT,
            BUREAU_CODE,
            "丽景苑一期",
            "示范银行杭州分行",
            "3301040160000088",
        ),
        actor="demo",
    )
    desk.set_milestones(BUREAU_CODE, STAGES, actor="demo")
    desk.reach(BUREAU_CODE, "foundation", date(2026, 8, 15), actor="bureau")
    for contract in CONTRACTS:
        desk.add_contract(BUREAU_CODE, contract)
    return desk


def run_presale(engine: Engine, out_dir: Path) -> ScenarioSummary:
    desk = setup_presale(engine)
    sandbox = Sandbox(engine)
    day = engine.today(DEVELOPER)
    terminal = sandbox.terminal(PROJECT_TERMINAL, DEVELOPER, PROJECT)
    terminal.sale(93_600_000, bill_ref=CONTRACTS[0].contract_no)  # 首付 30%
    sandbox.pay_qr(DEVELOPER, [CONTRACTS[1].contract_no], "demo-ljy-qr-0002", 89_550_000)
    desk.receive_unmatched(
        BUREAU_CODE,
        "bank",
        "TRF-20260901-0001",
        5_000_000,
        paid_at=engine.clock.now(),
        payer="转账 未注明合同",
    )
    desk.sync()
    bureau = FakeBureau(BUREAU_SECRET, engine.clock)
    with bureau.serve() as server, HttpxBureauTransport(timeout=5.0) as transport:
        push_due(engine, BureauLink(server.url, BUREAU_SECRET), transport)
        desk.release(
            BUREAU_CODE, 50_000_000, request_id="REL-LJY-0001", by="demo", reason="基础工程款"
        )
        with suppress(ReleaseRefused):  # over the foundation stage's 30%: nothing changes
            desk.release(
                BUREAU_CODE, 20_000_000, request_id="REL-LJY-0002", by="demo", reason="超额申请"
            )
        desk.sync()
        push_due(engine, BureauLink(server.url, BUREAU_SECRET), transport)
    out = out_dir / "presale"
    files = desk.daily_report(BUREAU_CODE, day, out)
    files += desk.daily_report(BUREAU_CODE, day, out, fmt="xlsx")
    files += _reconcile_and_settle(engine, (DEVELOPER,), day, out)
    return _summary("presale escrow", engine, (DEVELOPER,), day, files)


# -- shared: statements, reconciliation, settlement, the summary --------------------------------


def _credited(engine: Engine, codes: tuple[str, ...]) -> list[int]:
    p, b = t.payments.c, t.billers.c
    query = (
        select(p.id)
        .join(t.billers, t.billers.c.id == p.biller_id)
        .where(b.code.in_(codes), p.status == PaymentStatus.CREDITED.value)
        .order_by(p.id)
    )
    with engine.uow() as uow:
        return [int(i) for i in uow.conn.execute(query).scalars()]


def acquirer_statement(engine: Engine, biller: str, channel: str, day: date) -> bytes:
    """The acquirer's statement of ``biller``'s ``channel`` for ``day`` in the generic CSV
    layout of :data:`STATEMENT_MAP`: every payment it took. The sandbox keeps no books across
    demo runs, so it is written from the payments the engine recorded, and the demo's
    reconciliation matches cleanly (the settlement tests cover statements that disagree)."""
    p, b = t.payments.c, t.billers.c
    query = (
        select(p.channel_txn_id, p.order_no, p.amount_fen, p.paid_at, t.billers.c.timezone)
        .join(t.billers, t.billers.c.id == p.biller_id)
        .where(b.code == biller, p.channel == channel, p.business_date == day)
        .where(p.status.in_([PaymentStatus.CREDITED.value, PaymentStatus.SUSPENSE.value]))
        .order_by(p.channel_txn_id)
    )
    lines = ["流水号,订单号,金额,交易时间,状态"]
    with engine.uow() as uow:
        for txn, order_no, amount, paid_at, tz in uow.conn.execute(query):
            local = paid_at.astimezone(ZoneInfo(tz))
            lines.append(f"{txn},{order_no},{format_yuan(amount)},{local:%Y-%m-%d %H:%M:%S},成功")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _reconcile_and_settle(
    engine: Engine, codes: tuple[str, ...], day: date, out: Path
) -> list[Path]:
    recon, settler = Reconciler(engine), Settler(engine)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for (code, channel), merchant in MERCHANTS.items():
        if code not in codes:
            continue
        statement = acquirer_statement(engine, code, channel, day)
        path = out / f"{channel}-{merchant}-{day:%Y%m%d}.csv"
        path.write_bytes(statement)
        files.append(path)
        recon.reconcile(
            statement,
            format="generic-csv",
            channel=channel,
            merchant_id=merchant,
            column_map=STATEMENT_MAP,
            business_date=day,
            file_name=path.name,
            actor="demo",
        )
    batches = []
    for code in codes:
        done = settler.batches(biller_code=code, business_date=day)
        batch = done[0] if done else None
        if batch is None or batch.status is BatchStatus.DRAFT:
            batch = settler.draft(code, day, by="demo-clerk")
            if batch.net_fen <= 0:
                continue
            batch = settler.approve(batch.batch_no, by="demo-supervisor")
        if batch.status is BatchStatus.APPROVED:
            settler.pay(batch.batch_no, by="demo-cashier")
        payout = out / f"payout-{batch.batch_no}.csv"
        payout.write_bytes(settler.payout_file(batch.batch_no))
        files.append(payout)
        batches.append(settler.batch(batch.batch_no))
    report = out / f"settlement-{day:%Y%m%d}.csv"
    with report.open("wb") as stream:
        write_sheet(settlement_sheet(batches), stream, "csv")
    files.append(report)
    return files


def _summary(
    name: str, engine: Engine, codes: tuple[str, ...], day: date, files: list[Path]
) -> ScenarioSummary:
    bills = paid = collected = settled = 0
    for code in codes:
        biller = engine.biller(code)
        with engine.uow() as uow:
            if biller.id is None:
                raise InvariantViolated("biller.id is missing")
            mine = uow.bills.for_biller(biller.id)
        bills += len(mine)
        paid += sum(1 for b in mine if b.status(day).value == "paid")
        for batch in Settler(engine).batches(biller_code=code, business_date=day):
            settled += batch.net_fen
    for payment_id in _credited(engine, codes):
        collected += engine.payment(payment_id).amount_fen
    merchants = {m for (code, _), m in MERCHANTS.items() if code in codes}
    recon = Reconciler(engine)
    open_ones = [
        d
        for d in recon.discrepancies(status=DiscrepancyStatus.OPEN)
        if d.run_id is not None and recon.run(d.run_id).merchant_id in merchants
    ]
    return ScenarioSummary(
        name=name,
        billers=len(codes),
        bills=bills,
        paid=paid,
        collected_fen=collected,
        discrepancies=len(open_ones),
        settled_fen=settled,
        files=sorted(set(files)),
    )
