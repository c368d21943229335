"""The one table of Chinese labels for billfold's codes.

JSON and APIs keep the codes (``"partially_paid"``); everything a person reads — pages,
exports, receipts, CLI tables — shows the label (``"部分缴费"``). A code means different
things in different places (a bill that is ``open`` is 未缴; a discrepancy that is ``open``
is 待处理), so labels are kept per kind: ``label("bill_status", "open")``.

``tests/unit/test_labels.py`` checks that every value of the domain's enums has a label.
This module imports nothing of billfold (it is part of the kernel).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["LABELS", "label"]

_LABELS: dict[str, dict[str, str]] = {
    "channel": {
        "qr": "聚合码支付",
        "wechatpay": "微信支付",
        "alipay": "支付宝",
        "mobile_banking": "手机银行",
        "counter": "柜台",
        "pos": "POS刷卡",
        "autodebit": "签约代扣",
        "unionpay": "云闪付",
        "bank": "银行转账",
    },
    "bill_status": {
        "open": "未缴",
        "partially_paid": "部分缴费",
        "paid": "已缴清",
        "overdue": "已逾期",
        "cancelled": "已作废",
        "refunded": "已退费",
    },
    "bill_kind": {"fixed": "定额", "open": "不定额", "fine": "罚款"},
    "order_status": {
        "created": "待支付",
        "paying": "支付中",
        "paid": "已支付",
        "expired": "已过期",
        "cancelled": "已取消",
        "failed": "支付失败",
        "partially_refunded": "部分退款",
        "refunded": "已退款",
        "reversed": "已冲正",
    },
    "payment_status": {
        "credited": "已入账",
        "held": "待复核",
        "suspense": "挂账待退",
        "reversed": "已冲正",
    },
    "suspense_reason": {
        "unknown_order": "订单不存在",
        "amount_mismatch": "金额不符",
        "currency_mismatch": "币种不符",
        "order_expired": "订单已过期",
        "order_cancelled": "订单已取消",
        "order_not_payable": "订单不可支付",
        "already_paid": "账单已缴",
        "bill_cancelled": "账单已作废",
        "biller_mismatch": "商户不符",
    },
    "suspense_action": {
        "credit": "复核入账",
        "refund": "退款",
        "await_refund": "等待渠道退款",
        "retry_refund": "重新退款",
    },
    "refund_status": {
        "pending": "退款中",
        "succeeded": "退款成功",
        "failed": "退款失败",
        "cancelled": "已撤销",
        "needs_transfer": "待转账退款",
        "in_transfer": "转账中",
    },
    "refund_kind": {"credited": "已入账退款", "suspense": "挂账退款"},
    "identifier_kind": {
        "student_no": "学号",
        "account_no": "户号",
        "decision_no": "决定书编号",
        "phone": "手机号",
        "contract_no": "合同号",
        "id_number": "身份证号",
        "other": "编号",
    },
    "late_fee_kind": {"none": "无滞纳金", "daily_bps": "按日计收", "fixed": "固定金额"},
    "mandate_status": {
        "pending": "待确认",
        "active": "生效",
        "suspended": "已暂停",
        "revoked": "已解约",
        "expired": "已到期",
    },
    "debit_status": {
        "scheduled": "待扣款",
        "submitting": "扣款中",
        "retry_wait": "等待重试",
        "succeeded": "扣款成功",
        "failed": "扣款失败",
        "cancelled": "已取消",
    },
    "mandate_refusal": {
        "not_active": "协议未生效",
        "not_yet_valid": "未到生效日",
        "past_validity": "已过有效期",
        "over_per_debit_limit": "超单笔限额",
        "over_monthly_limit": "超月累计限额",
    },
    "biller_kind": {
        "school": "学校",
        "utility": "公用事业",
        "government": "政府机关",
        "property": "物业",
        "hospital": "医院",
        "housing_developer": "房地产开发商",
        "market_stall": "市场商户",
        "scenic_spot": "景区",
    },
    "biller_status": {"active": "正常", "suspended": "已暂停"},
    "sub_unit_kind": {
        "campus": "校区",
        "grade": "年级",
        "class": "班级",
        "district": "片区",
        "office": "办公室",
        "project": "项目",
        "other": "其他",
    },
    "fee_kind": {"bps": "按比例", "fixed": "固定"},
    "grant_kind": {"scholarship": "奖学金", "hardship": "困难补助"},
    "discrepancy_code": {
        "amount_mismatch": "金额不符",
        "status_mismatch": "状态不符",
        "channel_only": "长款（渠道有系统无）",
        "engine_only": "短款（系统有渠道无）",
        "duplicate_line": "重复记录",
        "fee_mismatch": "手续费不符",
        "cross_day": "跨日",
        "unreadable_line": "无法识别的行",
        "settlement_mismatch": "结算不符",
        "unexplained_credit": "不明来账",
    },
    "discrepancy_status": {"open": "待处理", "resolved": "已处理", "superseded": "已被替代"},
    "discrepancy_action": {
        "credit": "补入账",
        "refund": "退款",
        "reverse": "冲正",
        "complete_refund": "确认退款",
        "write_off": "核销",
        "accept": "确认无误",
    },
    "batch_status": {
        "draft": "草稿",
        "approved": "已审核",
        "paid": "已付款",
        "confirmed": "已确认",
    },
    "batch_item_kind": {"payment": "收款", "refund": "退款", "reversal": "冲正"},
    "escrow_entry_kind": {
        "payment": "入账",
        "reversal": "冲正",
        "held": "冻结",
        "release": "拨付",
        "refund": "退款",
        "assign": "归集",
    },
    "run_kind": {"channel": "渠道对账", "bank": "银行对账"},
    "run_status": {"current": "当前", "superseded": "已被替代"},
    "match_status": {"settled": "已到账", "mismatch": "金额不符", "unexplained": "无法解释"},
    "split_kind": {"fixed": "固定金额", "percent": "按比例", "rest": "余额"},
    "split_remainder": {
        "rest": "归余额方",
        "largest": "归最大方",
        "first": "归首方",
        "last": "归末方",
    },
    "channel_word": {"confirms": "渠道确认", "denies": "渠道否认", "unsure": "渠道未定"},
    "line_type": {
        "PAYMENT": "支付",
        "REFUND": "退款",
        "REVERSAL": "冲正",
        "FEE": "手续费",
        "SETTLEMENT": "结算",
        "OTHER": "其他",
    },
    "line_status": {"SUCCESS": "成功", "FAILED": "失败", "PENDING": "处理中"},
    "direction": {"CREDIT": "贷", "DEBIT": "借"},
    "event_kind": {
        "paid": "已支付",
        "failed": "支付失败",
        "closed": "已关闭",
        "refunded": "已退款",
        "refund_failed": "退款失败",
        "reversed": "已冲正",
    },
    "remote_state": {
        "paid": "已支付",
        "pending": "处理中",
        "closed": "已关闭",
        "failed": "失败",
        "not_found": "无此交易",
    },
    "decline": {
        "insufficient_funds": "余额不足",
        "limit_exceeded": "超出限额",
        "account_closed": "账户已销户",
        "not_found": "无此交易",
        "already_closed": "交易已关闭",
        "channel_unavailable": "渠道不可用",
        "rejected": "渠道拒绝",
        "refund_window_closed": "已超过退款期限",
        "card_cancelled": "银行卡已注销",
    },
    "tender": {"cash": "现金", "card": "银行卡"},
    "pos_kind": {"sale": "消费", "void": "撤销", "refund": "退货", "reversal": "冲正"},
    "terminal_status": {"active": "启用", "disabled": "停用"},
    "pos_batch_status": {"open": "未结算", "closed": "已结算"},
    "wallet": {
        "wechat": "微信",
        "alipay": "支付宝",
        "unionpay": "云闪付",
        "bank_app": "手机银行",
        "unknown": "未知",
    },
    "flow": {
        "wechat_jsapi": "微信",
        "alipay_wap": "支付宝",
        "unionpay": "云闪付",
        "bank_app": "手机银行",
        "choose": "选择支付方式",
    },
    "import_mode": {"all-or-nothing": "全部或全不", "valid-lines": "仅导入有效行"},
    "delivery_status": {
        "pending": "待投递",
        "delivered": "已投递",
        "dead": "死信",
    },
    "push_status": {"pending": "待推送", "acked": "已回执", "dead": "推送失败"},
    "complaint_kind": {
        "paid_not_credited": "已付款未销账",
        "charged_twice": "重复扣款",
        "wrong_amount": "金额不符",
        "other": "其他问题",
    },
    "complaint_status": {
        "open": "待处理",
        "assigned": "处理中",
        "resolved": "已解决",
        "rejected": "已驳回",
        "reopened": "重新受理",
    },
    "complaint_answer": {  # what the engine found by itself
        "credited_on_requery": "已向支付渠道查询到款，已入账",
        "already_credited": "款项此前已入账",
        "held_for_review": "款项已到账，待人工核对入账",
        "not_paid_at_channel": "支付渠道未查到该笔付款，转人工处理",
        "duplicate_refund_queued": "重复付款已安排退回",
        "duplicate_needs_refund": "查到重复付款，待人工退款",
        "no_duplicate_found": "未查到重复付款，转人工处理",
    },
    "complaint_source": {"payer": "缴费人", "clerk": "柜员"},
    "transfer_reason": {
        "window_closed": "已超过渠道退款期限",
        "card_cancelled": "付款银行卡已注销或冻结",
        "account_closed": "付款账户已注销",
        "other": "人工决定转账退款",
    },
    "timeline_kind": {  # billfold.collection.timeline.Happening
        "bill_created": "账单创建",
        "bill_changed": "账单修改",
        "bill_waived": "减免",
        "bill_cancelled": "账单作废",
        "order_created": "下单",
        "order_cancelled": "订单取消",
        "order_failed": "支付失败",
        "order_expired": "订单过期",
        "payment": "收到付款",
        "payment_credited": "复核入账",
        "payment_reversed": "冲正",
        "refund": "申请退款",
        "refund_done": "退款完成",
        "reminder": "催缴提醒",
        "other": "其他操作",
    },
    "audit_action": {  # actions of the audit log a timeline shows without a kind of its own
        "counter_confirm": "柜台收款",
        "counter_refund": "柜台现金退款",
        "refund_needs_transfer": "转为转账退款",
        "refund_transfer_payee": "登记收款账户",
        "refund_transfer_approve": "复核转账退款",
        "refund_transfer_confirm": "确认转账已付",
    },
    # the chase list's columns (billfold.collection.lists.CHASE): its headers on screen and
    # in exports
    "chase_column": {
        "bill_no": "账单号",
        "sub_unit": "班级/单位",
        "period": "账期",
        "payer_identifier": "缴费人编号",
        "payer_name": "缴费人",
        "payer_phone": "联系电话",
        "status": "状态",
        "principal_fen": "应缴金额",
        "waived_fen": "减免金额",
        "paid_fen": "已缴金额",
        "outstanding_fen": "欠缴金额",
        "due_date": "缴费截止日",
        "overdue_days": "逾期天数",
    },
    "transfer_stage": {
        "awaiting_payee": "待登记收款账户",
        "awaiting_approval": "待复核",
        "ready": "待出转账文件",
        "in_file": "已出文件，待银行回单",
        "paid": "已转账",
        "cancelled": "已取消",
    },
}

LABELS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {kind: MappingProxyType(codes) for kind, codes in _LABELS.items()}
)


def label(kind: str, code: object) -> str:
    """The Chinese label of ``code`` (a string or a string enum) as a ``kind``; an unknown
    code is shown as it is (never an empty cell), ``None`` as an empty string."""
    if code is None:
        return ""
    text = str(getattr(code, "value", code))
    return LABELS.get(kind, {}).get(text, text)
