"""The back office's lists: bills, orders, payments, refunds, suspense and held money, the
audit log, outbox events and webhook deliveries — each a :class:`ListSpec` naming its
filters, sort keys and columns. The rows themselves come from the SQL adapters
(``billfold.adapters.db.listing``) behind :class:`billfold.collection.ports.ListsRepository`.
"""

from __future__ import annotations

from enum import StrEnum

from billfold.collection.bill import BillKind, BillStatus
from billfold.collection.listing import CellKind, Column, Filter, ListSpec
from billfold.collection.order import OrderStatus
from billfold.collection.payment import PaymentStatus, SuspenseReason
from billfold.collection.refund import RefundKind, RefundStatus
from billfold.labels import label

__all__ = [
    "AUDIT",
    "BILLS",
    "CHASE",
    "DELIVERIES",
    "LISTS",
    "ORDERS",
    "OUTBOX_EVENTS",
    "PAYMENTS",
    "REFUNDS",
    "SUSPENSE",
    "suspense_actions",
]


def _codes(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


_BILLER = Filter("biller", "text", "the biller's code")
_FROM = Filter("from", "date", "on or after this business date (YYYY-MM-DD)")
_TO = Filter("to", "date", "on or before this business date (YYYY-MM-DD)")
_CHANNEL = Filter("channel", "text", "the channel (qr, wechatpay, alipay, counter, pos …)")
_AMOUNT_MIN = Filter("amount_min", "money", "at least this many yuan")
_AMOUNT_MAX = Filter("amount_max", "money", "at most this many yuan")

BILLS = ListSpec(
    name="bills",
    title="账单",
    filters=(
        _BILLER,
        Filter("sub_unit", "text", "the sub-unit (class, district, office …)"),
        Filter("period", "text", "the billing period, e.g. 2026-autumn"),
        Filter("status", "code", "the bill's status today", _codes(BillStatus)),
        Filter("kind", "code", "fixed, open or fine", _codes(BillKind)),
        Filter("payer", "text", "the payer's identifier (学号, 户号 …) or part of their name"),
        Filter("bill_no", "text", "the bill number"),
        Filter("due_from", "date", "due on or after this date"),
        Filter("due_to", "date", "due on or before this date"),
        Filter("overdue_days", "int", "unpaid and overdue by at least this many days"),
    ),
    sorts={"created": "datetime", "due_date": "date", "bill_no": "text", "amount": "int"},
    columns=(
        Column("bill_no", "账单号"),
        Column("biller", "商户"),
        Column("sub_unit", "所属单位"),
        Column("period", "账期"),
        Column("payer_identifier", "缴费人编号"),
        Column("payer_name", "缴费人", personal="name"),
        Column("status", "状态", label="bill_status"),
        Column("principal_fen", "应缴金额", "money"),
        Column("paid_fen", "已缴金额", "money"),
        Column("outstanding_fen", "未缴金额", "money"),
        Column("due_date", "缴费截止日", "date"),
        Column("overdue_days", "逾期天数", "count"),
        Column("created_at", "创建时间", "datetime"),
    ),
)


def _chase(key: str, kind: CellKind = "text", **more: str) -> Column:
    return Column(key, label("chase_column", key), kind, **more)


#: The chase list (催缴名单): bills still owed — unpaid or part-paid, overdue or not yet due —
#: with the payer's contact phone (a school's: the parent's), what is owed after part
#: payments and waivers, the due date and how many days overdue; the most overdue first.
#: Open-amount bills (nothing fixed to chase) are left out.
CHASE = ListSpec(
    name="chase",
    title="催缴名单",
    filters=(
        _BILLER,
        Filter("sub_unit", "text", "the sub-unit (class, district, office …)"),
        Filter("period", "text", "the billing period, e.g. 2026-autumn"),
        Filter("overdue", "code", "true: overdue only; false: not yet due only", ("true", "false")),
        Filter("min_days", "int", "overdue by at least this many days"),
        Filter("payer", "text", "the payer's identifier (学号, 户号 …) or part of their name"),
    ),
    sorts={"due_date": "date", "sub_unit": "text", "bill_no": "text", "amount": "int"},
    default_order="due_date",
    columns=(
        _chase("bill_no"),
        _chase("sub_unit"),
        _chase("period"),
        _chase("payer_identifier"),
        _chase("payer_name", personal="name"),
        _chase("payer_phone", personal="phone"),
        _chase("status", label="bill_status"),
        _chase("principal_fen", "money"),
        _chase("waived_fen", "money"),
        _chase("paid_fen", "money"),
        _chase("outstanding_fen", "money"),
        _chase("due_date", "date"),
        _chase("overdue_days", "count"),
    ),
)

ORDERS = ListSpec(
    name="orders",
    title="订单",
    filters=(
        _BILLER,
        Filter("status", "code", "the order's status", _codes(OrderStatus)),
        _CHANNEL,
        Filter("payer", "text", "the payer's identifier"),
        Filter("order_no", "text", "the order number"),
        Filter("bill_no", "text", "orders paying this bill"),
        _FROM,
        _TO,
        _AMOUNT_MIN,
        _AMOUNT_MAX,
    ),
    sorts={"created": "datetime", "amount": "int"},
    columns=(
        Column("order_no", "订单号"),
        Column("biller", "商户"),
        Column("payer_identifier", "缴费人编号"),
        Column("status", "状态", label="order_status"),
        Column("channel", "渠道", label="channel"),
        Column("total_fen", "订单金额", "money"),
        Column("refunded_fen", "已退金额", "money"),
        Column("created_at", "创建时间", "datetime"),
        Column("expires_at", "过期时间", "datetime"),
        Column("paid_at", "支付时间", "datetime"),
    ),
)

PAYMENTS = ListSpec(
    name="payments",
    title="支付流水",
    filters=(
        _BILLER,
        _CHANNEL,
        Filter("status", "code", "the payment's status", _codes(PaymentStatus)),
        Filter("reason", "code", "why it is held or in suspense", _codes(SuspenseReason)),
        _FROM,
        _TO,
        _AMOUNT_MIN,
        _AMOUNT_MAX,
        Filter("channel_txn_id", "text", "the channel's transaction id"),
        Filter("order_no", "text", "the order number the channel reported"),
    ),
    sorts={"received": "datetime", "paid": "datetime", "amount": "int"},
    columns=(
        Column("id", "支付编号", "count"),
        Column("channel", "渠道", label="channel"),
        Column("channel_txn_id", "渠道流水号"),
        Column("order_no", "订单号"),
        Column("biller", "商户"),
        Column("status", "状态", label="payment_status"),
        Column("reason", "挂账原因", label="suspense_reason"),
        Column("amount_fen", "金额", "money"),
        Column("fee_fen", "手续费", "money"),
        Column("refunded_fen", "已退金额", "money"),
        Column("paid_at", "支付时间", "datetime"),
        Column("business_date", "业务日期", "date"),
    ),
)

REFUNDS = ListSpec(
    name="refunds",
    title="退款",
    filters=(
        _BILLER,
        Filter("status", "code", "the refund's status", _codes(RefundStatus)),
        _CHANNEL,
        Filter("kind", "code", "money that reached bills, or suspense money", _codes(RefundKind)),
        Filter("payment_id", "int", "refunds of this payment"),
        _FROM,
        _TO,
    ),
    sorts={"created": "datetime", "amount": "int"},
    columns=(
        Column("refund_no", "退款单号"),
        Column("payment_id", "支付编号", "count"),
        Column("channel", "渠道", label="channel"),
        Column("biller", "商户"),
        Column("kind", "类型", label="refund_kind"),
        Column("status", "状态", label="refund_status"),
        Column("amount_fen", "退款金额", "money"),
        Column("fee_fen", "退回手续费", "money"),
        Column("reason", "退款原因"),
        Column("requested_by", "申请人"),
        Column("created_at", "申请时间", "datetime"),
        Column("completed_at", "完成时间", "datetime"),
    ),
)

SUSPENSE = ListSpec(
    name="suspense",
    title="挂账与待复核款项",
    filters=(
        _BILLER,
        Filter("status", "code", "held (for review) or suspense", ("held", "suspense")),
        Filter("reason", "code", "why the money is there", _codes(SuspenseReason)),
        _CHANNEL,
        Filter(
            "refund_status",
            "code",
            "the state of its latest refund (none: no refund yet)",
            (*_codes(RefundStatus), "none"),
        ),
        _FROM,
        _TO,
    ),
    sorts={"received": "datetime", "amount": "int"},
    columns=(
        Column("payment_id", "支付编号", "count"),
        Column("channel", "渠道", label="channel"),
        Column("channel_txn_id", "渠道流水号"),
        Column("order_no", "订单号"),
        Column("biller", "商户"),
        Column("status", "状态", label="payment_status"),
        Column("reason", "原因", label="suspense_reason"),
        Column("amount_fen", "金额", "money"),
        Column("refunded_fen", "已退金额", "money"),
        Column("left_fen", "待处理金额", "money"),
        Column("refund_no", "退款单号"),
        Column("refund_status", "退款状态", label="refund_status"),
        Column("actions", "可做操作", label="suspense_action"),
        Column("received_at", "收到时间", "datetime"),
    ),
)

AUDIT = ListSpec(
    name="audit",
    title="操作日志",
    filters=(
        Filter("actor", "text", "who did it (exact)"),
        Filter("action", "text", "what was done (cancel, waive, change …)"),
        Filter("target_type", "text", "bill, order, payment, refund, biller …"),
        Filter("target_id", "text", "the target, e.g. SCHOOL/B001 for a bill"),
        _FROM,
        _TO,
    ),
    sorts={"at": "datetime"},
    columns=(
        Column("id", "编号", "count"),
        Column("at", "时间", "datetime"),
        Column("actor", "操作人"),
        Column("action", "操作"),
        Column("target_type", "对象类型"),
        Column("target_id", "对象"),
        Column("reason", "原因"),
    ),
)

OUTBOX_EVENTS = ListSpec(
    name="outbox_events",
    title="事件",
    filters=(
        _BILLER,
        Filter("event_type", "text", "e.g. payment.credited"),
        Filter("fanned_out", "code", "handed to the webhook deliveries yet", ("true", "false")),
        _FROM,
        _TO,
    ),
    sorts={"created": "datetime"},
    columns=(
        Column("event_id", "事件编号"),
        Column("event_type", "事件类型"),
        Column("biller", "商户"),
        Column("fanned_out", "已分发"),
        Column("created_at", "时间", "datetime"),
    ),
)

DELIVERIES = ListSpec(
    name="deliveries",
    title="回调投递",
    filters=(
        _BILLER,
        Filter(
            "status",
            "code",
            "pending, delivered or dead (dead letters)",
            ("pending", "delivered", "dead"),
        ),
        Filter("event_type", "text", "e.g. payment.credited"),
        Filter("endpoint_id", "int", "one webhook endpoint"),
    ),
    sorts={"created": "datetime", "next_attempt": "datetime"},
    columns=(
        Column("id", "投递编号", "count"),
        Column("event_id", "事件编号"),
        Column("event_type", "事件类型"),
        Column("biller", "商户"),
        Column("url", "回调地址"),
        Column("status", "状态", label="delivery_status"),
        Column("attempts", "尝试次数", "count"),
        Column("next_attempt_at", "下次尝试", "datetime"),
        Column("last_error", "最后错误"),
        Column("delivered_at", "投递时间", "datetime"),
    ),
)

LISTS = {
    spec.name: spec
    for spec in (
        BILLS,
        CHASE,
        ORDERS,
        PAYMENTS,
        REFUNDS,
        SUSPENSE,
        AUDIT,
        OUTBOX_EVENTS,
        DELIVERIES,
    )
}


def suspense_actions(status: str, left_fen: int, refund_status: str | None) -> list[str]:
    """What a clerk can still do with money held or in suspense: a held payment can be
    credited after review or refunded; a refund the channel is paying out is awaited; a
    refused one is tried again; money fully refunded needs nothing more."""
    if left_fen <= 0 and refund_status in (None, "succeeded", "cancelled"):
        return []
    if refund_status == "pending":
        return ["await_refund"]
    if refund_status == "failed":
        return ["retry_refund"]
    if status == PaymentStatus.HELD.value:
        return ["credit", "refund"] if left_fen > 0 else []
    return ["refund"] if left_fen > 0 else []
