"""``billfold refunds``: refunds that a person pays out.

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
from billfold.adapters.cli.common import DbUrl, open_engine
from billfold.channels.counter import confirm_cash_refund
from billfold.money import format_yuan

__all__ = ["app"]

app = typer.Typer(
    help="Refunds paid out by a person (the counter's cash, a bank transfer).",
    no_args_is_help=True,
)
app.add_typer(refund_transfers.app, name="bank-transfer")


@app.command("confirm-cash")
def confirm_cash(
    refund_no: Annotated[str, typer.Argument(help="The refund's number (R…)")],
    by: Annotated[str, typer.Option("--by", help="The cashier who paid it out, for the audit.")],
    database_url: DbUrl = None,
) -> None:
    """The cash of a counter refund went out: mark it paid and move its journal entry."""
    with open_engine(database_url) as engine:  # a refusal exits 1, saying why
        done = confirm_cash_refund(engine, refund_no, by=by)
    typer.echo(
        f"refund {done.refund_no} {done.status.value}: {format_yuan(done.amount_fen)} paid out "
        f"in cash (completed {done.completed_at:%Y-%m-%d %H:%M:%S} UTC)"
    )
