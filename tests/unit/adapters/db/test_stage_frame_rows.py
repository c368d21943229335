"""A statement read column by column becomes staging rows with the staging table's widths:
an over-long id or counterparty is cut as the table's columns would hold it, and a frame
whose values all fit is passed on as it is. Its summary groups the lines as the table's
``GROUP BY`` does."""

from __future__ import annotations

from typing import Any

import pytest

from billfold.adapters.db.statement_stage import frame_rows, frame_summary
from billfold.settlement.parsers.columnar import COLUMNS

pl = pytest.importorskip("polars")


def _frame(txn: str, counterparty: str) -> Any:
    row = {
        "txn": txn, "type": "PAYMENT", "status": "SUCCESS", "direction": "CREDIT",
        "amount_fen": 100, "fee_fen": 1, "currency": "CNY", "order_no": "BF1",
        "refund_id": None, "occurred_at": "2026-09-01T02:00:00+00:00", "source_line": 2,
        "merchant_id": "1900000109", "counterparty": counterparty,
    }  # fmt: skip
    refund = row | {"txn": "T2", "type": "REFUND", "direction": "DEBIT", "source_line": 3}
    schema = {n: pl.Int64 if n in ("amount_fen", "fee_fen", "source_line") else pl.String
              for n in COLUMNS}  # fmt: skip
    return pl.DataFrame([row, refund], schema=schema)


def test_over_long_values_are_cut_to_the_staging_widths() -> None:
    rows = frame_rows(_frame("T" * 70, "C" * 130))
    assert rows.get_column("txn").to_list() == ["T" * 64, "T2"]
    assert rows.get_column("counterparty").to_list() == ["C" * 128, "C" * 128]
    assert rows.get_column("grp").to_list() == ["P", "R"]
    assert rows.get_column("seq").to_list() == [1, 2]


def test_values_that_fit_are_passed_on_unchanged() -> None:
    frame = _frame("T" * 64, "C" * 128)
    rows = frame_rows(frame)
    for name in ("txn", "order_no", "refund_id", "merchant_id", "counterparty"):
        assert rows.get_column(name).to_list() == frame.get_column(name).to_list()


def test_the_summary_groups_lines_by_type_status_and_direction() -> None:
    summary = frame_summary(frame_rows(_frame("T1", "")))
    assert sorted(summary.groups) == [
        ("PAYMENT", "SUCCESS", "CREDIT", 1, 100, 1),
        ("REFUND", "SUCCESS", "DEBIT", 1, 100, 1),
    ]
    assert summary.merchants == ["1900000109"]
