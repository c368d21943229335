"""``billfold refunds``: find refunds, show one, and those that a person pays out.

``billfold refunds list -f status=pending`` — refunds the channels have not paid out yet;
``billfold refunds show REFUND_NO``.

``billfold refunds confirm-cash REFUND_NO --by NAME`` — the cashier handed a counter refund
out in cash: it succeeds and its journal entry moves (until then it is pending, like a
refund any channel pays out later). A repeat prints the refund again and changes nothing.
``billfold refunds bank-transfer …`` — refunds the channel could not pay back, paid by bank
transfer (see :mod:`billfold.adapters.cli.refund_transfers`).
Errors print ``error: <message>`` on stderr and exit 1.
"""

from __future__ import annotations

from typing import Annotated

import typer

from billfold.adapters.cli import refund_transfers
from billfold.adapters.cli.common import DbUrl, fail, open_engine
from billfold.adapters.cli.listing import AsJson, add_list_command
from billfold.adapters.cli.show import print_record
from billfold.labels import label
from billfold.money import format_yuan

__all__ = ["app"]

app = typer.Typer(
    help="Refunds: list, show, confirm a counter refund paid in cash, refunds by bank transfer.",
    no_args_is_help=True,
)

app.add_typer(refund_transfers.app, name="bank-transfer")
add_list_command(app, "refunds", "List and search refunds, newest first.")


@app.command("show")
def show(
    refund_no: Annotated[str, typer.Argument(help="The refund's number (R…)")],
    as_json: AsJson = False,
    database_url: DbUrl = None,
) -> None:
    """Show one refund."""
    with open_engine(database_url) as engine, engine.uow() as uow:
        r = uow.refunds.get_by_no(refund_no)
    if r is None:
        fail(f"refund {refund_no!r} does not exist")
    data = {
        "refund_no": r.refund_no,
        "payment_id": r.payment_id,
        "kind": r.kind.value,
        "status": r.status.value,
        "amount_fen": r.amount_fen,
        "fee_fen": r.fee_fen,
        "reason": r.reason,
        "requested_by": r.requested_by,
        "created_at": r.created_at,
        "completed_at": r.completed_at,
    }
    fields = [
        ("退款单号", r.refund_no),
        ("支付编号", str(r.payment_id)),
        ("类型", label("refund_kind", r.kind)),
        ("状态", label("refund_status", r.status)),
        ("退款金额", format_yuan(r.amount_fen)),
        ("退回手续费", format_yuan(r.fee_fen)),
        ("退款原因", r.reason),
        ("申请人", r.requested_by),
    ]
    print_record("退款", fields, data, as_json=as_json)


@app.command("confirm-cash")
def confirm_cash(
    refund_no: Annotated[str, typer.Argument(help="The refund's number (R…)")],
    by: Annotated[str, typer.Option("--by", help="The cashier who paid it out, for the audit.")],
    database_url: DbUrl = None,
) -> None:
    """The cash of a counter refund went out: mark it paid and move its journal entry."""
    from billfold.channels.counter import confirm_cash_refund

    with open_engine(database_url) as engine:  # a refusal exits 1, saying why
        done = confirm_cash_refund(engine, refund_no, by=by)
    typer.echo(
        f"refund {done.refund_no} {done.status.value}: {format_yuan(done.amount_fen)} paid out "
        f"in cash (completed {done.completed_at:%Y-%m-%d %H:%M:%S} UTC)"
    )
