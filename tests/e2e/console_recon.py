"""Data for the reconciler's and supervisor's console pages: a WeChat Pay trade bill written
inline (the real layout, parsed by the real parser), a statement that leaves one discrepancy
open, and proposals waiting for a checker."""

from __future__ import annotations

from datetime import date

from billfold import Engine
from billfold.collection.approval import Approval
from billfold.maker_checker import MakerChecker
from billfold.money import format_yuan

WX_MCH = "1900000109"
WX_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
WX_SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def wx_line(txn: str, order_no: str, fen: int, when: str = "2026-09-01 10:00:00") -> str:
    amount = format_yuan(fen)
    cells = [
        when, "wx2421b1c4370ec43b", WX_MCH, "0", "", txn, order_no, "oUpF8uMuAJO_M2p",
        "NATIVE", "SUCCESS", "OTHERS", "CNY", amount, "0.00", "0", "0", "0.00", "0.00", "", "",
        "学费", "", "0.00000", "0.00%", amount, "0.00", "",
    ]  # fmt: skip
    return ",".join("`" + cell for cell in cells)


def wx_bill(*lines: str) -> str:
    return "\n".join([WX_HEADER, *lines, WX_SUMMARY, "`0,`0.00,`0.00,`0.00,`0.00,`0.00,`0.00"])


#: a statement with one payment the engine never heard of and no order number: a 长款 that
#: stays open for a person (billfold credits by itself only a line naming its order)
LOST = wx_bill(wx_line("4200000000202609010001", "", 12_000))
DAY = date(2026, 9, 1)


def open_discrepancy(engine: Engine) -> int:
    from billfold.settlement.reconciler import Reconciler

    result = Reconciler(engine).reconcile(
        LOST.encode(), format="wechatpay", business_date=DAY, merchant_id="", actor="t"
    )
    (found,) = [d for d in result.discrepancies if d.is_open]
    assert found.id is not None
    return found.id


def limits_proposal(engine: Engine, biller: str, maker: str = "user:someone") -> Approval:
    payload = {"biller": biller, "daily_fen": 5_000_000, "reason": "旺季", "by": "李会计"}
    return MakerChecker(engine).propose(
        "biller.limits", payload, maker=maker, reason="旺季", biller_code=biller
    )


def held_payment(engine: Engine, biller: str = "s1", bill_no: str = "T1") -> int:
    """A payment of 120.00 for a 100.00 order: held for review (amount mismatch)."""
    order = engine.create_order(biller, [bill_no])
    result = engine.confirm("wechatpay", f"W-{biller}-{bill_no}", order.order_no, 12_000)
    assert result.payment.status.value == "held"
    return result.payment.id


def transfer_awaiting_approval(engine: Engine, biller: str, bill_no: str, maker: str) -> str:
    """A paid bill's refund the channel cannot pay back, its payee recorded by ``maker``."""
    from billfold.collection.refund_transfer import PayeeAccount, TransferReason
    from billfold.settlement.refund_transfer_desk import RefundTransferDesk

    order = engine.create_order(biller, [bill_no])
    paid = engine.confirm("wechatpay", f"W-RT-{biller}-{bill_no}", order.order_no, 5_000)
    refund = engine.refund(
        paid.payment.id, 5_000, request_id=f"RT-{biller}", reason="退学", requested_by="c"
    )
    engine.refund_needs_transfer(refund.refund_no, TransferReason.OTHER, "卡已注销", by=maker)
    payee = PayeeAccount("张三丰", "6222020200112233445", "工商银行北京分行")
    RefundTransferDesk(engine).record_payee(refund.refund_no, payee, by=maker, reason="家长提供")
    return refund.refund_no
