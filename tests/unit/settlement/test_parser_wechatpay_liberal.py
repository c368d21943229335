"""WeChat Pay bills as they reach us: CSV-quoted values, old layouts, full-width colons."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from billfold.settlement.parsers import parse_all
from billfold.settlement.statement import LineError, LineType, StatementError

HEADER_27 = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
HEADER_24 = (
    "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,总金额,代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,"
    "代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率"
)


def row27(goods: str = "物业费", order: str = "PROP-1") -> list[str]:
    return [
        "2024-03-01 09:30:00", "wx1", "1900000109", "0", "", "4200000001", order, "oU1",
        "JSAPI", "SUCCESS", "CMB_DEBIT", "CNY", "88.00", "0.00", "0", "0", "0.00", "0.00",
        "", "", goods, "", "0.53000", "0.60%", "88.00", "0.00", "",
    ]  # fmt: skip


def backticked(cells: list[str]) -> str:
    return ",".join("`" + cell for cell in cells)


def through_a_csv_writer(cells: list[str]) -> str:
    """The row as a spreadsheet saves it: a value with a comma is quoted, backtick inside."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(["`" + cell for cell in cells])
    return out.getvalue()


def _parse(text: str, **kw: Any) -> Any:
    return parse_all([text.encode()], "wechatpay", source_file="wx.csv", **kw)


def test_a_value_quoted_around_its_backtick_is_read_whole() -> None:
    quoted = through_a_csv_writer(row27("物业费,3月", "PROP-2"))
    assert '"`物业费,3月"' in quoted
    lines, errors = _parse("\n".join([HEADER_27, backticked(row27()), quoted]))
    assert errors == []
    assert [(line.order_no, line.description, line.amount_fen) for line in lines] == [
        ("PROP-1", "物业费", 8800),
        ("PROP-2", "物业费,3月", 8800),
    ]


def test_a_quoted_row_with_a_wrong_width_is_one_line_error_not_the_whole_file() -> None:
    broken = through_a_csv_writer(row27("物业费,3月")[:-1])
    lines, errors = _parse(
        "\n".join([HEADER_27, broken, backticked(row27())]), on_error="quarantine"
    )
    assert [line.order_no for line in lines] == ["PROP-1"]
    assert errors == [
        LineError("wx.csv", 2, "费率备注", "missing: the line has 26 values, the header 27")
    ]


def test_the_older_24_column_layout_with_full_width_colons() -> None:
    cells = [
        "2016-05-04 13：05：01", "wx1", "10000100", "0", "", "1004400740201605042345678",
        "WATER-9", "oU2", "NATIVE", "SUCCESS", "CFT", "CNY", "12.30", "0.00", "0", "0",
        "0.00", "0.00", "", "", "水费", "", "0.07000", "0.60%",
    ]  # fmt: skip
    refund = [
        "2016-05-04 15：00：00", "wx1", "10000100", "0", "", "1004400740201605042345678",
        "WATER-9", "oU2", "NATIVE", "REFUND", "CFT", "CNY", "0.00", "0.00",
        "2000000000201605041234", "RF-9", "2.30", "0.00", "ORIGINAL", "SUCCESS", "水费", "",
        "-0.01000", "0.60%",
    ]  # fmt: skip
    summary = "总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额\n`2,`12.30,`2.30,`0.00,`0.06000"
    text = "\n".join([HEADER_24, backticked(cells), backticked(refund), summary])
    lines, errors = _parse(text)
    assert errors == []
    payment, back = lines
    assert payment.amount_fen == 1230
    assert payment.fee_fen == 7
    assert payment.occurred_at == datetime(2016, 5, 4, 5, 5, 1, tzinfo=UTC)
    assert (back.type, back.amount_fen, back.refund_id) == (LineType.REFUND, 230, "RF-9")


def test_a_time_that_is_still_not_a_time_names_the_column() -> None:
    cells = row27()
    cells[0] = "2024-03-01 09：30"
    with pytest.raises(StatementError) as caught:
        _parse("\n".join([HEADER_27, backticked(cells)]))
    assert str(caught.value) == (
        "wx.csv:2: 交易时间: '2024-03-01 09:30' is not a time like '%Y-%m-%d %H:%M:%S'"
    )
