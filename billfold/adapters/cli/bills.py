"""``billfold bills``: import, find, show, change and cancel bills.

* ``billfold bills import FILE --biller CODE`` — see ``billfold bills import --help``
* ``billfold bills list -f biller=SCHOOL -f status=overdue -f overdue_days=30 --out late.xlsx``
* ``billfold bills show SCHOOL B001``
* ``billfold bills change SCHOOL B001 --amount 1200.00 --reason "…" --by 王老师``
* ``billfold bills cancel SCHOOL B001 --reason "…" --by 王老师``

Errors print ``error: <message>`` on stderr and exit 1, changing nothing.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from billfold.adapters.cli.common import DbUrl, day_option, fail, open_engine, yuan_option
from billfold.adapters.cli.listing import AsJson, add_list_command
from billfold.adapters.cli.show import print_record
from billfold.labels import label
from billfold.money import format_yuan

if TYPE_CHECKING:
    from billfold.collection.bill import Bill

__all__ = ["app"]

app = typer.Typer(
    help="Bills: import a bill file, list and search bills (filters, export), show one, "
    "change one not yet paid (amounts, items, due date) or cancel one — each change audited.",
    no_args_is_help=True,
)
Biller = Annotated[str, typer.Argument(help="the biller's code")]
BillNo = Annotated[str, typer.Argument(help="the bill number")]
Why = Annotated[str, typer.Option("--reason", help="why (required, audited)")]
Who = Annotated[str, typer.Option("--by", help="who does it (required, audited)")]

add_list_command(app, "bills", "List and search bills, newest first.")
add_list_command(
    app,
    "chase",
    "The chase list (催缴名单): bills still owed with the payer's phone, due date and days "
    "overdue, the most overdue first; --out exports it (phones masked unless --unmasked).",
    command="chase",
)


def _print(engine_today: date, biller: str, bill: Bill, as_json: bool) -> None:
    status = bill.status(engine_today)
    data = {
        "biller": biller,
        "bill_no": bill.bill_no,
        "status": status.value,
        "kind": bill.kind.value,
        "principal_fen": bill.principal_fen,
        "paid_fen": bill.paid_fen,
        "waived_fen": bill.waived_fen,
        "outstanding_fen": bill.outstanding_fen,
        "late_fee_fen": bill.late_fee_fen(engine_today),
        "due_date": bill.due_date,
        "sub_unit": bill.sub_unit,
        "period": bill.period,
        "cancel_reason": bill.cancel_reason,
        "items": [
            {"code": i.code, "name": i.name, "amount_fen": i.amount_fen, "paid_fen": i.paid_fen}
            for i in bill.items
        ],
    }
    fields = [
        ("商户", biller),
        ("账单号", bill.bill_no),
        ("状态", label("bill_status", status)),
        ("类型", label("bill_kind", bill.kind)),
        ("应缴金额", format_yuan(bill.principal_fen)),
        ("已缴金额", format_yuan(bill.paid_fen)),
        ("减免金额", format_yuan(bill.waived_fen)),
        ("未缴金额", format_yuan(bill.outstanding_fen)),
        ("滞纳金", format_yuan(bill.late_fee_fen(engine_today))),
        ("缴费截止日", bill.due_date.isoformat() if bill.due_date else ""),
        ("所属单位", bill.sub_unit or ""),
        ("账期", bill.period or ""),
        ("作废原因", bill.cancel_reason or ""),
    ]
    items = [
        (i.code, i.name, format_yuan(i.amount_fen), format_yuan(i.paid_fen)) for i in bill.items
    ]
    print_record(
        "账单", fields, data, as_json=as_json, lines=(("项目代码", "项目", "金额", "已缴"), items)
    )


@app.command("show")
def show(
    biller: Biller, bill_no: BillNo, as_json: AsJson = False, database_url: DbUrl = None
) -> None:
    """Show one bill with its items, what is paid and what is owed."""
    with open_engine(database_url) as engine:
        bill = engine.bill(biller, bill_no)
        today = engine.today(biller)
    _print(today, biller, bill, as_json)


@app.command("cancel")
def cancel(
    biller: Biller,
    bill_no: BillNo,
    reason: Why,
    by: Who,
    as_json: AsJson = False,
    database_url: DbUrl = None,
) -> None:
    """Cancel (作废) a bill nothing was paid on (audited)."""
    with open_engine(database_url) as engine:
        bill = engine.cancel_bill(biller, bill_no, reason=reason, by=by)
        today = engine.today(biller)
    _print(today, biller, bill, as_json)


@app.command("change")
def change(
    biller: Biller,
    bill_no: BillNo,
    reason: Why,
    by: Who,
    amount: Annotated[
        str | None, typer.Option(help="a one-item bill's new amount, e.g. 1200.00")
    ] = None,
    item: Annotated[
        list[str] | None,
        typer.Option(help="CODE=AMOUNT or CODE=AMOUNT=NAME (a new item needs its name); repeat"),
    ] = None,
    due: Annotated[str | None, typer.Option(help="the new due date, YYYY-MM-DD")] = None,
    no_due: Annotated[bool, typer.Option("--no-due-date", help="remove the due date")] = False,
    as_json: AsJson = False,
    database_url: DbUrl = None,
) -> None:
    """Change a bill before it is paid: its amount, items or due date (audited). A part-paid
    bill can change only so that what was paid stays valid (never below it)."""
    from billfold.collection.bill_actions import BillChange

    items: dict[str, int] = {}
    names: dict[str, str] = {}
    for given in item or []:
        parts = given.split("=", 2)
        if len(parts) < 2 or not parts[0]:
            fail(f"--item: {given!r} is not CODE=AMOUNT or CODE=AMOUNT=NAME")
        items[parts[0]] = yuan_option(parts[1], f"--item {parts[0]}")
        if len(parts) == 3:
            names[parts[0]] = parts[2]
    with open_engine(database_url) as engine:
        bill = engine.change_bill(
            BillChange(
                biller,
                bill_no,
                reason=reason,
                by=by,
                amount_fen=yuan_option(amount, "--amount") if amount is not None else None,
                items=items,
                names=names,
                due_date=day_option(due, "--due") if due else None,
                clear_due_date=no_due,
            )
        )
        today = engine.today(biller)
    _print(today, biller, bill, as_json)
