"""The third leg: bank statements (camt.053, MT940) against the nets the channels' statements
promised; money in transit by channel and age; the journal follows the money."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from recon_fixtures import (  # type: ignore[import-not-found]
    DAY,
    Desk,
    ali_bill,
    ali_row,
    camt053,
    mt940,
    wx_bill,
    wx_payment,
)

from billfold.errors import InvalidInput
from billfold.settlement.banking import parse_route
from billfold.settlement.discrepancy import Code
from billfold.settlement.run import RunStatus


def _two_channels(desk: Desk) -> tuple[int, int]:
    """A day on WeChat Pay (net 198.80) and Alipay (net 49.70), both reconciled."""
    desk.school()
    a, b, c = desk.orders("100.00", "100.00", "50.00")
    desk.pay(a, "W0")
    desk.pay(b, "W1")
    desk.pay(c, "A0", channel="alipay")
    wx = desk.recon.reconcile(
        wx_bill(wx_payment("W0", a.order_no, 10000, 60), wx_payment("W1", b.order_no, 10000, 60)),
        format="wechatpay",
        business_date=DAY,
    ).run
    ali = desk.recon.reconcile(
        ali_bill(ali_row("A0", c.order_no, 5000, 30)), format="alipay", business_date=DAY
    ).run
    assert (wx.totals.net_fen, ali.totals.net_fen) == (19880, 4970)
    return wx.id, ali.id


def test_a_camt053_statement_settles_mismatches_and_flags_an_unexplained_credit(
    desk: Desk,
) -> None:
    wx_run, ali_run = _two_channels(desk)
    transit = desk.recon.in_transit(DAY + timedelta(days=1))
    assert [(m.channel, m.net_fen, m.age_days, m.bucket) for m in transit] == [
        ("alipay", 4970, 1, "0-1 days"),
        ("wechatpay", 19880, 1, "0-1 days"),
    ]
    statement = camt053(
        ("BK1", 19880, "财付通支付科技有限公司", "WECHAT SETTLEMENT 20260901"),
        ("BK2", 4900, "支付宝（中国）网络技术有限公司", "ALIPAY T+1"),
        ("BK3", 777, "某某公司", "货款"),
    )
    result = desk.recon.reconcile_bank(
        statement, format="camt053", business_date=DAY + timedelta(days=1), file_name="bank.xml"
    )
    found = {(d.code, d.source): d for d in result.discrepancies}
    assert set(found) == {
        (Code.SETTLEMENT_MISMATCH, "bank.xml:2"),
        (Code.UNEXPLAINED_CREDIT, "bank.xml:3"),
    }
    assert found[(Code.SETTLEMENT_MISMATCH, "bank.xml:2")].message == (
        "alipay paid in 49.00; its statement for 2026-09-01 promised 49.70"
    )
    assert found[(Code.UNEXPLAINED_CREDIT, "bank.xml:3")].message == (
        "a credit of 7.77 CNY from 某某公司: no route names its payer; add one (CHANNEL=TEXT)"
    )
    rows = {r["bank_ref"]: r for r in desk.recon.settlements(result.run.id)}
    assert rows["BK1"]["status"] == "settled" and rows["BK1"]["channel_run_id"] == wx_run
    assert rows["BK2"]["status"] == "mismatch" and rows["BK2"]["channel_run_id"] == ali_run
    assert rows["BK3"]["status"] == "unexplained" and rows["BK3"]["channel"] is None
    assert desk.recon.in_transit(DAY + timedelta(days=1)) == []
    balance = desk.engine.trial_balance()
    assert balance["bank:collection"] == 19880 + 4900
    assert balance["channel_fees"] == 120 + 30
    assert balance["clearing:wechatpay"] == 0
    assert balance["clearing:alipay"] == 70  # Alipay still owes 0.70
    assert desk.engine.check_books() == []


def test_an_mt940_statement_rerun_changes_nothing_and_a_corrected_one_reposts(
    desk: Desk,
) -> None:
    _two_channels(desk)
    day = DAY + timedelta(days=1)
    first = mt940(("BNK1", 19880, "TENPAY 20260901"))
    run = desk.recon.reconcile_bank(first, format="mt940", business_date=day).run
    assert run.matched_count == 1 and run.merchant_id == "110000123456789"
    balance = desk.engine.trial_balance()
    again = desk.recon.reconcile_bank(first, format="mt940", business_date=day)
    assert not again.created and again.run.id == run.id
    assert desk.engine.trial_balance() == balance
    (waiting,) = desk.recon.in_transit(day + timedelta(days=5))
    assert (waiting.channel, waiting.age_days, waiting.bucket) == ("alipay", 6, "4-7 days")
    corrected = mt940(("BNK1", 19880, "TENPAY 20260901"), ("BNK2", 4970, "ALIPAY 20260901"))
    second = desk.recon.reconcile_bank(
        corrected, format="mt940", business_date=day, actor="clerk", reason="bank re-sent"
    )
    assert second.created and second.run.revision == 2 and second.discrepancies == []
    assert desk.recon.run(run.id).status is RunStatus.SUPERSEDED
    after = desk.engine.trial_balance()
    assert after["bank:collection"] == 19880 + 4970  # the first posting was taken back
    assert after["clearing:wechatpay"] == 0 and after["clearing:alipay"] == 0
    assert desk.recon.in_transit(day + timedelta(days=5)) == []
    assert desk.engine.check_books() == []


def test_routes_are_configurable_and_a_bad_route_is_refused(desk: Desk) -> None:
    _two_channels(desk)
    statement = camt053(("BK9", 4970, "HZ PAYMENT CO", "T+1 20260901"))
    routes = [parse_route("alipay=HZ PAYMENT")]
    result = desk.recon.reconcile_bank(
        statement, format="camt053", business_date=date(2026, 9, 2), routes=routes
    )
    assert result.discrepancies == [] and result.run.matched_fen == 4970
    with pytest.raises(InvalidInput) as bad:
        parse_route("alipay")
    assert bad.value.message == "route: 'alipay' is not CHANNEL=TEXT (e.g. alipay=支付宝)"


def test_a_channel_statement_given_as_a_bank_statement_is_refused(desk: Desk) -> None:
    desk.school()
    with pytest.raises(InvalidInput) as wrong:
        desk.recon.reconcile(mt940(), format="mt940", business_date=DAY)
    assert wrong.value.message == (
        "format: mt940 is a bank statement; reconcile it with reconcile_bank"
    )
    with pytest.raises(InvalidInput) as other:
        desk.recon.reconcile_bank(wx_bill(), format="wechatpay", business_date=DAY)
    assert other.value.message == (
        "format: wechatpay is not a bank statement (camt053, camt054, mt940)"
    )
