"""``billfold demo``: a school, a water utility, a market stall and a college, end to end, on
one database, paying through every channel against the sandbox; then the four scenario packs
(campus tuition, government fees, presale escrow, utilities) with their exports under ``out``.

Everything is keyed (idempotency keys, transaction ids, refund request ids), so running the
demo again on the same database changes nothing and prints the same summary.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.channels.qr import stall_code
from billfold.clock import FixedClock
from billfold.collection.bill import Bill
from billfold.collection.payment import PaymentStatus
from billfold.demo.back_office import settle_bank_leg, water_collection_file, work_a_complaint
from billfold.demo.channels import COLLEGE, COLLEGE_CSV, MARKET, setup_channels
from billfold.demo.scenarios import run_scenarios, scenario_table, summary_view
from billfold.engine import Engine
from billfold.errors import InvariantViolated
from billfold.merchants.biller import Biller, BillerKind, Limits, LookupCheck, SettlementAccount
from billfold.merchants.fees import FeeKind, FeeRule
from billfold.money import format_yuan

#: The demo's business day: 2026-09-01 10:00 in Asia/Shanghai.
DEMO_NOW = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
DEMO_BILLERS = ("demo-school", "demo-water", MARKET, COLLEGE)

SCHOOL_CSV = """\
bill_no,payer_id,payer_name,payer_phone,items,due_date,allow_partial,min_part,sub_unit,period
T2026-001,2026001,张小明,13812345671,tuition:学费=4500.00;dorm:住宿费=1200.00;books:教材费=380.00,2026-09-10,yes,1000.00,G7-1,2026秋
T2026-002,2026002,李小红,13812345672,tuition:学费=4500.00;dorm:住宿费=1200.00;books:教材费=380.00,2026-09-10,yes,1000.00,G7-1,2026秋
T2026-003,2026003,王小刚,13812345673,tuition:学费=4500.00;books:教材费=380.00,2026-09-10,no,,G7-2,2026秋
T2026-004,2026004,赵小丽,13812345674,tuition:学费=4500.00;dorm:住宿费=1200.00;books:教材费=380.00,2026-09-10,yes,1000.00,G7-2,2026秋
T2026-005,2026005,孙小伟,13812345675,tuition:学费=4500.00;books:教材费=380.00,2026-09-10,no,,G8-1,2026秋
"""

WATER_CSV = """\
bill_no,payer_id,payer_name,item,item_name,amount,due_date,late_fee,period
W202607-0101,0101001,周先生,water,水费,86.40,2026-07-25,daily:5bps:cap=30%,2026-07
W202608-0101,0101001,周先生,water,水费,92.10,2026-08-25,daily:5bps:cap=30%,2026-08
W202608-0102,0101002,吴女士,water,水费,45.00,2026-08-25,daily:5bps:cap=30%,2026-08
W202608-0103,0101003,郑先生,water,水费,120.35,2026-09-25,daily:5bps:cap=30%,2026-08
W202608-0104,0101004,冯女士,water,水费,66.00,2026-09-25,daily:5bps:cap=30%,2026-08
W202608-0105,0101005,陈先生,water,水费,150.00,2026-09-25,daily:5bps:cap=30%,2026-08
W202608-0106,0101006,卫女士,water,水费,58.20,2026-09-02,daily:5bps:cap=30%,2026-08
"""


def _ensure_billers(engine: Engine) -> None:
    existing = {b.code for b in engine.billers()}
    if "demo-school" not in existing:
        engine.create_biller(
            Biller(
                code="demo-school",
                name="第一实验中学",
                kind=BillerKind.SCHOOL,
                settlement_account=SettlementAccount(
                    "示范银行", "第一实验中学", "6222020200112233445"
                ),
                fee_rules=(
                    FeeRule(channel="counter", kind=FeeKind.BPS, bps=30, min_fen=10, max_fen=2000),
                ),
                limits=Limits(single_payment_fen=2_000_000),
            ),
            actor="demo",
        )
    if "demo-water" not in existing:
        engine.create_biller(
            Biller(
                code="demo-water",
                name="城东自来水公司",
                kind=BillerKind.UTILITY,
                settlement_account=SettlementAccount(
                    "示范银行", "城东自来水公司", "6222020200998877665"
                ),
                fee_rules=(FeeRule(channel="counter", kind=FeeKind.FIXED, fixed_fen=50),),
                # 户号 run in sequence: the payer pages also ask for the name's last character
                lookup_check=LookupCheck.NAME_LAST_CHAR,
            ),
            actor="demo",
        )


def run_demo(url: str, out_dir: Path, console: Console) -> dict[str, object]:
    clock = FixedClock(DEMO_NOW)
    engine = Engine.from_url(url, clock=clock, upgrade=True)
    _ensure_billers(engine)
    channels = setup_channels(engine, clock)
    school = engine.import_bills("demo-school", SCHOOL_CSV.encode("utf-8"), file_name="school.csv")
    water = engine.import_bills("demo-water", WATER_CSV.encode("gbk"), file_name="water-gbk.csv")
    college = engine.import_bills(COLLEGE, COLLEGE_CSV.encode("utf-8"), file_name="college.csv")
    console.print(
        f"imported school.csv: {school.created} new, {school.unchanged} unchanged; "
        f"water-gbk.csv: {water.created} new, {water.unchanged} unchanged; "
        f"college.csv: {college.created} new, {college.unchanged} unchanged",
        highlight=False,
    )

    # at the counter (柜台): each clerk's confirmation goes through the counter channel
    channels.counter("demo-school", ["T2026-001"], "CTR-0001")
    withdrawn = channels.counter("demo-school", ["T2026-002"], "CTR-0002")
    channels.counter("demo-school", ["T2026-003"], "CTR-0003")
    channels.counter("demo-school", ["T2026-004"], "CTR-0004", amount_fen=300_000)  # installment
    channels.counter("demo-water", ["W202607-0101", "W202608-0101"], "CTR-0101")  # + late fee
    channels.counter("demo-water", ["W202608-0102"], "CTR-0102")
    # the counter's confirmation arrives twice: credited once
    repeat = channels.counter("demo-water", ["W202608-0102"], "CTR-0102")

    # a withdrawal: the dormitory fee is refunded to 李小红's family
    refund = engine.refund(
        withdrawn.payment.id,
        120_000,
        request_id="demo-withdrawal-002",
        reason="退宿",
        requested_by="bursar",
    )
    engine.complete_refund(refund.refund_no, channel_refund_id="CTR-RF-0002")

    # a payment that arrives after its order expired goes to suspense, with a refund queued
    late = engine.create_order("demo-water", ["W202608-0103"], idempotency_key="demo-late-0103")
    late_result = engine.confirm(
        "counter",
        "CTR-0103",
        late.order_no,
        late.total_fen,
        paid_at=late.expires_at + timedelta(minutes=5),
    )

    # every other way in, against the sandbox
    for label, step in (
        ("aggregated QR", channels.stall),
        ("mobile banking", channels.mobile_banking),
        ("WeChat Pay", channels.wechat),
        ("Alipay", channels.alipay),
        ("POS", channels.card),
        ("auto-debit", channels.mandate),
    ):
        console.print(f"{label}: {step()}", highlight=False, markup=False)
    lost, complaint = channels.complaint()
    console.print(f"complaint, notification lost: {lost}", highlight=False, markup=False)
    refusal = channels.refused()
    console.print(f"designated sole channel: {refusal}", highlight=False, markup=False)

    # the four jobs billfold is bought for, each from import to the export files
    packs = run_scenarios(url, DEMO_NOW, out_dir)

    # the back office in the open: the water company's file, the bank leg, a complaint
    water_file = water_collection_file(engine, DEMO_NOW.date(), out_dir)
    console.print(f"water company's collection file: {water_file}", highlight=False)
    bank = settle_bank_leg(url, out_dir, console)
    worked = work_a_complaint(engine, console)

    summary = _summarize(engine, repeat.duplicate, late_result.payment.status)
    summary["sole_channel_refusal"] = refusal
    summary["complaint_resolved_automatically"] = complaint
    summary["stall_code"] = stall_code(engine, MARKET)
    summary["scenarios"] = [summary_view(pack, out_dir) for pack in packs]
    summary["water_collection_file"] = water_file.relative_to(out_dir).as_posix()
    summary["bank_leg"] = bank.view()
    summary["complaint_worked"] = worked
    _print(console, summary)
    console.print(scenario_table(packs))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "demo-summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    console.print(f"summary written to {out_dir / 'demo-summary.json'}", highlight=False)
    engine.close()
    return summary


def _bill_rows(engine: Engine, code: str) -> list[Bill]:
    with engine.uow() as uow:
        biller = uow.billers.get_by_code(code)
        if not (biller is not None and biller.id is not None):
            raise InvariantViolated("expected biller is not None and biller.id is not None")
        return uow.bills.for_biller(biller.id)


def _summarize(
    engine: Engine, duplicate_ignored: bool, late_status: PaymentStatus
) -> dict[str, object]:
    billers: dict[str, object] = {}
    for code in DEMO_BILLERS:
        today = engine.today(code)
        bills = _bill_rows(engine, code)
        billers[code] = {
            "bills": len(bills),
            "paid_bills": sum(1 for b in bills if b.status(today).value == "paid"),
            "principal": format_yuan(sum(b.principal_fen for b in bills)),
            "paid": format_yuan(sum(b.paid_fen for b in bills)),
            "late_fees_paid": format_yuan(sum(b.late_fee_paid_fen for b in bills)),
            "refunded": format_yuan(sum(b.refunded_fen for b in bills)),
            "outstanding": format_yuan(sum(b.outstanding_fen for b in bills)),
        }
    return {
        "billers": billers,
        "trial_balance": {k: format_yuan(v) for k, v in engine.trial_balance().items()},
        "books_sound": engine.check_books() == [],
        "duplicate_notification_ignored": duplicate_ignored,
        "late_payment": late_status.value,
        "pending_refunds": len(engine.pending_refunds()),
        "channels": _channel_counts(engine),
        "voice_broadcasts": [e["text"] for e in _events(engine, "voice.broadcast")],
        "pre_debit_notices": [
            f"{e['bill_no']} {e['amount']} on {e['debit_date']}"
            for e in _events(engine, "mandate.pre_debit_notice")
        ],
    }


def _channel_counts(engine: Engine) -> dict[str, dict[str, object]]:
    """Per channel: payments credited (and their sum) and payments left in suspense."""
    p = t.payments.c
    query = select(p.channel, p.status, func.count(), func.sum(p.amount_fen)).group_by(
        p.channel, p.status
    )
    credited: dict[str, tuple[int, int]] = {}
    suspense: dict[str, int] = {}
    with engine.uow() as uow:
        for channel, status, number, amount in uow.conn.execute(query):
            if status == PaymentStatus.CREDITED.value:
                credited[channel] = (int(number), int(amount))
            elif status in (PaymentStatus.SUSPENSE.value, PaymentStatus.HELD.value):
                suspense[channel] = suspense.get(channel, 0) + int(number)
    return {
        channel: {
            "credited": credited.get(channel, (0, 0))[0],
            "amount": format_yuan(credited.get(channel, (0, 0))[1]),
            "suspense": suspense.get(channel, 0),
        }
        for channel in sorted(credited.keys() | suspense.keys())
    }


def _events(engine: Engine, event_type: str) -> list[dict[str, Any]]:
    e = t.outbox_events.c
    query = select(e.payload).where(e.event_type == event_type).order_by(e.id)
    with engine.uow() as uow:
        return [json.loads(payload)["data"] for payload in uow.conn.execute(query).scalars()]


def _print(console: Console, summary: dict[str, object]) -> None:
    table = Table(
        "biller",
        "bills",
        "paid bills",
        "principal",
        "paid",
        "late fees",
        "refunded",
        "outstanding",
        title="billfold demo — 2026-09-01 (Asia/Shanghai)",
    )
    billers = summary["billers"]
    if not isinstance(billers, dict):
        raise InvariantViolated("expected isinstance(billers, dict)")
    for code, row in billers.items():
        table.add_row(
            code,
            str(row["bills"]),
            str(row["paid_bills"]),
            row["principal"],
            row["paid"],
            row["late_fees_paid"],
            row["refunded"],
            row["outstanding"],
        )
    console.print(table)
    by_channel = Table(
        "channel", "payments credited", "amount", "in suspense", title="payments by channel"
    )
    channels = summary["channels"]
    if not isinstance(channels, dict):
        raise InvariantViolated("expected isinstance(channels, dict)")
    for channel, row in channels.items():
        by_channel.add_row(channel, str(row["credited"]), row["amount"], str(row["suspense"]))
    console.print(by_channel)
    ledger = Table("account", "balance (debit +)", title="trial balance")
    balance = summary["trial_balance"]
    if not isinstance(balance, dict):
        raise InvariantViolated("expected isinstance(balance, dict)")
    for account, value in balance.items():
        ledger.add_row(account, value)
    console.print(ledger)
    console.print(
        f"duplicate notification credited once: {summary['duplicate_notification_ignored']}; "
        f"late payment → {summary['late_payment']} (refund queued); "
        f"pending refunds: {summary['pending_refunds']}; books sound: {summary['books_sound']}",
        highlight=False,
    )
    console.print(
        f"stall speaker: {summary['voice_broadcasts']}; "
        f"pre-debit notices: {summary['pre_debit_notices']}; "
        f"designated sole channel: {summary['sole_channel_refusal']}",
        highlight=False,
        markup=False,
    )
