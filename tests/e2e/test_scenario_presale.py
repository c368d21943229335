"""Presale-fund supervision end to end, on SQLite and PostgreSQL: the project, milestones and
contracts set up; payments through the project's POS terminal and QR in the sandbox; money
without a contract held; every entry pushed to a fake bureau over HTTP; a release within the
limit and one refused; statements reconciled, the collection settled into the supervised
account, and the daily escrow report checked."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import presale as s
from billfold.adapters.outbox.bureau_push import pushes
from billfold.demo.gov_presale import BUREAU_CODE, run_presale
from billfold.engine import Engine
from billfold.packs.presale import PresaleDesk
from billfold.settlement.escrow import EntryKind
from billfold.settlement.reconciler import Reconciler


def table_counts(engine: Engine) -> dict[str, int]:
    tables = (t.payments, t.journal_entries, s.escrow_entries, s.bureau_pushes, t.audit_log)
    with engine.uow() as uow:
        return {
            table.name: int(uow.conn.execute(select(func.count()).select_from(table)).scalar() or 0)
            for table in tables
        }


def test_presale_escrow_from_contracts_to_the_daily_report(engine: Engine, tmp_path: Path) -> None:
    summary = run_presale(engine, tmp_path)
    assert (summary.billers, summary.bills, summary.discrepancies) == (1, 3, 0)
    assert summary.collected_fen == summary.settled_fen == 183_150_000

    desk = PresaleDesk(engine)
    entries = desk.entries(BUREAU_CODE)
    assert [(e.seq, e.kind, e.contract_no, e.amount_fen) for e in entries] == [
        (1, EntryKind.HELD, None, 5_000_000),
        (2, EntryKind.PAYMENT, "HT-LJY-2026-0001", 93_600_000),
        (3, EntryKind.PAYMENT, "HT-LJY-2026-0002", 89_550_000),
        (4, EntryKind.RELEASE, None, 50_000_000),
    ]
    assert [e.channel for e in entries] == ["bank", "pos", "qr", "release"]
    sent = pushes(engine, BUREAU_CODE)
    assert [(p.seq, p.status, p.attempts) for p in sent] == [(n, "acked", 1) for n in (1, 2, 3, 4)]
    assert [p.receipt_no for p in sent] == [f"HZJG{n:08d}" for n in (1, 2, 3, 4)]

    runs = Reconciler(engine).runs()
    assert sorted((r.channel, r.merchant_id, r.matched_count) for r in runs) == [
        ("pos", "POS-DEMO-LJY", 1),
        ("qr", "M-DEMO-LJY", 1),
    ]
    out = tmp_path / "presale"
    detail = (out / "escrow-JG2026-0088-20260901.csv").read_text("utf-8-sig").splitlines()
    assert detail[1:] == [
        "合同,HT-LJY-2026-0001,3幢1单元1201,陈**,3120000.00,936000.00,0.00,936000.00,0.00,0.00,"
        "0.00,0.00",
        "合同,HT-LJY-2026-0002,3幢1单元1502,李**,2985000.00,895500.00,0.00,895500.00,0.00,0.00,"
        "0.00,0.00",
        "合同,HT-LJY-2026-0003,5幢2单元0801,王**,2760000.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00",
        "暂挂,TRF-20260901-0001,,未注明合同；付款方 转账 未注明合同,0.00,0.00,0.00,0.00,0.00,"
        "50000.00,50000.00,0.00",
        "拨付,REL-LJY-0001,,基础工程款,0.00,0.00,500000.00,0.00,0.00,0.00,0.00,500000.00",
    ]
    head = (out / "escrow-JG2026-0088-20260901-summary.csv").read_text("utf-8-sig").splitlines()
    assert head[1] == (
        "2026-09-01,JG2026-0088,丽景苑一期,3301040160000088,"
        "0.00,1831500.00,500000.00,1331500.00,50000.00,0.00,1831500.00,500000.00,50000.00"
    )
    sheet = load_workbook(out / "escrow-JG2026-0088-20260901-summary.xlsx").active
    assert sheet is not None and sheet["H2"].value == 1331500
    payout = (out / "payout-ST20260901-demo-developer-1.csv").read_text("utf-8-sig")
    assert "1,3301040160000088,丽景苑一期预售资金监管专户,示范银行杭州分行,1831500.00," in payout
    assert engine.check_books() == []
    balance = engine.trial_balance()  # the summary's balance and held money are the journal's
    assert balance["escrow_buyers:JG2026-0088"] == -133_150_000
    assert balance["escrow_held:JG2026-0088"] == -5_000_000
    assert balance["escrow:JG2026-0088"] == 138_150_000


def test_running_the_presale_scenario_twice_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    first = run_presale(engine, tmp_path)
    before = table_counts(engine)
    texts = {p: p.read_bytes() for p in first.files if p.suffix == ".csv"}
    again = run_presale(engine, tmp_path)
    assert again == first and table_counts(engine) == before
    assert {p: p.read_bytes() for p in again.files if p.suffix == ".csv"} == texts
