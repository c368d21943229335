"""What the payer is told when a bill was paid meanwhile (through another order).

* Before paying: an order for bills already paid is refused (the core's guard,
  :func:`billfold.collection.already_paid.refuse_paid_bills`), checked here too before any
  channel is asked to collect; the payer page says 该账单已缴清 and links the paid order's
  result page (the receipt).
* After paying: money that reached an order whose bills another order paid goes to suspense
  and back to the payer; the result page says so instead of 支付失败 … 请重新发起缴费.
"""

from __future__ import annotations

from fastapi.responses import Response
from sqlalchemy import select

from billfold.adapters.db import schema as t
from billfold.adapters.http.cashier_views import StatusView, esc, page, status_view
from billfold.collection.already_paid import refuse_paid_bills
from billfold.collection.order import Order, OrderStatus
from billfold.collection.payment import PaymentStatus, SuspenseReason
from billfold.engine import Engine

__all__ = ["already_paid_page", "refuse_paid", "truthful_view"]

_PAID = (OrderStatus.PAID.value, OrderStatus.PARTIALLY_REFUNDED.value)
ALREADY_PAID_HINT = "该账单已缴清，本次款项将原路退回。"
RETURNED_HINT = "本订单已失效，本次款项将原路退回。"


def refuse_paid(engine: Engine, order: Order) -> None:
    """Raise ``BillsAlreadyPaid`` before a channel is asked to collect a stale order."""
    if order.id is None or not order.payable:
        return
    with engine.uow() as uow:
        refuse_paid_bills(uow.bills.for_order(order.id), order.lines)


def paid_order_no(engine: Engine, biller_id: int, bill_no: str) -> str | None:
    """The order that paid ``bill_no`` most recently (its result page is the receipt)."""
    o, line, b = t.orders, t.order_lines, t.bills
    query = (
        select(o.c.order_no)
        .join(line, line.c.order_id == o.c.id)
        .join(b, b.c.id == line.c.bill_id)
        .where(b.c.biller_id == biller_id, b.c.bill_no == bill_no, o.c.status.in_(_PAID))
        .order_by(o.c.paid_at.desc(), o.c.id.desc())
        .limit(1)
    )
    with engine.uow() as uow:
        return uow.conn.execute(query).scalar()


def already_paid_page(
    engine: Engine, biller_id: int, heading: str, bill_nos: list[str]
) -> Response:
    links = []
    for bill_no in bill_nos:
        order_no = paid_order_no(engine, biller_id, bill_no)
        if order_no is not None:
            links.append(
                f'<a class="button" id="receipt-{esc(bill_no)}" '
                f'href="/pay/o/{esc(order_no)}/result">查看缴费凭证（账单号 {esc(bill_no)}）</a>'
            )
    content = (
        '<div class="card"><h2 id="message">该账单已缴清，无需重复缴费</h2>'
        f'<p class="muted" id="detail">账单号 {esc("、".join(bill_nos))} 已通过其他订单缴清，'
        "本次不会扣款。</p>"
        + "".join(links)
        + '<a class="button secondary" href="/pay/lookup">按户号 / 学号查询账单</a></div>'
    )
    return page("无需缴费", content, heading=heading, status_code=409)


def truthful_view(engine: Engine, order: Order) -> StatusView:
    """The order's status as the payer should read it: money that reached a failed or
    expired order is going back, and the page says why."""
    view = status_view(order.status)
    if order.id is None or order.status not in (OrderStatus.FAILED, OrderStatus.EXPIRED):
        return view
    with engine.uow() as uow:
        payments = uow.payments.for_order(order.id)
    returned = [p for p in payments if p.status is PaymentStatus.SUSPENSE]
    if not returned:
        return view
    if any(p.reason == SuspenseReason.ALREADY_PAID.value for p in returned):
        return StatusView(view.status, "该账单已缴清", ALREADY_PAID_HINT, "failed", True)
    return StatusView(view.status, "款项将退回", RETURNED_HINT, "failed", True)
