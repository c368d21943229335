from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from billfold.errors import InvalidInput
from billfold.settlement.statement import (
    RAW_LIMIT,
    Direction,
    LineError,
    LineStatus,
    LineType,
    StatementError,
    StatementLine,
)

WHEN = datetime(2024, 1, 31, 2, 0, tzinfo=UTC)


def _line(**overrides: object) -> StatementLine:
    values: dict[str, object] = {
        "channel": "alipay",
        "channel_txn_id": "T1",
        "amount_fen": 1234,
        "occurred_at": WHEN,
        "type": LineType.PAYMENT,
        "source_file": "bill.csv",
        "source_line": 6,
    }
    values.update(overrides)
    return StatementLine(**values)  # type: ignore[arg-type]


def test_direction_defaults_from_the_line_type() -> None:
    assert _line().direction is Direction.CREDIT
    assert _line(type=LineType.REFUND).direction is Direction.DEBIT
    assert _line(type=LineType.FEE).direction is Direction.DEBIT
    assert _line(type=LineType.SETTLEMENT, direction=Direction.DEBIT).direction is Direction.DEBIT


def test_occurred_at_is_normalised_to_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    line = _line(occurred_at=datetime(2024, 1, 31, 10, 0, tzinfo=shanghai))
    assert line.occurred_at == WHEN
    assert line.occurred_at.tzinfo is UTC


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="occurred_at must be timezone-aware"):
        _line(occurred_at=datetime(2024, 1, 31, 10, 0))


def test_negative_amount_is_refused() -> None:
    with pytest.raises(InvalidInput, match="amount_fen must not be negative, got -1"):
        _line(amount_fen=-1)


def test_float_amount_is_refused() -> None:
    with pytest.raises(InvalidInput, match="amount_fen must be an int, got float"):
        _line(amount_fen=12.34)


def test_source_line_is_one_based() -> None:
    with pytest.raises(InvalidInput, match="source_line is 1-based, got 0"):
        _line(source_line=0)


def test_empty_channel_txn_id_is_refused() -> None:
    with pytest.raises(InvalidInput, match="channel_txn_id must not be empty"):
        _line(channel_txn_id="")


def test_raw_text_is_cut_short() -> None:
    assert len(_line(raw="x" * 10_000).raw or "") == RAW_LIMIT


def test_to_json_keeps_integer_fen_and_utc_time() -> None:
    data = _line(fee_fen=-6, status=LineStatus.PENDING).to_json()
    assert data["amount_fen"] == 1234
    assert data["amount_yuan"] == "12.34"
    assert data["fee_fen"] == -6
    assert data["occurred_at"] == "2024-01-31T02:00:00Z"
    assert data["status"] == "PENDING"
    assert data["direction"] == "CREDIT"
    assert data["source_line"] == 6


def test_line_error_reads_file_line_field_message() -> None:
    error = LineError("bill.csv", 7, "订单金额（元）", "'1.234' has more than two decimals")
    assert str(error) == "bill.csv:7: 订单金额（元）: '1.234' has more than two decimals"


def test_statement_error_names_the_first_problem_and_keeps_all() -> None:
    one = LineError("a.csv", 2, "amount", "value is empty")
    two = LineError("a.csv", 5, "time", "bad")
    assert str(StatementError([one])) == "a.csv:2: amount: value is empty"
    both = StatementError([one, two])
    assert str(both) == "2 problems in a.csv; first: a.csv:2: amount: value is empty"
    assert both.errors == [one, two]
    assert isinstance(both, InvalidInput)
