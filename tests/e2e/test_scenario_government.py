"""Government fees and fines end to end, on SQLite and PostgreSQL: catalogue and fines set
up, paid by aggregated QR and by card in the sandbox, receipts issued, the acquirers'
statements reconciled, both offices settled, and the files checked line by line."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import gov as g
from billfold.demo.gov_presale import EXIT_ENTRY, TRAFFIC, run_government
from billfold.engine import Engine
from billfold.settlement.reconciler import Reconciler


def table_counts(engine: Engine) -> dict[str, int]:
    tables = (t.payments, t.orders, t.bills, t.journal_entries, g.gov_receipts, t.audit_log)
    with engine.uow() as uow:
        return {
            table.name: int(uow.conn.execute(select(func.count()).select_from(table)).scalar() or 0)
            for table in tables
        }


def test_government_fees_and_fines_from_catalogue_to_settlement(
    engine: Engine, tmp_path: Path
) -> None:
    summary = run_government(engine, tmp_path)
    assert (summary.name, summary.billers, summary.bills, summary.paid) == (
        "government fees",
        2,
        3,
        3,
    )
    assert (summary.collected_fen, summary.discrepancies, summary.settled_fen) == (
        50_200,
        0,
        50_200,
    )
    out = tmp_path / "government"

    qr = (out / "qr-M-DEMO-GOV-EE-20260901.csv").read_text("utf-8").splitlines()
    assert qr[0] == "流水号,订单号,金额,交易时间,状态" and len(qr) == 2
    assert qr[1].split(",")[2:] == ["180.00", "2026-09-01 10:00:00", "成功"]
    pos = (out / "pos-POS-DEMO-TRAFFIC-20260901.csv").read_text("utf-8").splitlines()
    assert [line.split(",")[0] for line in pos[1:]] == [
        "G0000001:000001:000001",
        "G0000001:000001:000002",
    ]
    assert [line.split(",")[2] for line in pos[1:]] == ["272.00", "50.00"]  # 12 days × 3%

    runs = Reconciler(engine).runs()
    assert sorted((r.channel, r.merchant_id, r.matched_count) for r in runs) == [
        ("pos", "POS-DEMO-TRAFFIC", 2),
        ("qr", "M-DEMO-GOV-EE", 1),
    ]

    receipts = sorted((out / "receipts").glob("*.json"))
    assert len(receipts) == 3
    bodies = [json.loads(p.read_text("utf-8")) for p in receipts]
    assert len({b["receipt_no"] for b in bodies}) == 3
    passport, fine, on_time = bodies
    assert passport["office_code"] == EXIT_ENTRY and passport["channel"] == "qr"
    assert [(x["name"], x["amount"]) for x in passport["lines"]] == [
        ("普通护照", "120.00"),
        ("往来港澳通行证", "60.00"),
    ]
    assert fine["office_code"] == TRAFFIC and fine["payer_name"] == "钱**"
    assert [(x["name"], x["amount"]) for x in fine["lines"]] == [
        ("加处罚款", "72.00"),
        ("罚款", "200.00"),
    ]
    assert on_time["total"] == "50.00" and len(on_time["lines"]) == 1
    page = (out / "receipts" / f"{fine['receipt_no']}.html").read_text("utf-8")
    assert '<th scope="row">决定书编号</th><td>杭公交决字〔2026〕第330100001号</td>' in page
    assert "合计（大写） 贰佰柒拾贰元整" in page and "http://127.0.0.1:8000/pay/r/R" in page
    assert (out / "receipts" / f"{fine['receipt_no']}.pdf").read_bytes().startswith(b"%PDF-")
    assert "钱多多" not in page

    settled = (out / "settlement-20260901.csv").read_text("utf-8-sig").splitlines()
    assert [row.split(",")[:4] + row.split(",")[9:10] for row in settled[1:]] == [
        ["ST20260901-demo-gov-ee-1", EXIT_ENTRY, "2026-09-01", "已付款", "180.00"],
        ["ST20260901-demo-gov-traffic-2", TRAFFIC, "2026-09-01", "已付款", "322.00"],
    ]
    payout = (out / "payout-ST20260901-demo-gov-traffic-2.csv").read_text("utf-8-sig")
    assert "1,330100000002,罚没收入专户,国库杭州中心支库,322.00," in payout
    assert engine.check_books() == []


def test_running_the_government_scenario_twice_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    first = run_government(engine, tmp_path)
    before = table_counts(engine)
    files = {p: p.read_bytes() for p in first.files if p.suffix != ".xlsx"}
    again = run_government(engine, tmp_path)
    assert again == first and table_counts(engine) == before
    assert {p: p.read_bytes() for p in again.files if p.suffix != ".xlsx"} == files
