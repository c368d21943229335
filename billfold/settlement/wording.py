"""A discrepancy told in Chinese, for what people read (the 差错清单 export, the console).

A discrepancy's ``message`` is written for the log and the API (English, with codes); people
read this instead: the kind's label and the figures of both sides, each code shown with its
label from :mod:`billfold.labels`.
"""

from __future__ import annotations

from billfold.labels import label
from billfold.money import format_yuan
from billfold.settlement.discrepancy import Code, Discrepancy

__all__ = ["describe"]


def _yuan(fen: int | None) -> str:
    return "—" if fen is None else format_yuan(fen)


def _state(d: Discrepancy, engine: bool) -> str:
    code = d.engine_status if engine else d.line_status
    if code is None:
        return "—"
    if engine:
        kind = "refund_status" if d.refund_id is not None else "payment_status"
        return label(kind, code)
    return label("line_status", code)


def describe(d: Discrepancy) -> str:
    """One line in Chinese saying what reconciliation found, with both sides' figures."""
    line, engine = _yuan(d.line_amount_fen), _yuan(d.engine_amount_fen)
    what = {
        Code.AMOUNT_MISMATCH: f"渠道金额 {line}，系统金额 {engine}",
        Code.STATUS_MISMATCH: f"渠道状态 {_state(d, False)}，系统状态 {_state(d, True)}",
        Code.CHANNEL_ONLY: f"渠道有此笔 {line}，系统无记录",
        Code.ENGINE_ONLY: f"系统有此笔 {engine}，对账单未列",
        Code.DUPLICATE_LINE: f"同一笔交易在对账单中重复出现（{line}）",
        Code.FEE_MISMATCH: (
            f"渠道手续费 {_yuan(d.line_fee_fen)}，按费率应为 {_yuan(d.engine_fee_fen)}"
        ),
        Code.CROSS_DAY: "交易记在系统的另一业务日期，已自动关闭",
        Code.UNREADABLE_LINE: "对账单此行无法识别，已单独留存",
        Code.SETTLEMENT_MISMATCH: f"银行到账 {line}，渠道应结净额 {engine}",
        Code.UNEXPLAINED_CREDIT: f"银行来账 {line}，无法对应任何渠道的应结净额",
    }[d.code]
    text = f"{label('discrepancy_code', d.code)}：{what}"
    if d.difference_fen:
        text += f"；差额 {format_yuan(d.difference_fen)}"
    return text
