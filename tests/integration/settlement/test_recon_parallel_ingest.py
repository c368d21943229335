"""A big statement parsed by worker processes, part by part, ends up exactly as one parsed
in one stream: the same rows, and every line and error numbered as in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from recon_fixtures import DAY, Desk, wx_bill, wx_payment  # type: ignore[import-not-found]
from sqlalchemy import select

from billfold.adapters.db import statement_ingest as recon_ingest
from billfold.adapters.db.recon import stage
from billfold.adapters.db.statement_ingest import ParseRequest, plan_split
from billfold.adapters.db.statement_stage import create_stage
from billfold.settlement.discrepancy import Code
from billfold.settlement.statement import StatementError

PAD = 600


def _statement(tmp_path: Path, desk: Desk) -> tuple[Path, dict[str, int]]:
    """Reversed attempts (no discrepancy) around the lines that matter; their line numbers."""
    a, b, c = desk.orders("10.00", "20.00", "30.00")
    for order, txn in ((a, "WA"), (b, "WB"), (c, "WC")):
        desk.pay(order, txn)

    def pad(start: int) -> list[str]:
        return [
            wx_payment(f"R{n}", f"BF-R{n}", 100, 1).replace("`SUCCESS", "`REVOKED")
            for n in range(start, start + PAD)
        ]

    bad = wx_payment("WBAD", "BF-BAD", 100, 1).replace("`0.01000", "`0.01234")
    rows = [
        *pad(0),
        wx_payment("WA", a.order_no, 1000, 6),
        *pad(PAD),
        wx_payment("WB", b.order_no, 2100, 13),
        *pad(2 * PAD),
        bad,
        *pad(3 * PAD),
        wx_payment("WX", "BF-NO-SUCH", 500, 3),
    ]
    where = {"WA": 2 + PAD, "WB": 3 + 2 * PAD, "WBAD": 4 + 3 * PAD, "WX": 5 + 4 * PAD}
    path = tmp_path / "wx-big.csv"
    path.write_bytes(wx_bill(*rows))
    return path, where


def test_a_statement_parsed_in_parts_gives_the_lines_their_own_numbers(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recon_ingest, "SPLIT_THRESHOLD", 0)
    desk.school()
    path, where = _statement(tmp_path, desk)
    request = ParseRequest("wechatpay", "wechatpay", "wx-big.csv", "quarantine")
    plan = plan_split(path, request, 2)
    assert plan is not None and plan.preamble_lines == 1
    assert len(plan.parts) == 2 and plan.parts[0].first_line == 1
    assert plan.parts[1].first_line > where["WA"]
    with desk.engine.uow() as uow:
        create_stage(uow.conn)
        errors = recon_ingest._ingest_parts(uow.conn, path, plan, request, None)
        found = dict(uow.conn.execute(select(stage.c.txn, stage.c.source_line)).all())
        count = len(found)
    assert [(e.line, e.field) for e in errors] == [(where["WBAD"], "手续费")]
    assert count == 4 * PAD + 3
    assert {txn: found[txn] for txn in ("WA", "WB", "WX")} == {
        k: v for k, v in where.items() if k != "WBAD"
    }
    strict = ParseRequest("wechatpay", "wechatpay", "wx-big.csv", "reject")
    with desk.engine.uow() as uow, pytest.raises(StatementError) as refused:
        create_stage(uow.conn)
        recon_ingest._ingest_parts(uow.conn, path, plan, strict, None)
    assert str(refused.value.errors[0]).startswith(f"wx-big.csv:{where['WBAD']}: 手续费:")


def test_a_run_with_workers_finds_what_one_stream_finds(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recon_ingest, "SPLIT_THRESHOLD", 0)
    desk.school()
    path, where = _statement(tmp_path, desk)
    result = desk.recon.reconcile(
        path, format="wechatpay", business_date=DAY, workers=2, auto_resolve=False
    )
    assert {(d.code, d.source) for d in result.discrepancies} == {
        (Code.AMOUNT_MISMATCH, f"wx-big.csv:{where['WB']}"),
        (Code.UNREADABLE_LINE, f"wx-big.csv:{where['WBAD']}"),
        (Code.CHANNEL_ONLY, f"wx-big.csv:{where['WX']}"),
        (Code.ENGINE_ONLY, "engine"),
    }
    assert result.run.totals.line_count == 4 * PAD + 4 and result.run.quarantined == 1
