"""The ``billfold`` command line."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from billfold.adapters.cli.approvals import cli_identity, print_proposal
from billfold.adapters.cli.bills import app as bills_app
from billfold.adapters.cli.common import DbUrl, connect, yuan_option
from billfold.adapters.cli.entry import main
from billfold.adapters.db import migrate
from billfold.adapters.db.connect import database_url_from_env, make_engine
from billfold.engine import Engine
from billfold.errors import BillfoldError, ImportFailed
from billfold.extras import MissingExtra, requires_extra
from billfold.logging import configure_logging
from billfold.maker_checker import MakerChecker
from billfold.merchants.biller import Biller, BillerKind, Limits, LookupCheck
from billfold.text import first_control_character

__all__ = ["app", "main"]


class _CleanArgs(TyperGroup):
    """No option or argument may carry a control character into the database (NUL fails on
    PostgreSQL and is stored by SQLite): the command line is refused before any command
    runs, naming the argument."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        for arg in args:
            found = first_control_character(arg)
            if found is not None:
                ctx.fail(f"argument {arg[:40]!r} contains a control character ({found})")
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_CleanArgs,
    help="billfold: bill collection, payments, reconciliation and settlement.",
)
db_app = typer.Typer(help="Database schema (Alembic migrations).")
billers_app = typer.Typer(help="Billers: schools, utilities, offices, developers, stalls.")
app.add_typer(db_app, name="db")
app.add_typer(billers_app, name="billers")
app.add_typer(bills_app, name="bills")

#: Sub-command groups living in their own modules: (module, name).
SUBAPPS = [
    ("billfold.adapters.cli.channel", "channel"),
    ("billfold.adapters.cli.statement", "statement"),
    ("billfold.adapters.cli.outbox", "outbox"),
    ("billfold.adapters.cli.qr", "qr"),
    ("billfold.adapters.cli.autodebit", "autodebit"),
    ("billfold.adapters.cli.reconcile", "reconcile"),
    ("billfold.adapters.cli.settle", "settle"),
    ("billfold.adapters.cli.export", "export"),
    ("billfold.adapters.cli.serve", "serve"),
    ("billfold.adapters.cli.campus", "campus"),
    ("billfold.adapters.cli.utility", "utility"),
    ("billfold.adapters.cli.gov", "gov"),
    ("billfold.adapters.cli.receipts", "receipts"),
    ("billfold.adapters.cli.presale", "presale"),
    ("billfold.adapters.cli.refunds", "refunds"),
    ("billfold.adapters.cli.orders", "orders"),
    ("billfold.adapters.cli.payments", "payments"),
    ("billfold.adapters.cli.suspense", "suspense"),
    ("billfold.adapters.cli.audit", "audit"),
    ("billfold.adapters.cli.users", "users"),
    ("billfold.adapters.cli.approvals", "approvals"),
    ("billfold.adapters.cli.complaints", "complaints"),
    ("billfold.adapters.cli.worker", "worker"),
    ("billfold.adapters.cli.journal", "journal"),
    ("billfold.adapters.cli.remind", "remind"),
]


def _needs_extra(name: str, missing: MissingExtra) -> None:
    """Register ``name`` as a command that only says which extra it needs (exit 2 in main)."""

    @app.command(
        name,
        help=f"Needs the '{missing.extra}' extra: pip install 'billfold[{missing.extra}]'.",
        context_settings={
            "allow_extra_args": True,
            "ignore_unknown_options": True,
            "help_option_names": [],
        },
    )
    def _refuse() -> None:
        raise missing


for _module, _name in SUBAPPS:
    try:
        app.add_typer(importlib.import_module(_module).app, name=_name)
    except MissingExtra as exc:  # e.g. `serve` without the server extra
        _needs_extra(_name, exc)
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a module is absent
        if exc.name != _module:
            raise

err = Console(stderr=True)
out = Console()


def cli_log_level(verbose: int) -> str:
    """A command logs warnings and errors only, unless ``-v`` (info) or ``-vv`` (debug) or
    BILLFOLD_LOG_LEVEL says otherwise; ``billfold serve``'s workers log at info by default."""
    if verbose:
        return "DEBUG" if verbose > 1 else "INFO"
    return os.environ.get("BILLFOLD_LOG_LEVEL") or "WARNING"


def _engine(url: str | None) -> Engine:
    return connect(url)  # a database not migrated to this billfold exits 1, saying so


def _fail(exc: BillfoldError) -> None:
    err.print(f"[red]error:[/red] {exc.message}", highlight=False)
    raise typer.Exit(1)


@app.callback()
def _main(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="Log what the command does (-v: info, -vv: debug); "
            "otherwise only warnings and errors (or BILLFOLD_LOG_LEVEL)",
        ),
    ] = 0,
) -> None:
    configure_logging(level=cli_log_level(verbose))


@db_app.command("upgrade")
def db_upgrade(database_url: DbUrl = None, revision: str = "heads") -> None:
    """Run the migrations up to REVISION (default: the newest)."""
    engine = make_engine(database_url_from_env(database_url))
    try:
        migrate.upgrade(engine, revision)
    except BillfoldError as exc:  # a row the new rules refuse: named, nothing changed
        _fail(exc)
    out.print(f"database at revision {migrate.current(engine)}")


@db_app.command("current")
def db_current(database_url: DbUrl = None) -> None:
    """Print the database's migration revision."""
    out.print(migrate.current(make_engine(database_url_from_env(database_url))) or "(empty)")


@billers_app.command("create")
def billers_create(
    code: str,
    name: str,
    kind: Annotated[BillerKind, typer.Option(help="What kind of biller")],
    timezone: str = "Asia/Shanghai",
    database_url: DbUrl = None,
) -> None:
    """Create a biller."""
    try:
        biller = _engine(database_url).create_biller(
            Biller(code=code, name=name, kind=kind, timezone=timezone), actor="cli"
        )
    except BillfoldError as exc:
        _fail(exc)
        return
    out.print(f"created biller {biller.code} ({biller.name})")


@billers_app.command("list")
def billers_list(database_url: DbUrl = None) -> None:
    """List billers."""
    table = Table("code", "name", "kind", "status", "timezone")
    for b in _engine(database_url).billers():
        table.add_row(b.code, b.name, b.kind.value, b.status.value, b.timezone)
    out.print(table)


@billers_app.command("limits")
def billers_limits(
    code: str,
    by: Annotated[str, typer.Option("--by", help="Who changes them, for the audit log")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit log")],
    single: Annotated[str | None, typer.Option(help="Per payment, yuan")] = None,
    daily: Annotated[str | None, typer.Option(help="Per business date, yuan")] = None,
    monthly: Annotated[str | None, typer.Option(help="Per calendar month, yuan")] = None,
    database_url: DbUrl = None,
) -> None:
    """Set a biller's limits (an option left out: no limit). With maker-checker on for
    ``biller.limits`` (the default) this proposes the change for a second person."""
    fen = {
        name: yuan_option(text, f"--{name}") if text is not None else None
        for name, text in (("single", single), ("daily", daily), ("monthly", monthly))
    }
    engine = _engine(database_url)
    try:
        limits = Limits(fen["single"], fen["daily"], fen["monthly"])
        payload = {
            "biller": code, "single_payment_fen": limits.single_payment_fen,
            "daily_fen": limits.daily_fen, "monthly_fen": limits.monthly_fen, "reason": reason,
            "by": by,
        }  # fmt: skip
        proposal = MakerChecker(engine).gate(
            "biller.limits", payload, maker=cli_identity(by), reason=reason, biller_code=code
        )
        if proposal is not None:
            print_proposal(proposal)
            return
        engine.set_limits(code, limits, actor=by, reason=reason)
    except BillfoldError as exc:
        _fail(exc)
    out.print(f"limits of {code} set")


@billers_app.command("lookup-check")
def billers_lookup_check(
    code: str,
    check: Annotated[
        LookupCheck,
        typer.Argument(
            help="What the payer pages ask besides the 户号/学号: none, name_last_char "
            "(the payer's name or its last character) or name (the whole name)"
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log)")],
    database_url: DbUrl = None,
) -> None:
    """Set what a payer must give, besides the identifier, to see a biller's bills."""
    try:
        biller = _engine(database_url).set_lookup_check(code, check, actor="cli", reason=reason)
    except BillfoldError as exc:
        _fail(exc)
        return
    out.print(f"biller {biller.code}: lookup check {biller.lookup_check.value}", highlight=False)


@bills_app.command("import")
def bills_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    biller: Annotated[str, typer.Option(help="The biller's code")],
    mode: Annotated[str, typer.Option(help="all-or-nothing | valid-lines")] = "all-or-nothing",
    encoding: Annotated[str, typer.Option(help="auto | utf-8 | gbk")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse unknown columns instead of ignoring them")
    ] = False,
    database_url: DbUrl = None,
) -> None:
    """Import bills from a CSV (UTF-8 or GBK; comma, tab or semicolon) or XLSX file."""
    data = file.read_bytes()
    engine = _engine(database_url)
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("import", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = engine.import_bills(
                biller,
                data,
                file_name=file.name,
                encoding=encoding,
                mode=mode,
                progress=progress,
                strict=strict,
            )
        except ImportFailed as exc:
            err.print(f"[red]rejected:[/red] {exc.message}", highlight=False)
            for line in exc.errors:
                err.print(f"  {file.name}: {line}", highlight=False, markup=False)
            raise typer.Exit(1) from None
        except BillfoldError as exc:
            _fail(exc)
            return
    summary = {
        "file": file.name,
        "created": report.created,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "errors": [str(e) for e in report.errors],
        "warnings": [str(w) for w in report.warnings],
        "changes": [str(c) for c in report.changes],
    }
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        out.print(
            f"{file.name}: {report.created} created, {report.unchanged} unchanged, "
            f"{report.rejected} rejected",
            highlight=False,
        )
        for e in [*report.warnings, *report.changes, *report.errors]:
            err.print(f"  {file.name}: {e}", highlight=False, markup=False)
    if report.errors:
        raise typer.Exit(1)


@app.command("demo")
def demo(
    database_url: DbUrl = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where exports are written")] = Path("out"),
    serve: Annotated[bool, typer.Option(help="Then serve the demo cashier until Ctrl-C")] = False,
    host: Annotated[str, typer.Option(help="Interface for --serve")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port for --serve")] = 8000,
) -> None:
    """Run the end-to-end demo on a database (safe to rerun; needs the 'all' extra)."""
    with requires_extra("all"):  # it prints QR signs, writes XLSX reports and may serve
        import fastapi  # noqa: F401
        import openpyxl  # noqa: F401
        import qrcode  # noqa: F401

        from billfold.demo.run import run_demo
        from billfold.demo.serve import serve_demo

    url = database_url_from_env(database_url or "sqlite:///billfold-demo.db")
    try:
        run_demo(url, out_dir, out)
        if serve:
            serve_demo(url, host, port, out)
    except BillfoldError as exc:
        _fail(exc)
