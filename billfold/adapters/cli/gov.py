"""``billfold gov``: government offices' fee catalogues, fines and receipts.

* ``billfold gov fee-set OFFICE ITEM --name 普通护照 --amount 120.00 --from 2026-06-01 --by clerk``
* ``billfold gov fees OFFICE [--date 2026-09-01]`` — the catalogue in force that day;
* ``billfold gov fine-add OFFICE DECISION_NO --party 钱多多 --amount 200.00 --deadline 2026-08-20``
* ``billfold gov fine DECISION_NO [--json]`` — what a fine costs now (fine + 加处罚款);
* ``billfold gov receipt PAYMENT_ID [--html FILE] [--json]`` — the payment's receipt.

Exit codes: 0 done, 1 refused (the message says why), 2 usage errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from billfold.adapters.cli.common import day_option, open_engine, yuan_option
from billfold.adapters.cli.output import console
from billfold.adapters.cli.reconcile import WIDTH, DbUrl
from billfold.money import format_yuan

__all__ = ["app"]

app = typer.Typer(help="Government fees: fee catalogues, fines by decision number, receipts.")
out = console(highlight=False, soft_wrap=True, width=WIDTH)


@app.command("fee-set")
def fee_set(
    office: str,
    item: str,
    name: Annotated[str, typer.Option(help="The item's name as printed, e.g. 普通护照")],
    amount: Annotated[str, typer.Option(help="Standard amount in yuan, e.g. 120.00")],
    effective_from: Annotated[str, typer.Option("--from", help="First day it applies")],
    by: Annotated[str, typer.Option(help="Who changes the catalogue (audited)")],
    reason: Annotated[str, typer.Option(help="Why, e.g. the price notice")] = "",
    database_url: DbUrl = None,
) -> None:
    """Add a catalogue entry; the same entry again changes nothing."""
    from billfold.merchants.fee_catalogue import FeeItem
    from billfold.packs.government import Government

    with open_engine(database_url) as engine:
        entry = FeeItem(
            item, name, yuan_option(amount, "--amount"), day_option(effective_from, "--from")
        )
        added = Government(engine).set_fee(office, entry, actor=by, reason=reason)
    state = "added" if added else "unchanged"
    out.print(
        f"{office}/{item}: {format_yuan(entry.amount_fen)} from {entry.effective_from} {state}"
    )


@app.command("fees")
def fees(
    office: str,
    on: Annotated[str | None, typer.Option("--date", help="Default: today")] = None,
    database_url: DbUrl = None,
) -> None:
    """The office's catalogue in force on a day."""
    from rich.table import Table

    from billfold.packs.government import Government

    with open_engine(database_url) as engine:
        items = Government(engine).catalogue(office, day_option(on, "--date") if on else None)
    table = Table("item", "name", "amount", "since", title=f"{office} fee catalogue")
    for entry in items:
        table.add_row(
            entry.item_code, entry.name, format_yuan(entry.amount_fen), str(entry.effective_from)
        )
    out.print(table)


@app.command("fine-add")
def fine_add(
    office: str,
    decision_no: str,
    party: Annotated[str, typer.Option(help="The party fined (masked in receipts)")],
    amount: Annotated[str, typer.Option(help="The fine in yuan")],
    deadline: Annotated[str, typer.Option(help="Last day to pay without penalty")],
    description: Annotated[str, typer.Option(help="What the fine is for")] = "罚款",
    database_url: DbUrl = None,
) -> None:
    """Record a fine (the statutory 3%-a-day penalty applies after the deadline)."""
    from billfold.packs.government import Government

    with open_engine(database_url) as engine:
        bill = Government(engine).add_fine(
            office,
            decision_no,
            party=party,
            fine_fen=yuan_option(amount, "--amount"),
            deadline=day_option(deadline, "--deadline"),
            description=description,
        )
    out.print(f"fine {bill.bill_no}: {format_yuan(bill.principal_fen)} due by {bill.due_date}")


@app.command("fine")
def fine(
    decision_no: str,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable")] = False,
    database_url: DbUrl = None,
) -> None:
    """What a fine costs now: the fine, days overdue, the penalty (capped at the fine)."""
    from billfold.packs.government import Government

    with open_engine(database_url) as engine:
        biller, _, quote = Government(engine).lookup_fine(decision_no)
    data = {
        "office": biller.code,
        "decision_no": quote.decision_no,
        "fine": format_yuan(quote.fine_fen),
        "deadline": quote.deadline.isoformat(),
        "days_overdue": quote.days_overdue,
        "penalty": format_yuan(quote.penalty_fen),
        "total": format_yuan(quote.total_fen),
        "capped": quote.capped,
    }
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, sort_keys=True))
        return
    out.print(
        f"{quote.decision_no} ({biller.name}): fine {data['fine']}, {quote.days_overdue} day(s) "
        f"overdue, penalty {data['penalty']}{' (capped)' if quote.capped else ''}, "
        f"total {data['total']}"
    )


@app.command("receipt")
def receipt(
    payment_id: int,
    html: Annotated[Path | None, typer.Option(help="Write the printable page here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the receipt as JSON")] = False,
    database_url: DbUrl = None,
) -> None:
    """The receipt of a credited payment (issued on first request, the same ever after)."""
    from billfold.packs.government import Government

    with open_engine(database_url) as engine:
        issued = Government(engine).issue_receipt(payment_id)
    if html is not None:
        html.write_text(issued.to_html(), encoding="utf-8")
    if as_json:
        typer.echo(issued.to_json())
    else:
        out.print(f"receipt {issued.receipt_no}: {format_yuan(issued.total_fen)}")
