"""Chinese labels for the codes of the back office's queues (complaints, bank-transfer
refunds), as people read them on pages, in CLI tables and exports. JSON and the API keep the
codes. To be folded into the one label table (``billfold/labels.py``) when it lands."""

from __future__ import annotations

__all__ = ["LABELS", "label"]

LABELS: dict[str, str] = {
    # complaint kinds
    "kind.paid_not_credited": "已付款未销账",
    "kind.charged_twice": "重复扣款",
    "kind.wrong_amount": "金额不符",
    "kind.other": "其他问题",
    # complaint states
    "status.open": "待处理",
    "status.assigned": "处理中",
    "status.resolved": "已解决",
    "status.rejected": "已驳回",
    "status.reopened": "重新受理",
    # what the engine found by itself
    "answer.credited_on_requery": "已向支付渠道查询到款，已入账",
    "answer.already_credited": "款项此前已入账",
    "answer.held_for_review": "款项已到账，待人工核对入账",
    "answer.not_paid_at_channel": "支付渠道未查到该笔付款，转人工处理",
    "answer.duplicate_refund_queued": "重复付款已安排退回",
    "answer.duplicate_needs_refund": "查到重复付款，待人工退款",
    "answer.no_duplicate_found": "未查到重复付款，转人工处理",
    # complaint sources
    "source.payer": "缴费人",
    "source.clerk": "柜员",
    # bank-transfer refunds: why, and where they are
    "reason.window_closed": "已超过渠道退款期限",
    "reason.card_cancelled": "付款银行卡已注销或冻结",
    "reason.account_closed": "付款账户已注销",
    "reason.other": "人工决定转账退款",
    "stage.awaiting_payee": "待登记收款账户",
    "stage.awaiting_approval": "待复核",
    "stage.ready": "待出转账文件",
    "stage.in_file": "已出文件，待银行回单",
    "stage.paid": "已转账",
    "stage.cancelled": "已取消",
}


def label(prefix: str, code: str) -> str:
    """The label of ``prefix.code``; the code itself when there is none."""
    return LABELS.get(f"{prefix}.{code}", code)
