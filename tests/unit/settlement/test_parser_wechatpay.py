from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from billfold.settlement.parsers import parse, parse_all
from billfold.settlement.statement import (
    Direction,
    LineError,
    LineStatus,
    LineType,
    StatementError,
)

HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def _row(
    state: str = "SUCCESS",
    *,
    when: str = "2024-01-31 10:00:00",
    settle: str = "100.00",
    total: str = "100.00",
    fee: str = "0.60000",
    refund_no: str = "0",
    our_refund: str = "0",
    refund: str = "0.00",
    applied: str = "0.00",
    refund_state: str = "",
    attach: str = "",
) -> str:
    cells = [
        when, "wx2421b1c4370ec43b", "1900000109", "0", "", "4200002086202401310745964084",
        "WATER-2024-01", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "NATIVE", state, "OTHERS", "CNY",
        settle, "0.00", refund_no, our_refund, refund, "0.00",
        "ORIGINAL" if refund_state else "", refund_state, "水费 1月", attach, fee, "0.60%",
        total, applied, "",
    ]  # fmt: skip
    return ",".join("`" + cell for cell in cells)


PAYMENT = _row()
REFUND = _row(
    "REFUND",
    when="2024-01-31 12:00:00",
    settle="0.00",
    total="0.00",
    fee="-0.30000",
    refund_no="50303108562024013101487282563",
    our_refund="RF-WATER-1",
    refund="50.00",
    applied="50.00",
    refund_state="SUCCESS",
)
BILL = "\n".join(
    [HEADER, PAYMENT, REFUND, SUMMARY, "`2,`100.00,`50.00,`0.00,`0.30000,`100.00,`50.00"]
)


def _parse(text: str, encoding: str = "utf-8", **kw: Any) -> Any:
    return parse_all([text.encode(encoding)], "wechatpay", source_file="wx.csv", **kw)


def test_payment_and_refund_rows() -> None:
    lines, errors = _parse(BILL)
    assert errors == []
    payment, refund = lines
    assert payment.channel == "wechatpay"
    assert payment.type is LineType.PAYMENT
    assert payment.channel_txn_id == "4200002086202401310745964084"
    assert payment.order_no == "WATER-2024-01"
    assert payment.amount_fen == 10000
    assert payment.fee_fen == 60
    assert payment.currency == "CNY"
    assert payment.occurred_at == datetime(2024, 1, 31, 2, 0, tzinfo=UTC)
    assert payment.merchant_id == "1900000109"
    assert payment.refund_id is None
    assert payment.description == "水费 1月"
    assert payment.source_line == 2
    assert refund.type is LineType.REFUND
    assert refund.direction is Direction.DEBIT
    assert refund.status is LineStatus.SUCCESS
    assert refund.channel_txn_id == "50303108562024013101487282563"
    assert refund.order_no == "WATER-2024-01"
    assert refund.refund_id == "RF-WATER-1"
    assert refund.amount_fen == 5000
    assert refund.fee_fen == -30
    assert refund.source_line == 3


def test_header_with_bom_and_gbk_bill() -> None:
    utf8, _ = _parse(BILL)
    assert _parse(BILL, "utf-8-sig")[0] == utf8
    assert _parse(BILL, "gbk")[0] == utf8


def test_commas_inside_backticked_values_stay_in_the_value() -> None:
    row = _row(attach='{"a":1,"b":2}')
    lines, _ = _parse("\n".join([HEADER, row]))
    assert lines[0].amount_fen == 10000


def test_sub_merchant_is_the_merchant_id_when_present() -> None:
    row = PAYMENT.replace("`1900000109,`0,", "`1900000109,`1900000201,")
    lines, _ = _parse("\n".join([HEADER, row]))
    assert lines[0].merchant_id == "1900000201"


def test_processing_refund_is_pending_and_revoked_is_a_reversal() -> None:
    pending = _row("REFUND", refund="1.00", applied="1.00", refund_state="PROCESSING")
    revoked = _row("REVOKED")
    lines, _ = _parse("\n".join([HEADER, pending, revoked]))
    assert lines[0].status is LineStatus.PENDING
    assert lines[1].type is LineType.REVERSAL


BAD = [
    (_row(total="100.001"), "订单金额", "'100.001' has more than two decimals"),
    (_row(total="abc"), "订单金额", "'abc' is not an amount like '12.34'"),
    (_row(fee="0.60010"), "手续费", "'0.60010' has more than two decimals"),
    (_row(when="2024-13-01 10:00:00"), "交易时间", "'2024-13-01 10:00:00' is not a time like"),
    (_row("NOTPAY"), "交易状态", "unknown trade state 'NOTPAY'; expected SUCCESS or REFUND"),
    (_row("REFUND", refund_state="WHO"), "退款状态", "unknown refund state 'WHO'"),
    (PAYMENT.rsplit(",`", 3)[0], "订单金额", "missing: the line has 24 values, the header 27"),
    (PAYMENT[1:], "line", "a detail row starts with a backtick (`)"),
]


@pytest.mark.parametrize(("row", "field", "message"), BAD)
def test_bad_row_is_rejected_naming_file_line_and_field(row: str, field: str, message: str) -> None:
    with pytest.raises(StatementError) as caught:
        _parse("\n".join([HEADER, PAYMENT, row]))
    (error,) = caught.value.errors
    assert (error.file, error.line, error.field) == ("wx.csv", 3, field)
    assert error.message.startswith(message)


def test_quarantine_keeps_good_rows() -> None:
    bad = _row(total="1.234")
    lines, errors = _parse("\n".join([HEADER, PAYMENT, bad, REFUND]), on_error="quarantine")
    assert [line.type for line in lines] == [LineType.PAYMENT, LineType.REFUND]
    assert errors == [LineError("wx.csv", 3, "订单金额", "'1.234' has more than two decimals")]


def test_file_that_is_not_a_trade_bill_is_refused() -> None:
    with pytest.raises(StatementError) as caught:
        _parse("foo,bar\n`1,`2\n")
    assert str(caught.value).startswith("wx.csv:1: header: not a WeChat Pay trade bill")


def test_header_missing_a_required_column_is_refused() -> None:
    with pytest.raises(StatementError) as caught:
        _parse(HEADER.replace("商户订单号,", "") + "\n")
    assert str(caught.value) == "wx.csv:1: 商户订单号: column missing from the header row"


def test_gbk_bill_stated_as_utf8_is_refused_naming_the_line() -> None:
    with pytest.raises(StatementError) as caught:
        parse_all([BILL.encode("gbk")], "wechatpay", source_file="wx.csv", encoding="utf-8")
    assert str(caught.value).startswith("wx.csv:1: encoding: not valid UTF-8 (stated)")


def test_two_hundred_thousand_rows_are_read_lazily() -> None:
    pulled = 0

    def source() -> Iterator[bytes]:
        nonlocal pulled
        yield (HEADER + "\n").encode()
        for _ in range(200_000):
            pulled += 1
            yield (PAYMENT + "\n").encode()

    reader = parse(source(), "wechatpay")
    assert next(reader).amount_fen == 10000
    assert pulled < 10
