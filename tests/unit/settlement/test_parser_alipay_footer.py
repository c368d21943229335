"""Alipay bills: the # footer totals are checked against the lines; GBK and UTF-8 alike."""

from __future__ import annotations

from typing import Any

import pytest

from billfold.settlement.parsers import parse_all
from billfold.settlement.statement import LineError, StatementError

HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注\t"
)


def row(trade: str, kind: str, amount: str, net: str, batch: str = "") -> str:
    # every value guarded with a trailing tab, as the portal exports them
    cells = [
        trade, f"ORD-{trade[-2:]}", kind, "停车费", "2024-04-02 08:00:00", "2024-04-02 08:00:05",
        "", "", "", "", "l***@163.com", amount, net, "0.00", "0.00", "0.00", "0.00", "0.00",
        "", "0.00", "0.00", batch, "0.00", "0.00", "",
    ]  # fmt: skip
    return ",".join(cell + "\t" for cell in cells)


def bill(trades: str, refunds: str) -> str:
    return "\n".join(
        [
            "#支付宝业务明细查询",
            "#账号：[20880000000000000001]",
            HEADER,
            row("2024040222001400000000000011", "交易", "30.00", "30.00"),
            row("2024040222001400000000000012", "交易", "12.50", "10.00"),
            row("2024040222001400000000000011", "退款", "-5.00", "-5.00", "RF-11"),
            "#-----------------------------------------业务明细列表结束------------------------------------",
            trades,
            refunds,
            "#导出时间：[2024年04月03日 05:00:00]",
        ]
    )


GOOD = bill(
    "#交易合计：2笔，商家实收共40.00元，商家优惠共2.50元",
    "#退款合计：1笔，商家实收退款共-5.00元，商家优惠退款共0.00元",
)


def _parse(text: str, encoding: str, **kw: Any) -> Any:
    return parse_all([text.encode(encoding)], "alipay", source_file="zfb.csv", **kw)


@pytest.mark.parametrize("encoding", ["gbk", "utf-8", "utf-8-sig"])
def test_matching_footer_with_trailing_tabs_in_gbk_and_utf8(encoding: str) -> None:
    lines, errors = _parse(GOOD, encoding)
    assert errors == []
    assert [line.amount_fen for line in lines] == [3000, 1250, 500]
    assert lines[2].refund_id == "RF-11"
    assert lines[0].merchant_id == "20880000000000000001"


def test_a_footer_count_that_does_not_match_is_an_error_on_its_line() -> None:
    text = GOOD.replace("#交易合计：2笔", "#交易合计：3笔")
    with pytest.raises(StatementError) as caught:
        _parse(text, "gbk")
    assert caught.value.errors == [
        LineError(
            "zfb.csv",
            8,
            "交易合计",
            "the footer says 3 line(s) totalling 40.00, the lines read are 2 totalling 40.00",
        )
    ]


def test_a_footer_sum_that_does_not_match_is_quarantined_after_the_lines() -> None:
    text = GOOD.replace("商家实收退款共-5.00元", "商家实收退款共-6.00元")
    lines, errors = _parse(text, "utf-8", on_error="quarantine")
    assert len(lines) == 3
    assert [(e.line, e.field) for e in errors] == [(9, "退款合计")]


def test_the_footer_check_is_skipped_when_a_line_was_already_refused() -> None:
    text = GOOD.replace("12.50\t,10.00", "12.5x\t,10.00")
    lines, errors = _parse(text, "gbk", on_error="quarantine")
    assert len(lines) == 2
    assert [(e.line, e.field) for e in errors] == [(5, "订单金额（元）")]
