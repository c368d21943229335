"""``billfold autodebit``: the scheduled debit run (签约代扣) and its mandates.

``billfold autodebit run`` expires mandates, sends pre-debit notices and debits what is due,
again and again until SIGINT/SIGTERM (it finishes the debit in hand, then exits); ``--once``
makes one pass and prints what it did. Any number of runs may share one PostgreSQL
database; on SQLite run one. Debits go to the sandbox bank: this build has no real bank
connector, so nothing is ever taken from a real account. Errors print
``error: <message>`` on stderr and exit 1.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Annotated

import typer

from billfold.adapters.cli.common import DbUrl, fail, open_engine, stop_on_signals
from billfold.collection.mandate import MandateStatus
from billfold.money import format_yuan

__all__ = ["app"]

SANDBOX_NOTE = (
    "Debits go to the sandbox bank (no real bank connector is configured in this build), "
    "so no real account is ever debited."
)
app = typer.Typer(
    help="Auto-debit (签约代扣): pre-debit notices, the scheduled debit run, mandates. "
    + SANDBOX_NOTE,
    no_args_is_help=True,
)
mandates_app = typer.Typer(help="Mandates signed by payers.", no_args_is_help=True)
app.add_typer(mandates_app, name="mandates")


_engine = open_engine
_fail = fail


@app.command("run")
def run(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.05, help="Seconds between passes.")
    ] = 60.0,
    notice_hours: Annotated[
        float,
        typer.Option("--notice-hours", min=0, help="Pre-debit notice lead, in hours."),
    ] = 24.0,
    bank: Annotated[
        str, typer.Option("--bank", help="The bank to debit through: only 'sandbox' for now.")
    ] = "sandbox",
    database_url: DbUrl = None,
) -> None:
    """Notice and debit due bills under active mandates: once, or until interrupted.

    Debits go to the sandbox bank (no real bank connector is configured in this build)."""
    import structlog
    from sqlalchemy.exc import SQLAlchemyError

    from billfold.channels.autodebit import AutoDebit, DebitPolicy, RunReport
    from billfold.testing.sandbox.autodebit import SandboxBank
    from billfold.testing.sandbox.gateway import SandboxGateway

    if bank != "sandbox":
        _fail(f"bank: no connector named {bank!r} is installed; only 'sandbox' is available")
    policy = DebitPolicy(notice_lead=timedelta(hours=notice_hours))
    with _engine(database_url) as engine:
        auto = AutoDebit(engine, SandboxBank(SandboxGateway(engine.clock)), policy)
        if once:
            typer.echo(str(auto.run_once()))
            return
        stop = threading.Event()
        total = RunReport()
        with stop_on_signals(stop):
            while not stop.is_set():
                try:
                    report = auto.run_once()
                except SQLAlchemyError as exc:
                    structlog.get_logger("billfold.autodebit").error(
                        "autodebit.database_error", error=type(exc).__name__
                    )
                else:
                    for name, value in vars(report).items():
                        setattr(total, name, getattr(total, name) + value)
                stop.wait(interval)
        typer.echo(str(total))


@mandates_app.command("list")
def mandates_list(
    biller: Annotated[str | None, typer.Option("--biller", help="Only this biller.")] = None,
    status: Annotated[
        MandateStatus | None, typer.Option("--status", help="Only mandates in this state.")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """List mandates: number, biller, payer, masked account, limits, validity, status."""
    from billfold.channels.autodebit_mandates import MandateBook

    with _engine(database_url) as engine:
        found = MandateBook(engine).mandates(biller, [status] if status else None)
    if not found:
        typer.echo("no mandates")
    for mandate, biller_code, payer in found:
        limits = (
            f"{format_yuan(mandate.per_debit_limit_fen)}/debit "
            f"{format_yuan(mandate.monthly_limit_fen)}/month"
        )
        until = str(mandate.valid_until) if mandate.valid_until else "open"
        typer.echo(
            f"{mandate.mandate_no}\t{biller_code}\t{payer}\t{mandate.account_masked}\t{limits}"
            f"\t{mandate.valid_from}..{until}\t{mandate.status.value}"
        )


@mandates_app.command("revoke")
def mandates_revoke(
    mandate_no: Annotated[str, typer.Argument(help="Mandate number (see 'mandates list').")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit log.")],
    actor: Annotated[str, typer.Option("--actor", help="Who, for the audit log.")] = "cli",
    database_url: DbUrl = None,
) -> None:
    """Revoke a mandate at once: no debit is made under it afterwards, even one noticed."""
    from billfold.channels.autodebit_mandates import MandateBook

    with _engine(database_url) as engine:
        mandate = MandateBook(engine).revoke(mandate_no, actor=actor, reason=reason)
    typer.echo(f"mandate {mandate.mandate_no} revoked")
