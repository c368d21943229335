from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from billfold.settlement.parsers import parse, parse_all
from billfold.settlement.statement import Direction, LineError, LineType, StatementError

HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def _row(trade: str, order: str, kind: str, amount: str, fee: str, batch: str = "") -> str:
    return (
        f"{trade}\t,{order}\t,{kind}\t,学费,2024-01-31 09:59:50,2024-01-31 10:00:00,\t,\t,\t,\t,"
        f"*明(138****0000)\t,{amount},{amount},0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,"
        f"{batch}\t,{fee},0.00,一年级学费"
    )


def _bill(*rows: str) -> str:
    return "\n".join(
        [
            "#支付宝业务明细查询",
            "#账号：[20880211096256330156]",
            "#起始日期：[2024年01月31日 00:00:00]   终止日期：[2024年02月01日 00:00:00]",
            "#-----------------------------------------业务明细列表----------------------------------------",
            HEADER,
            *rows,
            "#-----------------------------------------业务明细列表结束------------------------------------",
            "#交易合计：1笔，商家实收共120.00元，商家优惠共0.00元",
            "#退款合计：1笔，商家实收退款共-20.00元，商家优惠退款共0.00元",
            "#导出时间：[2024年02月01日 05:46:49]",
            "",
        ]
    )


PAYMENT = _row("2024013122001458860515315453", "TUITION-7", "交易", "120.00", "-0.72")
REFUND = _row("2024013122001458860515315453", "TUITION-7", "退款", "-20.00", "0.12", "RF-7-1")
BILL = _bill(PAYMENT, REFUND)


def _parse(text: str, encoding: str = "gbk", **kw: Any) -> Any:
    return parse_all([text.encode(encoding)], "alipay", source_file="alipay.csv", **kw)


def test_business_detail_payment_and_refund() -> None:
    lines, errors = _parse(BILL)
    assert errors == []
    payment, refund = lines
    assert payment.channel == "alipay"
    assert payment.channel_txn_id == "2024013122001458860515315453"
    assert payment.order_no == "TUITION-7"
    assert payment.type is LineType.PAYMENT
    assert payment.amount_fen == 12000
    assert payment.fee_fen == 72
    assert payment.occurred_at == datetime(2024, 1, 31, 2, 0, tzinfo=UTC)
    assert payment.merchant_id == "20880211096256330156"
    assert payment.counterparty == "*明(138****0000)"
    assert payment.description == "学费"
    assert payment.source_line == 6
    assert refund.type is LineType.REFUND
    assert refund.direction is Direction.DEBIT
    assert refund.amount_fen == 2000
    assert refund.fee_fen == -12
    assert refund.refund_id == "RF-7-1"
    assert refund.source_line == 7


def test_utf8_and_utf8_bom_bills_read_the_same() -> None:
    gbk, _ = _parse(BILL)
    assert _parse(BILL, "utf-8")[0] == gbk
    assert _parse(BILL, "utf-8-sig")[0] == gbk


def test_unprefixed_summary_ends_the_table() -> None:
    text = "\n".join([HEADER, PAYMENT, "总交易单数,交易额", "1,120.00"])
    lines, errors = _parse(text)
    assert len(lines) == 1 and errors == []


def test_account_detail_layout() -> None:
    text = "\n".join(
        [
            "#支付宝账务明细查询",
            "#账号：[20880011365400330156]",
            "#-----------------------------------------账务明细列表----------------------------------------",
            "账务流水号,业务流水号,商户订单号,商品名称,发生时间,对方账号,收入金额（+元）,支出金额（-元）,"
            "账户余额（元）,交易渠道,业务类型,备注",
            "54632446537371\t,2012122923922029\t,3226563\t,水费\t,2012-12-29 21:02:06,张三\t,"
            "2274.00,0.00,14533.03,支付宝,在线支付,",
            "54632446537372\t,2012122923922029\t,3226563\t,水费\t,2012-12-29 21:02:06,支付宝\t,"
            "0.00,-13.64,14519.39,支付宝,收费,服务费",
            "#支出合计：1笔，共13.64元",
        ]
    )
    lines, errors = _parse(text)
    assert errors == []
    income, fee = lines
    assert (income.type, income.amount_fen, income.direction) == (
        LineType.PAYMENT,
        227400,
        Direction.CREDIT,
    )
    assert (fee.type, fee.amount_fen, fee.direction) == (LineType.FEE, 1364, Direction.DEBIT)
    assert fee.channel_txn_id == "2012122923922029"
    assert fee.merchant_id == "20880011365400330156"


BAD = [
    (
        _row("T1", "O1", "交易", "12.345", "0.00"),
        "订单金额（元）",
        "'12.345' has more than two decimals",
    ),
    (
        _row("T1", "O1", "交易", "12,00", "0.00"),
        "line",
        "the line has 27 values, the header 25 (a comma inside a value?)",
    ),
    (_row("T1", "O1", "交易", "-5.00", "0.00"), "订单金额（元）", "'-5.00' is negative"),
    (
        _row("T1", "O1", "退款", "5.00", "0.00", "RF1"),
        "订单金额（元）",
        "a refund row must carry a negative amount",
    ),
    (
        _row("T1", "O1", "交易", "5.00", "0.00").replace("2024-01-31 10:00:00", "2024/01/31 10:00"),
        "完成时间",
        "'2024/01/31 10:00' is not a time like '%Y-%m-%d %H:%M:%S'",
    ),
    ("T1\t,O1\t,交易\t,学费", "创建时间", "missing: the line has 4 values, the header 25"),
    (_row("", "O1", "交易", "5.00", "0.00"), "支付宝交易号", "value is empty"),
]


@pytest.mark.parametrize(("row", "field", "message"), BAD)
def test_bad_row_is_rejected_naming_file_line_and_field(row: str, field: str, message: str) -> None:
    with pytest.raises(StatementError) as caught:
        _parse(_bill(PAYMENT, row))
    assert caught.value.errors == [LineError("alipay.csv", 7, field, message)]


def test_quarantine_keeps_good_rows() -> None:
    bad = _row("T2", "O2", "交易", "1.001", "0.00")
    lines, errors = _parse(_bill(PAYMENT, bad, REFUND), on_error="quarantine")
    assert [line.type for line in lines] == [LineType.PAYMENT, LineType.REFUND]
    assert errors == [
        LineError("alipay.csv", 7, "订单金额（元）", "'1.001' has more than two decimals")
    ]


def test_missing_required_column_stops_the_file() -> None:
    header = HEADER.replace("完成时间,", "")
    with pytest.raises(StatementError) as caught:
        _parse("\n".join(["#支付宝业务明细查询", header, PAYMENT]))
    assert str(caught.value) == "alipay.csv:2: 完成时间: column missing from the header row"


def test_file_without_alipay_header_is_refused() -> None:
    with pytest.raises(StatementError) as caught:
        _parse("#支付宝业务明细查询\nfoo,bar\n1,2\n")
    assert str(caught.value) == (
        "alipay.csv:1: header: no Alipay header row found "
        "(expected 支付宝交易号,商户订单号,… or 账务流水号,…)"
    )


def test_gbk_file_read_as_utf8_is_refused_naming_the_line() -> None:
    with pytest.raises(StatementError) as caught:
        parse_all([BILL.encode("gbk")], "alipay", source_file="alipay.csv", encoding="utf-8")
    assert str(caught.value).startswith("alipay.csv:1: encoding: not valid UTF-8 (stated)")


def test_two_hundred_thousand_rows_are_read_lazily() -> None:
    pulled = 0

    def source() -> Iterator[bytes]:
        nonlocal pulled
        yield ("#支付宝业务明细查询\n" + HEADER + "\n").encode("gbk")
        for n in range(200_000):
            pulled += 1
            yield (_row(f"T{n}", f"O{n}", "交易", "1.00", "0.00") + "\n").encode("gbk")

    reader = parse(source(), "alipay")
    assert next(reader).channel_txn_id == "T0"
    assert pulled < 10
