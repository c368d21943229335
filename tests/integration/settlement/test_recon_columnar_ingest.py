"""A WeChat Pay bill read column by column (polars) is staged and reconciled exactly as one
read by the streaming parser: the same staging rows, the same quarantined lines, the same
findings; a rejected line refuses the whole file and stores nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from recon_fixtures import DAY, Desk  # type: ignore[import-not-found]
from sqlalchemy import select
from test_recon_parallel_ingest import PAD, _statement  # type: ignore[import-not-found]

from billfold.adapters.db import statement_ingest as recon_ingest
from billfold.adapters.db.recon import stage
from billfold.adapters.db.statement_ingest import ParseRequest
from billfold.adapters.db.statement_stage import create_stage, drop_stage, table_summary
from billfold.settlement.discrepancy import Code
from billfold.settlement.parsers import columnar
from billfold.settlement.source import chunks
from billfold.settlement.statement import StatementError
from billfold.settlement.totals import StageSummary

pytest.importorskip("polars")


def _staged(
    desk: Desk, path: Path, request: ParseRequest
) -> tuple[list[Any], list[Any], StageSummary | None, StageSummary]:
    """The staged rows, the errors, the summary ``ingest`` kept, the table's summary."""
    with desk.engine.uow() as uow:
        create_stage(uow.conn)
        errors, kept = recon_ingest.ingest(
            uow.conn, path, lambda: chunks(path), request, workers=1, progress=None
        )
        rows = [tuple(r) for r in uow.conn.execute(select(stage).order_by(stage.c.seq))]
        table = table_summary(uow.conn)
        drop_stage(uow.conn)
        uow.rollback()
    return rows, errors, kept, table


def test_the_staged_rows_and_errors_are_the_streaming_parsers(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.school()
    path, where = _statement(tmp_path, desk)
    request = ParseRequest("wechatpay", "wechatpay", "wx-big.csv", "quarantine")
    used: list[bool] = []
    read = columnar.read

    def spy(*args: Any) -> Any:
        found = read(*args)
        used.append(found is not None)
        return found

    monkeypatch.setattr(columnar, "read", spy)
    monkeypatch.setattr(recon_ingest, "COLUMNAR_THRESHOLD", 0)
    fast_rows, fast_errors, fast_summary, table = _staged(desk, path, request)
    assert used == [True]
    monkeypatch.setattr(columnar, "available", lambda: False)
    slow_rows, slow_errors, slow_summary, _ = _staged(desk, path, request)
    assert used == [True]  # the streaming parser, this time
    assert slow_summary is None  # the run reads the table's
    assert fast_summary is not None
    assert sorted(fast_summary.groups) == sorted(table.groups)
    assert fast_summary.merchants == table.merchants
    assert len(table.groups) == 2  # the reversed attempts, the payments
    assert len(fast_rows) == 4 * PAD + 3
    assert fast_rows == slow_rows
    assert fast_errors == slow_errors
    assert [(e.line, e.field) for e in fast_errors] == [(where["WBAD"], "手续费")]


def test_a_run_read_column_by_column_finds_what_the_streaming_parser_finds(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recon_ingest, "COLUMNAR_THRESHOLD", 0)
    desk.school()
    path, where = _statement(tmp_path, desk)
    result = desk.recon.reconcile(path, format="wechatpay", business_date=DAY, auto_resolve=False)
    assert {(d.code, d.source) for d in result.discrepancies} == {
        (Code.AMOUNT_MISMATCH, f"wx-big.csv:{where['WB']}"),
        (Code.UNREADABLE_LINE, f"wx-big.csv:{where['WBAD']}"),
        (Code.CHANNEL_ONLY, f"wx-big.csv:{where['WX']}"),
        (Code.ENGINE_ONLY, "engine"),
    }
    assert result.run.totals.line_count == 4 * PAD + 4 and result.run.quarantined == 1
    assert result.run.matched_count == 1


def test_a_rejected_line_refuses_the_file_and_stores_nothing(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recon_ingest, "COLUMNAR_THRESHOLD", 0)
    desk.school()
    path, where = _statement(tmp_path, desk)
    with pytest.raises(StatementError) as refused:
        desk.recon.reconcile(path, format="wechatpay", business_date=DAY, on_error="reject")
    assert str(refused.value).startswith(f"wx-big.csv:{where['WBAD']}: 手续费: ")
    assert desk.recon.runs() == []
    assert desk.recon.discrepancies() == []
