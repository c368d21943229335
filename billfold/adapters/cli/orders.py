"""``billfold orders``: list and search orders, show one, cancel one nobody is paying yet.

A payment that arrives for a cancelled order goes to suspense with a refund queued
(``billfold suspense list``), as for an expired order. Errors print ``error: <message>``
on stderr and exit 1, changing nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from billfold.adapters.cli.common import DbUrl, open_engine
from billfold.adapters.cli.listing import AsJson, add_list_command
from billfold.adapters.cli.show import print_record
from billfold.labels import label
from billfold.money import format_yuan

if TYPE_CHECKING:
    from billfold.collection.order import Order

__all__ = ["app"]

app = typer.Typer(
    help="Orders: list and search, show one with its lines, cancel one not yet being paid.",
    no_args_is_help=True,
)
OrderNo = Annotated[str, typer.Argument(help="the order number (BF…)")]

add_list_command(app, "orders", "List and search orders, newest first.")


def _print(order: Order, as_json: bool) -> None:
    data = {
        "order_no": order.order_no,
        "status": order.status.value,
        "channel": order.channel,
        "total_fen": order.total_fen,
        "refunded_fen": order.refunded_fen,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
        "payment_id": order.payment_id,
        "lines": [
            {"bill_id": a.bill_id, "item_code": a.item_code, "amount_fen": a.amount_fen}
            for a in order.lines
        ],
    }
    fields = [
        ("订单号", order.order_no),
        ("状态", label("order_status", order.status)),
        ("渠道", label("channel", order.channel)),
        ("订单金额", format_yuan(order.total_fen)),
        ("已退金额", format_yuan(order.refunded_fen)),
        ("创建时间", f"{order.created_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("过期时间", f"{order.expires_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("支付编号", str(order.payment_id or "")),
    ]
    lines = [(str(a.bill_id), a.item_code, format_yuan(a.amount_fen)) for a in order.lines]
    print_record(
        "订单", fields, data, as_json=as_json, lines=(("账单编号", "项目代码", "金额"), lines)
    )


@app.command("show")
def show(order_no: OrderNo, as_json: AsJson = False, database_url: DbUrl = None) -> None:
    """Show one order and what it pays."""
    with open_engine(database_url) as engine:
        order = engine.order(order_no)
    _print(order, as_json)


@app.command("cancel")
def cancel(
    order_no: OrderNo,
    reason: Annotated[str, typer.Option(help="why (required, audited)")],
    by: Annotated[str, typer.Option(help="who cancels it (required, audited)")],
    as_json: AsJson = False,
    database_url: DbUrl = None,
) -> None:
    """Cancel an order nobody is paying yet; its bills stay open for a new order."""
    with open_engine(database_url) as engine:
        engine.cancel_order(order_no, reason=reason, by=by)
        order = engine.order(order_no)
    _print(order, as_json)
