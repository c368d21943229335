"""``billfold demo``: a school and a water utility, end to end, on one database.

Everything is keyed (idempotency keys, transaction ids, refund request ids), so running the
demo again on the same database changes nothing and prints the same summary.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from billfold.clock import FixedClock
from billfold.collection.bill import Bill
from billfold.collection.payment import PaymentStatus
from billfold.engine import Engine
from billfold.merchants.biller import Biller, BillerKind, Limits, SettlementAccount
from billfold.merchants.fees import FeeKind, FeeRule
from billfold.money import format_yuan

#: The demo's business day: 2026-09-01 10:00 in Asia/Shanghai.
DEMO_NOW = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)

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
            ),
            actor="demo",
        )


def _pay(
    engine: Engine, biller: str, bill_nos: list[str], txn: str, amount_fen: int | None = None
) -> None:
    order = engine.create_order(
        biller, bill_nos, amount_fen=amount_fen, idempotency_key=f"demo-{txn}"
    )
    engine.confirm("counter", txn, order.order_no, order.total_fen, paid_at=engine.clock.now())


def run_demo(url: str, out_dir: Path, console: Console) -> dict[str, object]:
    clock = FixedClock(DEMO_NOW)
    engine = Engine.from_url(url, clock=clock, upgrade=True)
    _ensure_billers(engine)
    school = engine.import_bills("demo-school", SCHOOL_CSV.encode("utf-8"), file_name="school.csv")
    water = engine.import_bills("demo-water", WATER_CSV.encode("gbk"), file_name="water-gbk.csv")
    console.print(
        f"imported school.csv: {school.created} new, {school.unchanged} unchanged; "
        f"water-gbk.csv: {water.created} new, {water.unchanged} unchanged",
        highlight=False,
    )

    _pay(engine, "demo-school", ["T2026-001"], "CTR-0001")
    _pay(engine, "demo-school", ["T2026-002"], "CTR-0002")
    _pay(engine, "demo-school", ["T2026-003"], "CTR-0003")
    _pay(engine, "demo-school", ["T2026-004"], "CTR-0004", amount_fen=300_000)  # an installment
    _pay(engine, "demo-water", ["W202607-0101", "W202608-0101"], "CTR-0101")  # arrears + late fee
    _pay(engine, "demo-water", ["W202608-0102"], "CTR-0102")
    # the counter's notification arrives twice: credited once
    dup = engine.create_order("demo-water", ["W202608-0102"], idempotency_key="demo-CTR-0102")
    repeat = engine.confirm("counter", "CTR-0102", dup.order_no, dup.total_fen, paid_at=clock.now())

    # a withdrawal: the dormitory fee is refunded to 李小红's family
    paid = engine.confirm(
        "counter",
        "CTR-0002",
        engine.create_order("demo-school", ["T2026-002"], idempotency_key="demo-CTR-0002").order_no,
        608_000,
    )
    refund = engine.refund(
        paid.payment.id,
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

    summary = _summarize(engine, repeat.duplicate, late_result.payment.status)
    _print(console, engine, summary)
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
        assert biller is not None and biller.id is not None
        return uow.bills.for_biller(biller.id)


def _summarize(
    engine: Engine, duplicate_ignored: bool, late_status: PaymentStatus
) -> dict[str, object]:
    billers: dict[str, object] = {}
    for code in ("demo-school", "demo-water"):
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
    }


def _print(console: Console, engine: Engine, summary: dict[str, object]) -> None:
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
    assert isinstance(billers, dict)
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
    ledger = Table("account", "balance (debit +)", title="trial balance")
    balance = summary["trial_balance"]
    assert isinstance(balance, dict)
    for account, value in balance.items():
        ledger.add_row(account, value)
    console.print(ledger)
    console.print(
        f"duplicate notification credited once: {summary['duplicate_notification_ignored']}; "
        f"late payment → {summary['late_payment']} (refund queued); "
        f"pending refunds: {summary['pending_refunds']}; books sound: {summary['books_sound']}",
        highlight=False,
    )
