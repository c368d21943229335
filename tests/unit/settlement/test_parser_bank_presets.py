"""Chinese online-banking exports through the generic reader: presets, CSV and XLSX."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import Workbook

from billfold.errors import InvalidInput
from billfold.settlement.parsers import parse_all
from billfold.settlement.parsers.mapping import CsvMapping
from billfold.settlement.parsers.presets import load_preset, preset_names
from billfold.settlement.statement import Direction, LineError, LineType, StatementError

ICBC_CSV = """\
中国工商银行企业网上银行 账户历史明细
账号：1202020000000000001,户名：某市第一中学,币种：人民币
查询区间：2024-03-01 至 2024-03-01

凭证号,交易时间,对方单位名称,借方发生额,贷方发生额,余额,用途,摘要
P0001,2024-03-01 09:12:00,支付宝（中国）网络技术有限公司,,"12,345.60","112,345.60",SETTLE-0229,支付宝结算
P0002,2024-03-01 10:00:00,中国工商银行,5.00,,"112,340.60",,账户管理费
合计,,,5.00,"12,345.60",,,
"""


def _parse(data: bytes, mapping: Any, **kw: Any) -> Any:
    return parse_all([data], "generic-csv", column_map=mapping, source_file="icbc.csv", **kw)


@pytest.mark.parametrize("name", preset_names())
def test_every_shipped_preset_is_a_valid_mapping_with_a_chinese_title(name: str) -> None:
    preset = load_preset(name)
    CsvMapping.from_mapping(preset)
    assert preset["title"]


def test_the_presets_cover_the_big_banks() -> None:
    assert {"icbc", "ccb", "abc", "cmb"} <= set(preset_names())


def test_an_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"unknown preset 'hsbc'; known: abc, ccb, cmb, icbc"):
        load_preset("hsbc")


def test_icbc_export_with_title_lines_split_amounts_and_a_total_row() -> None:
    lines, errors = _parse(ICBC_CSV.encode("gbk"), load_preset("icbc"))
    assert errors == []
    credit, fee = lines
    assert (credit.amount_fen, credit.direction, credit.type) == (
        1234560,
        Direction.CREDIT,
        LineType.SETTLEMENT,
    )
    assert (credit.order_no, credit.source_line) == ("SETTLE-0229", 6)
    assert credit.counterparty == "支付宝（中国）网络技术有限公司"
    assert (fee.amount_fen, fee.direction, fee.type) == (500, Direction.DEBIT, LineType.OTHER)
    assert fee.occurred_at == datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (',,"12,345.60"', ',1.00,"12,345.60"', "贷方发生额/借方发生额", "both hold an amount"),
        (',,"12,345.60"', ",,", "贷方发生额/借方发生额", "neither holds an amount"),
        ('"12,345.60"', '"1,2345.60"', "贷方发生额", "'1,2345.60' is not grouped in thousands"),
    ],
)
def test_a_bad_amount_pair_names_the_line_and_columns(
    old: str, new: str, field: str, message: str
) -> None:
    with pytest.raises(StatementError) as caught:
        _parse(ICBC_CSV.replace(old, new, 1).encode(), load_preset("icbc"))
    (error,) = caught.value.errors
    assert (error.line, error.field) == (6, field)
    assert error.message.startswith(message)


def test_cmb_date_and_time_columns_are_joined() -> None:
    text = (
        "招商银行交易明细\n"
        "交易日,交易时间,借方金额,贷方金额,余额,摘要,流水号,业务参考号,收/付方名称\n"
        "20240301,08:30:05,,880.00,1880.00,代收学费,CMB001,TUITION-7,张三\n"
    )
    (line,), _ = _parse(text.encode(), load_preset("cmb"))
    assert line.occurred_at == datetime(2024, 3, 1, 0, 30, 5, tzinfo=UTC)
    assert (line.amount_fen, line.order_no) == (88000, "TUITION-7")


def workbook(*rows: list[object]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_export_is_read_with_sheet_dates_and_numbers() -> None:
    data = workbook(
        ["中国工商银行企业网上银行 账户历史明细"],
        [],
        ["凭证号", "交易时间", "对方单位名称", "借方发生额", "贷方发生额", "余额", "用途", "摘要"],
        ["P0001", datetime(2024, 3, 1, 9, 12), "财付通", None, 12345.6, 112345.6, "S-1", "结算"],
        ["P0002", "2024-03-01 10:00:00", "工行", 12.345, None, 0, None, "手续费"],
        ["合计", None, None, 12.345, 12345.6],
    )
    lines, errors = _parse(data, load_preset("icbc"), on_error="quarantine")
    (credit,) = lines
    assert (credit.amount_fen, credit.source_line, credit.order_no) == (1234560, 4, "S-1")
    assert credit.occurred_at == datetime(2024, 3, 1, 1, 12, tzinfo=UTC)
    assert errors == [LineError("icbc.csv", 5, "借方发生额", "'12.345' has more than two decimals")]


def test_a_file_that_only_looks_like_xlsx_is_refused() -> None:
    with pytest.raises(StatementError, match="icbc.csv:1: xlsx: not a readable XLSX workbook"):
        _parse(b"PK\x03\x04 broken", load_preset("icbc"))


def test_a_paged_export_resumes_after_each_page_total_at_the_repeated_header() -> None:
    header = "交易流水号,交易时间,收入金额,支出金额,对方户名,交易用途"
    text = "\n".join(
        [
            "中国农业银行 账户明细",
            header,
            "A1,2024-03-01 09:00:00,100.00,,张三,学费",
            "本页合计,,100.00,0.00,,",
            "打印时间：2024-03-02",
            header,
            "A2,2024-03-01 10:00:00,,2.00,农行,手续费",
            "合计,,100.00,2.00,,",
            "打印柜员：0001",
        ]
    )
    lines, errors = _parse(text.encode("gbk"), load_preset("abc"))
    assert errors == []
    assert [(x.channel_txn_id, x.amount_fen, x.direction) for x in lines] == [
        ("A1", 10000, Direction.CREDIT),
        ("A2", 200, Direction.DEBIT),
    ]


def test_a_statement_line_below_the_total_row_is_an_error_not_passed_over() -> None:
    header = "交易流水号,交易时间,收入金额,支出金额,对方户名,交易用途"
    text = "\n".join(
        [
            header,
            "A1,2024-03-01 09:00:00,100.00,,张三,学费",
            "合计,,100.00,0.00,,",
            "打印时间：2024-03-02",
            "A2,2024-03-01 10:00:00,50.00,,李四,学费",
        ]
    )
    with pytest.raises(StatementError, match=r"icbc.csv:5: row: a statement line below the total"):
        _parse(text.encode("gbk"), load_preset("abc"))
    lines, errors = _parse(text.encode("gbk"), load_preset("abc"), on_error="quarantine")
    assert [x.channel_txn_id for x in lines] == ["A1"]
    assert [(e.line, e.field) for e in errors] == [(5, "row")]
    assert "below the total (合计) row" in errors[0].message
