"""``billfold payments``: list and search payments (channel, status, dates, amounts, the
channel's transaction id), show one."""

from __future__ import annotations

from typing import Annotated

import typer

from billfold.adapters.cli.common import DbUrl, open_engine
from billfold.adapters.cli.listing import AsJson, add_list_command
from billfold.adapters.cli.show import print_record
from billfold.labels import label
from billfold.money import format_yuan

__all__ = ["app"]

app = typer.Typer(help="Payments: list and search, show one.", no_args_is_help=True)

add_list_command(app, "payments", "List and search payments, newest first.")


@app.command("show")
def show(
    payment_id: Annotated[int, typer.Argument(help="the payment's id", min=1)],
    as_json: AsJson = False,
    database_url: DbUrl = None,
) -> None:
    """Show one payment."""
    with open_engine(database_url) as engine:
        p = engine.payment(payment_id)
    data = {
        "id": p.id,
        "channel": p.channel,
        "channel_txn_id": p.channel_txn_id,
        "order_no": p.order_no,
        "status": p.status.value,
        "reason": p.reason,
        "amount_fen": p.amount_fen,
        "fee_fen": p.fee_fen,
        "refunded_fen": p.refunded_fen,
        "paid_at": p.paid_at,
    }
    fields = [
        ("支付编号", str(p.id)),
        ("渠道", label("channel", p.channel)),
        ("渠道流水号", p.channel_txn_id),
        ("订单号", p.order_no),
        ("状态", label("payment_status", p.status)),
        ("挂账原因", label("suspense_reason", p.reason)),
        ("金额", format_yuan(p.amount_fen)),
        ("手续费", format_yuan(p.fee_fen)),
        ("已退金额", format_yuan(p.refunded_fen)),
        ("支付时间", f"{p.paid_at:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    print_record("支付", fields, data, as_json=as_json)
