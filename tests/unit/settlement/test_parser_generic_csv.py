from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from billfold.errors import ConfigurationError
from billfold.settlement.parsers import parse, parse_all
from billfold.settlement.statement import (
    Direction,
    LineError,
    LineStatus,
    LineType,
    StatementError,
)

MAPPING: dict[str, Any] = {
    "columns": {
        "channel_txn_id": "流水号",
        "order_no": "订单号",
        "amount": "金额",
        "fee": "手续费",
        "occurred_at": "交易时间",
        "type": "类型",
        "status": "状态",
    },
    "type_map": {"支付": "PAYMENT", "退款": "REFUND"},
    "status_map": {"成功": "SUCCESS", "失败": "FAILED"},
    "comment_prefix": "#",
}

BANK_CSV = """\
#某银行 收款明细 2024-01-31
流水号,订单号,金额,手续费,交易时间,类型,状态,备注
B001,ORD-1,12.34,0.05,2024-01-31 10:00:00,支付,成功,"学费, 一年级"
B002,ORD-1,2.00,-0.01,2024-01-31 11:30:00,退款,成功,
B003,ORD-2,`8.00,0.00,2024-01-31 23:59:59,支付,失败,
#合计 3 笔
"""


def _parse(text: str, mapping: dict[str, Any] | None = None, **kw: Any) -> Any:
    return parse_all(
        [text.encode(kw.pop("encode", "utf-8"))],
        "generic-csv",
        column_map=mapping or MAPPING,
        source_file="bank.csv",
        channel="campus-bank",
        **kw,
    )


def test_mapped_columns_become_statement_lines() -> None:
    lines, errors = _parse(BANK_CSV)
    assert errors == []
    first, refund, failed = lines
    assert first.channel == "campus-bank"
    assert first.channel_txn_id == "B001"
    assert first.order_no == "ORD-1"
    assert first.amount_fen == 1234
    assert first.fee_fen == 5
    assert first.occurred_at == datetime(2024, 1, 31, 2, 0, tzinfo=UTC)
    assert first.type is LineType.PAYMENT
    assert first.source_line == 3
    assert refund.type is LineType.REFUND
    assert refund.direction is Direction.DEBIT
    assert refund.fee_fen == -1
    assert failed.status is LineStatus.FAILED
    assert failed.amount_fen == 800  # a leading backtick is stripped
    assert failed.occurred_at == datetime(2024, 1, 31, 15, 59, 59, tzinfo=UTC)


def test_gbk_file_with_the_same_mapping() -> None:
    lines, _ = _parse(BANK_CSV, encode="gbk")
    assert [line.amount_fen for line in lines] == [1234, 200, 800]


def test_utf8_bom_file_with_the_same_mapping() -> None:
    lines, _ = _parse(BANK_CSV, encode="utf-8-sig")
    assert [line.channel_txn_id for line in lines] == ["B001", "B002", "B003"]


def test_flat_mapping_and_fen_amounts() -> None:
    mapping = {
        "channel_txn_id": "id",
        "amount": "fen",
        "occurred_at": "at",
        "amount_unit": "fen",
        "time_format": "%Y%m%d%H%M%S%z",
        "delimiter": "|",
        "default_type": "settlement",
    }
    lines, _ = _parse("id|fen|at\nX9|1234|20240131100000+0800\n", mapping)
    assert lines[0].amount_fen == 1234
    assert lines[0].type is LineType.SETTLEMENT
    assert lines[0].occurred_at == datetime(2024, 1, 31, 2, 0, tzinfo=UTC)


def test_other_time_zone() -> None:
    lines, _ = _parse(BANK_CSV, tz="UTC")
    assert lines[0].occurred_at == datetime(2024, 1, 31, 10, 0, tzinfo=UTC)


BAD_LINES = [
    ("B9,O,12.345,0,2024-01-31 10:00:00,支付,成功,", "金额", "'12.345' has more than two decimals"),
    ("B9,O,-1.00,0,2024-01-31 10:00:00,支付,成功,", "金额", "'-1.00' is negative"),
    (
        "B9,O,1.2.3,0,2024-01-31 10:00:00,支付,成功,",
        "金额",
        "'1.2.3' is not an amount like '12.34'",
    ),
    ("B9,O,,0,2024-01-31 10:00:00,支付,成功,", "金额", "value is empty"),
    (
        "B9,O,1.00,0,2024-02-30 10:00:00,支付,成功,",
        "交易时间",
        "'2024-02-30 10:00:00' is not a time like '%Y-%m-%d %H:%M:%S'",
    ),
    (
        "B9,O,1.00,0,2024-01-31 10:00:00,冲正,成功,",
        "类型",
        "unknown value '冲正'; expected one of 支付, 退款",
    ),
    ("B9,O,1.00", "手续费", "missing: the line has 3 values, the header 8"),
    (
        "B9,O,1.00,0,2024-01-31 10:00:00,支付,成功,,extra",
        "columns",
        "the line has 9 values, the header 8",
    ),
]


@pytest.mark.parametrize(("row", "field", "message"), BAD_LINES)
def test_bad_line_is_rejected_naming_file_line_and_field(
    row: str, field: str, message: str
) -> None:
    text = (
        "流水号,订单号,金额,手续费,交易时间,类型,状态,备注\n"
        "B1,O,1.00,0,2024-01-31 10:00:00,支付,成功,\n"
    )
    with pytest.raises(StatementError) as caught:
        _parse(text + row + "\n")
    assert caught.value.errors == [LineError("bank.csv", 3, field, message)]
    assert str(caught.value) == f"bank.csv:3: {field}: {message}"


def test_quarantine_skips_bad_lines_and_keeps_good_ones() -> None:
    text = BANK_CSV.replace("B002,ORD-1,2.00", "B002,ORD-1,2.001")
    lines, errors = _parse(text, on_error="quarantine")
    assert [line.channel_txn_id for line in lines] == ["B001", "B003"]
    assert errors == [LineError("bank.csv", 4, "金额", "'2.001' has more than two decimals")]


def test_fen_amount_must_be_whole() -> None:
    mapping = {"channel_txn_id": "id", "amount": "fen", "occurred_at": "at", "amount_unit": "fen"}
    with pytest.raises(
        StatementError, match=r"bank.csv:2: fen: '12.5' is not a whole number of fen"
    ):
        _parse("id,fen,at\nX,12.5,2024-01-31 10:00:00\n", mapping)


def test_missing_header_column_stops_the_file() -> None:
    with pytest.raises(StatementError) as caught:
        _parse("流水号,订单号,交易时间\nB1,O,2024-01-31 10:00:00\n")
    assert str(caught.value) == "bank.csv:1: 金额: column for amount not found in the header row"


def test_multiline_quoted_value_reports_the_line_the_row_starts_on() -> None:
    text = (
        "流水号,订单号,金额,手续费,交易时间,类型,状态,备注\n"
        'B1,O,1.00,0,2024-01-31 10:00:00,支付,成功,"two\nlines"\n'
        "B2,O,1.999,0,2024-01-31 10:00:00,支付,成功,\n"
    )
    with pytest.raises(StatementError, match=r"^bank.csv:4: 金额:"):
        _parse(text)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"amount": "a", "occurred_at": "t"}, "mapping: columns.channel_txn_id is required"),
        ({**MAPPING, "colour": "x"}, "mapping: unknown key 'colour'"),
        ({**MAPPING, "amount_unit": "jiao"}, "mapping: amount_unit must be 'yuan' or 'fen'"),
        ({**MAPPING, "type_map": {"支付": "PAY"}}, "mapping: type_map['支付'] is 'PAY'; expected"),
        ({**MAPPING, "delimiter": ";;"}, "mapping: delimiter must be one character"),
    ],
)
def test_bad_mapping_is_a_configuration_error(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _parse(BANK_CSV, mapping)


def test_generic_csv_without_mapping_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="generic-csv needs a column mapping"):
        list(parse([b"a\n"], "generic-csv"))


def test_two_hundred_thousand_lines_are_read_lazily() -> None:
    pulled = 0

    def source() -> Iterator[bytes]:
        nonlocal pulled
        yield "流水号,订单号,金额,手续费,交易时间,类型,状态,备注\n".encode()
        for n in range(200_000):
            pulled += 1
            yield f"B{n},O{n},1.00,0,2024-01-31 10:00:00,支付,成功,\n".encode()

    reader = parse(source(), "generic-csv", column_map=MAPPING)
    first = next(reader)
    assert first.channel_txn_id == "B0"
    assert pulled < 10
