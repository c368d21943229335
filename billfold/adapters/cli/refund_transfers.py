"""``billfold refunds bank-transfer``: refunds the channel could not pay back.

``list`` (``--stage``), ``show``, ``fall-back`` (a person decides a failed refund goes by
transfer), ``record`` (the payee: the maker), ``approve`` (the checker, never the maker),
``file`` (the CSV for the bank, journalled; ``--out``), ``file-again`` and ``confirm`` (paid,
by hand with a reason; the bank statement confirms by itself in ``billfold reconcile bank``).
Payees are masked everywhere but in the bank's file. Errors print ``error: <message>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from billfold.adapters.cli.common import DbUrl, fail, open_engine
from billfold.adapters.cli.output import console
from billfold.adapters.cli.reconcile import WIDTH
from billfold.collection.refund_transfer import TransferStage
from billfold.labels import label
from billfold.money import format_yuan

if TYPE_CHECKING:
    from billfold.collection.refund_transfer import RefundTransfer

__all__ = ["app"]

out = console(highlight=False, soft_wrap=True, width=WIDTH)

app = typer.Typer(help="Refunds paid back by bank transfer.", no_args_is_help=True)

By = Annotated[str, typer.Option("--by", help="who does it, for the audit")]


def _line(t: RefundTransfer) -> str:
    payee = t.payee.masked() if t.payee else None
    who = f"{payee['name']} {payee['account']} {payee['bank']}" if payee else "未登记"
    return (
        f"refund {t.refund_no} {label('transfer_stage', t.stage)}: {t.masked()['amount']} "
        f"({label('transfer_reason', t.reason)}) 收款人 {who}"
    )


@app.command("list")
def list_command(
    stage: Annotated[
        str | None, typer.Option(help=", ".join(s.value for s in TransferStage))
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (codes)")] = False,
    database_url: DbUrl = None,
) -> None:
    """List refunds going by bank transfer."""
    from rich.table import Table

    from billfold.settlement.refund_transfer_desk import RefundTransferDesk

    try:
        wanted = TransferStage(stage) if stage else None
    except ValueError:
        fail(f"--stage: {stage!r}; use " + ", ".join(s.value for s in TransferStage))
    with open_engine(database_url) as engine:
        found = RefundTransferDesk(engine).transfers(stage=wanted)
    if as_json:
        typer.echo(json.dumps([t.masked() for t in found], ensure_ascii=False))
        return
    table = Table("退款单号", "金额", "原因", "状态", "收款人", "收款账号", "转账文件")
    for t in found:
        payee = t.payee.masked() if t.payee else {"name": "-", "account": "-"}
        table.add_row(
            t.refund_no,
            str(t.masked()["amount"]),
            label("transfer_reason", t.reason),
            label("transfer_stage", t.stage),
            payee["name"],
            payee["account"],
            t.file_no or "-",
        )
    out.print(table)


@app.command("show")
def show_command(refund_no: str, database_url: DbUrl = None) -> None:
    """Show one refund's bank transfer (the payee masked)."""
    from billfold.settlement.refund_transfer_desk import RefundTransferDesk

    with open_engine(database_url) as engine:
        typer.echo(_line(RefundTransferDesk(engine).get(refund_no)))


@app.command("fall-back")
def fall_back_command(
    refund_no: str,
    reason: Annotated[str, typer.Option(help="why it goes by bank transfer")],
    by: By,
    database_url: DbUrl = None,
) -> None:
    """A person decides a failed refund is paid back by bank transfer."""
    from billfold.collection.refund_transfer import TransferReason

    with open_engine(database_url) as engine:
        done = engine.refund_needs_transfer(refund_no, TransferReason.OTHER, reason, by=by)
        typer.echo(_line(done))


@app.command("record")
def record_command(
    refund_no: str,
    name: Annotated[str, typer.Option(help="the payee's name as the bank holds it")],
    account: Annotated[str, typer.Option(help="the payee's bank account number")],
    bank: Annotated[str, typer.Option(help="the payee's bank and branch")],
    by: By,
    database_url: DbUrl = None,
) -> None:
    """Record who the transfer pays (the maker; a second person approves)."""
    from billfold.collection.refund_transfer import PayeeAccount
    from billfold.settlement.refund_transfer_desk import RefundTransferDesk

    with open_engine(database_url) as engine:
        payee = PayeeAccount(name, account, bank)
        typer.echo(_line(RefundTransferDesk(engine).record_payee(refund_no, payee, by=by)))


@app.command("approve")
def approve_command(refund_no: str, by: By, database_url: DbUrl = None) -> None:
    """Approve a recorded transfer (the checker: never the person who recorded it)."""
    from billfold.settlement.refund_transfer_desk import RefundTransferDesk

    with open_engine(database_url) as engine:
        typer.echo(_line(RefundTransferDesk(engine).approve(refund_no, checker=by)))


@app.command("file")
def file_command(
    out_file: Annotated[Path, typer.Option("--out", help="the CSV for the bank")],
    by: By,
    refund: Annotated[list[str] | None, typer.Option("--refund", help="only these")] = None,
    encoding: Annotated[str, typer.Option(help="utf-8-sig (default) or gbk")] = "utf-8-sig",
    database_url: DbUrl = None,
) -> None:
    """Put the approved transfers into a new bank transfer file (journalled)."""
    from billfold.settlement.refund_transfer_desk import RefundTransferDesk

    with open_engine(database_url) as engine:
        made = RefundTransferDesk(engine).file(by=by, refund_nos=refund, encoding=encoding)
    out_file.write_bytes(made.content)
    typer.echo(
        f"transfer file {made.file_no}: {made.count} refunds, "
        f"{format_yuan(made.total_fen)} in total -> {out_file}"
    )


@app.command("file-again")
def file_again_command(
    file_no: str,
    out_file: Annotated[Path, typer.Option("--out", help="the CSV for the bank")],
    encoding: Annotated[str, typer.Option(help="utf-8-sig (default) or gbk")] = "utf-8-sig",
    database_url: DbUrl = None,
) -> None:
    """Write a transfer file again, as it went to the bank."""
    from billfold.settlement.refund_transfer_desk import RefundTransferDesk

    with open_engine(database_url) as engine:
        made = RefundTransferDesk(engine).file_again(file_no, encoding=encoding)
    out_file.write_bytes(made.content)
    typer.echo(f"transfer file {made.file_no}: {made.count} refunds -> {out_file}")


@app.command("confirm")
def confirm_command(
    refund_no: str,
    reason: Annotated[str, typer.Option(help="how you know the bank paid it")],
    by: By,
    statement_ref: Annotated[str | None, typer.Option(help="the bank's reference")] = None,
    database_url: DbUrl = None,
) -> None:
    """Confirm by hand that the bank paid a filed transfer."""
    from billfold.collection.refund_transferring import TransferConfirmation
    from billfold.settlement.refund_transfer_desk import RefundTransferDesk

    with open_engine(database_url) as engine:
        how = TransferConfirmation(by, reason, statement_ref)
        typer.echo(_line(RefundTransferDesk(engine).confirm(refund_no, how)))
