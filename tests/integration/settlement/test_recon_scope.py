"""The scope of a channel run (issue 11): a statement that names no merchant, on a channel
several billers share, is refused — compared with every biller's payments it reported each
other biller's payment as 短款 (engine only), and reversing one undid a real payment."""

from __future__ import annotations

import pytest
from recon_fixtures import DAY, Desk, csv_bill  # type: ignore[import-not-found]

from billfold import Biller, BillerKind, Order
from billfold.errors import InvalidInput
from billfold.merchants.channel_config import ChannelConfig
from billfold.settlement.discrepancy import Code

CHANNEL = "mobile_banking"
MAP = {
    "columns": {
        "channel_txn_id": "流水号",
        "order_no": "订单号",
        "amount": "金额",
        "occurred_at": "交易时间",
        "status": "状态",
    },
    "status_map": {"成功": "SUCCESS", "失败": "FAILED"},
}


def _biller(desk: Desk, code: str, merchant: str | None) -> None:
    desk.engine.create_biller(Biller(code=code, name=f"收费单位{code}", kind=BillerKind.UTILITY))
    desk.engine.set_channel_config(
        code, ChannelConfig(CHANNEL, merchant_id=merchant), actor="t", reason="setup"
    )


def _two_billers_paid(desk: Desk) -> tuple[list[Order], Order]:
    _biller(desk, "school", "BANK-MINGDE")
    _biller(desk, "water", "BANK-WATER")
    school = desk.orders("100.00", "250.00", code="school")
    (water,) = desk.orders("4000.00", code="water")
    for n, order in enumerate([*school, water]):
        desk.engine.confirm(CHANNEL, f"MB-{n}", order.order_no, order.total_fen)
    return school, water


def _school_statement(school: list[Order]) -> bytes:
    return csv_bill(*[(f"MB-{n}", o.order_no, o.total_fen, "成功") for n, o in enumerate(school)])


def test_a_statement_naming_no_merchant_on_a_shared_channel_is_refused_and_changes_nothing(
    desk: Desk,
) -> None:
    school, water = _two_billers_paid(desk)
    with pytest.raises(InvalidInput) as refused:
        desk.recon.reconcile(
            _school_statement(school),
            format="generic-csv",
            business_date=DAY,
            channel=CHANNEL,
            column_map=MAP,
        )
    message = refused.value.message
    assert message.startswith("merchant: 对账范围不明确 (ambiguous scope): ")
    assert "names no merchant id and 2 billers take mobile_banking" in message
    assert "'BANK-MINGDE', 'BANK-WATER'" in message and "\n" not in message
    assert desk.recon.runs() == [] and desk.recon.discrepancies() == []
    assert desk.engine.order(water.order_no).status.value == "paid"  # the 4,000.00 stays paid


def test_the_same_statement_scoped_to_its_merchant_finds_nothing_wrong(desk: Desk) -> None:
    school, _ = _two_billers_paid(desk)
    result = desk.recon.reconcile(
        _school_statement(school),
        format="generic-csv",
        business_date=DAY,
        channel=CHANNEL,
        merchant_id="BANK-MINGDE",
        column_map=MAP,
    )
    assert result.discrepancies == []
    assert (result.run.merchant_id, result.run.matched_count) == ("BANK-MINGDE", 2)
    assert result.run.engine_count == 2  # the water company's payment is not in scope


def test_the_whole_channel_said_in_so_many_words_is_a_scope(desk: Desk) -> None:
    school, water = _two_billers_paid(desk)
    result = desk.recon.reconcile(
        _school_statement(school),
        format="generic-csv",
        business_date=DAY,
        channel=CHANNEL,
        merchant_id="",
        column_map=MAP,
    )
    (missing,) = result.discrepancies
    assert missing.code is Code.ENGINE_ONLY and missing.order_no == water.order_no


def test_one_biller_on_the_channel_needs_no_merchant(desk: Desk) -> None:
    _biller(desk, "school", None)
    orders = desk.orders("100.00", "250.00", code="school")
    for n, order in enumerate(orders):
        desk.engine.confirm(CHANNEL, f"MB-{n}", order.order_no, order.total_fen)
    result = desk.recon.reconcile(
        _school_statement(orders),
        format="generic-csv",
        business_date=DAY,
        channel=CHANNEL,
        column_map=MAP,
    )
    assert result.discrepancies == [] and result.run.matched_count == 2
