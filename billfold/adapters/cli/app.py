"""The ``billfold`` command line.

Starting fast: ``billfold --help`` and every command's start import only typer and light
billfold modules. The command groups living in their own modules (:data:`SUBAPPS`) are
imported when one of them runs — ``billfold --help`` lists them from the short help kept
here — and the commands import the database layer, HTTP, XLSX and QR libraries inside their
bodies. Help is click's plain layout (``rich_markup_mode=None`` on the root, which typer
passes to every group): typer's rich panels imported rich, markdown-it and Pygments (~0.16 s
of CPU) for every ``--help``. ``tests/e2e/test_cli_startup.py`` counts what ``--help``
imports.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from billfold.adapters.cli.bills import app as bills_app
from billfold.adapters.cli.common import DbUrl, connect, yuan_option
from billfold.adapters.cli.entry import main
from billfold.adapters.cli.output import err, out
from billfold.errors import BillfoldError, ImportFailed
from billfold.extras import MissingExtra, requires_extra
from billfold.merchants.biller import BillerKind, LookupCheck
from billfold.text import first_control_character

if TYPE_CHECKING:
    from billfold.engine import Engine

__all__ = ["SUBAPPS", "app", "main"]


class SubApp(NamedTuple):
    """A command group in its own module, imported when it runs."""

    name: str
    module: str
    help: str
    #: The extra its module needs, if one (the help says so when it is not installed).
    extra: str | None = None


#: The command groups living in their own modules, with the help ``billfold --help`` shows
#: for them (the same as their Typer's help: a test compares them).
SUBAPPS = [
    SubApp("channel", "billfold.adapters.cli.channel",
           "Channel tools: verify saved WeChat Pay and Alipay notifications; forget old nonces."),
    SubApp("statement", "billfold.adapters.cli.statement",
           "Parse channel bills and bank statements into normalized lines."),
    SubApp("outbox", "billfold.adapters.cli.outbox",
           "Webhook outbox: deliver events to billers' endpoints; manage endpoints and dead "
           "deliveries."),
    SubApp("qr", "billfold.adapters.cli.qr",
           "Aggregated QR codes (EMV MPM): encode and decode payloads."),
    SubApp("autodebit", "billfold.adapters.cli.autodebit",
           "Auto-debit (签约代扣): pre-debit notices, the scheduled debit run, mandates. Debits "
           "go to the sandbox bank (no real bank connector is configured in this build), so no "
           "real account is ever debited."),
    SubApp("reconcile", "billfold.adapters.cli.reconcile",
           "Reconcile channel and bank statements; resolve discrepancies."),
    SubApp("settle", "billfold.adapters.cli.settle",
           "Settlement batches: what each biller is paid, and the payout file."),
    SubApp("export", "billfold.adapters.cli.export",
           "Export reports: reconciliation, discrepancies, settlement."),
    SubApp("serve", "billfold.adapters.cli.serve",
           "The HTTP API (FastAPI + uvicorn) and its API keys.", "server"),
    SubApp("campus", "billfold.adapters.cli.campus",
           "Campus tuition: roster import, waivers, withdrawals, bursar reports."),
    SubApp("utility", "billfold.adapters.cli.utility",
           "Utilities: arrears files in, top-ups, collection files out."),
    SubApp("gov", "billfold.adapters.cli.gov",
           "Government fees: fee catalogues, fines by decision number, receipts."),
    SubApp("receipts", "billfold.adapters.cli.receipts",
           "Payment receipts as PDF or a printable page, with a verification QR."),
    SubApp("presale", "billfold.adapters.cli.presale",
           "Presale-fund supervision: projects, contracts, escrow, bureau pushes."),
    SubApp("refunds", "billfold.adapters.cli.refunds",
           "Refunds: list, show, confirm a counter refund paid in cash, refunds by bank "
           "transfer."),
    SubApp("orders", "billfold.adapters.cli.orders",
           "Orders: list and search, show one with its lines, cancel one not yet being paid."),
    SubApp("payments", "billfold.adapters.cli.payments", "Payments: list and search, show one."),
    SubApp("suspense", "billfold.adapters.cli.suspense",
           "Suspense and held money: why it is there, its refund, what is left to do."),
    SubApp("audit", "billfold.adapters.cli.audit", "The audit log: who did what, when and why."),
    SubApp("users", "billfold.adapters.cli.users",
           "Back-office users (the web console's logins) and their roles.", "server"),
    SubApp("approvals", "billfold.adapters.cli.approvals",
           "Maker-checker: what waits for a second person; approve, reject, policy."),
    SubApp("complaints", "billfold.adapters.cli.complaints",
           "Complaints (投诉/查询): open, work and follow them."),
    SubApp("worker", "billfold.adapters.cli.worker",
           "Run the background duties: outbox, expiry, requery, auto-debit, ..."),
    SubApp("journal", "billfold.adapters.cli.journal",
           "The journal's hash chains: seal, verify, export."),
    SubApp("remind", "billfold.adapters.cli.remind",
           "Payer reminders by SMS or WeChat: settings, remind bills, opt-outs, send."),
]  # fmt: skip
_BY_NAME = {sub.name: sub for sub in SUBAPPS}
_REST = "billfold.cli.rest"
#: Libraries whose absence means an extra is not installed (looked up, not imported).
_PROBES = {"server": ("fastapi", "starlette", "uvicorn")}


def _listed_help(sub: SubApp) -> str:
    """What ``billfold --help`` says of a group: its help, or the extra it is missing."""
    if sub.extra is not None and any(find_spec(m) is None for m in _PROBES[sub.extra]):
        return f"Needs the '{sub.extra}' extra: pip install 'billfold[{sub.extra}]'."
    return sub.help


def _refusal(name: str, missing: MissingExtra) -> typer.Typer:
    """A command ``name`` that only says which extra it needs (exit 2 in main)."""
    refusal = typer.Typer(rich_markup_mode=None)

    @refusal.command(
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

    @refusal.command("-", hidden=True)  # two commands: typer keeps ``name`` a sub-command
    def _unused() -> None:  # pragma: no cover - never listed, never run
        raise missing

    return refusal


def _plain_process_value(param: Any, ctx: Any, value: Any) -> Any:
    """A parameter's value that needs no conversion — the default ``None``, a ``-v`` count,
    a plain text for a ``str`` parameter, a default already of the parameter's plain type —
    passes as it is. Typer would validate it through pydantic, and import pydantic (~0.04 s
    of CPU, more on a loaded machine) to do so: for a group's options even when the command
    line only asks a sub-command for its ``--help``, for a command's ``--database-url`` or
    its codes. Any other value is converted as before; a required one left out is refused
    as before."""
    if not _plain(param, value) or (value is None and param.required):
        return super(type(param), param).process_value(ctx, value)
    if value is None and (param.multiple or param.nargs == -1):
        value = ()  # what typer makes of a repeatable option not given
    if param.callback is not None:
        value = param.callback(ctx, param, value)
    return value


class _PlainOption(TyperOption):
    """An option whose plain value passes unconverted (:func:`_plain_process_value`)."""

    process_value = _plain_process_value


class _PlainArgument(TyperArgument):
    """An argument whose plain value passes unconverted (:func:`_plain_process_value`)."""

    process_value = _plain_process_value


_PLAIN_CLASSES: dict[type[Any], Any] = {TyperOption: _PlainOption, TyperArgument: _PlainArgument}


def _plain(option: Any, value: Any) -> bool:
    """Whether typer's conversion would give ``value`` back unchanged."""
    if value is None:
        return True
    if getattr(option, "count", False):
        return type(value) is int
    described: Any = getattr(option, "type_descriptor", None)
    info = getattr(described, "parameter_info", None)
    kind = type(value)
    if info is None or info.parser is not None or kind not in (str, int, float):
        return False
    if described.annotation is not kind:
        return False
    low, high = info.min, info.max
    if kind is str:
        return low is None and high is None
    return (low is None or value >= low) and (high is None or value <= high)


class _PlainGroup(TyperGroup):
    """A command group whose options, ``--help`` included, are :class:`_PlainOption`, as are
    its commands' options and arguments (:class:`_PlainArgument`), and
    whose help lists each command with the whole first paragraph of its help (click cuts it
    to the width left, ending in "...")."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if _CONVERTS and type(option) is TyperOption:
            option.__class__ = _PlainOption
        return option

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name``, its options and arguments :class:`_Plain` (the command
        that runs is found here)."""
        command = super().get_command(ctx, cmd_name)
        if _CONVERTS and isinstance(command, TyperCommand):
            _plain_command(command)
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, _summary(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _plain_help_option(command: Any, ctx: Any) -> Any:
    option = super(type(command), command).get_help_option(ctx)
    if type(option) is TyperOption:
        option.__class__ = _PlainOption
    return option


#: Each command class, and its subclass whose ``--help`` option is a :class:`_PlainOption`.
_PLAIN_COMMANDS: dict[type[Any], type[Any]] = {}


def _plain_command(command: TyperCommand) -> None:
    """``command``'s options and arguments, and its ``--help``, :func:`_plain_process_value`."""
    kind = type(command)
    if kind not in _PLAIN_COMMANDS.values():
        plain = _PLAIN_COMMANDS.get(kind)
        if plain is None:
            body = {"get_help_option": _plain_help_option, "__doc__": kind.__doc__}
            plain = _PLAIN_COMMANDS[kind] = type(kind.__name__, (kind,), body)
        command.__class__ = plain
    for param in command.params:
        plain_param = _PLAIN_CLASSES.get(type(param))
        if plain_param is not None:
            param.__class__ = plain_param


def _summary(command: Any) -> str:
    """What a group's help says of one of its commands: its short help, else the first
    paragraph of its help, on one line."""
    text = inspect.cleandoc(command.short_help or command.help or "").partition("\f")[0]
    return " ".join(text.split("\n\n")[0].split())


#: Whether this typer converts values through pydantic (typer 0.2x) rather than click.
_CONVERTS = hasattr(TyperOption, "get_runtime_param")


def _plain_options(group: Any) -> Any:
    """``group`` and the groups under it as :class:`_PlainGroup`, with :class:`_PlainOption`
    options (a command's are made plain when it is looked up to run)."""
    if type(group) is TyperGroup:
        group.__class__ = _PlainGroup
    for param in group.params if _CONVERTS else ():
        if type(param) is TyperOption:
            param.__class__ = _PlainOption
    for sub in getattr(group, "commands", {}).values():  # a refusal is a command
        if hasattr(sub, "commands"):
            _plain_options(sub)
    return group


class _Root(_PlainGroup):
    """The root group: its command groups are imported when one of them runs; its help
    lists them without importing them. No option or argument may carry a control character
    into the database (NUL fails on PostgreSQL and is stored by SQLite): the command line is
    refused before any command runs, naming the argument."""

    listing = False

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        for arg in args:
            found = first_control_character(arg)
            if found is not None:
                ctx.fail(f"argument {arg[:40]!r} contains a control character ({found})")
        _plain_options(self)  # typer adds its completion options after __init__
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(sub.name for sub in SUBAPPS)]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False

    def invoke(self, ctx: Any) -> Any:
        # the arguments after the root's options, kept before click clears them (click 8.2
        # made ``protected_args`` private): the callback skips logging for ``X --help``
        named = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
        ctx.meta[_REST] = (*named, *ctx.args)
        return super().invoke(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        sub = _BY_NAME.get(cmd_name)
        if found is not None or sub is None:
            return found
        if self.listing:  # the root's help: name and help, the module stays unimported
            return TyperGroup(name=sub.name, help=_listed_help(sub), rich_markup_mode=None)
        try:
            module_app: typer.Typer = importlib.import_module(sub.module).app
        except MissingExtra as exc:  # e.g. `serve` without the server extra
            module_app = _refusal(sub.name, exc)
            wrapper = module_app
        else:
            wrapper = typer.Typer(rich_markup_mode=None)
            wrapper.add_typer(module_app, name=sub.name)
        loaded = typer.main.get_group(wrapper).get_command(ctx, sub.name)
        if loaded is not None:
            self.add_command(_plain_options(loaded), sub.name)
        return loaded


app = typer.Typer(
    cls=_Root,
    rich_markup_mode=None,  # click's plain help, for every group (see the module's docstring)
    help="billfold: bill collection, payments, reconciliation and settlement.",
)
db_app = typer.Typer(help="Database schema (Alembic migrations).")
billers_app = typer.Typer(help="Billers: schools, utilities, offices, developers, stalls.")
app.add_typer(db_app, name="db")
app.add_typer(billers_app, name="billers")
app.add_typer(bills_app, name="bills")


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
    ctx: typer.Context,
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
    if "--help" in ctx.meta.get(_REST, ()):
        return  # the command only prints its help: nothing to log, structlog not needed
    from billfold.logging import configure_logging_when_used

    # on the first record: a command that logs nothing imports no structlog
    configure_logging_when_used(level=cli_log_level(verbose))


@db_app.command("upgrade")
def db_upgrade(database_url: DbUrl = None, revision: str = "heads") -> None:
    """Run the migrations up to REVISION (default: the newest)."""
    from billfold.adapters.db import migrate
    from billfold.adapters.db.connect import database_url_from_env, make_engine

    engine = make_engine(database_url_from_env(database_url))
    try:
        migrate.upgrade(engine, revision)
    except BillfoldError as exc:  # a row the new rules refuse: named, nothing changed
        _fail(exc)
    out.print(f"database at revision {migrate.current(engine)}")


@db_app.command("current")
def db_current(database_url: DbUrl = None) -> None:
    """Print the database's migration revision."""
    from billfold.adapters.db import migrate
    from billfold.adapters.db.connect import database_url_from_env, make_engine

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
    from billfold.merchants.biller import Biller

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
    from rich.table import Table

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
    from billfold.adapters.cli.approvals import cli_identity, print_proposal
    from billfold.maker_checker import MakerChecker
    from billfold.merchants.biller import Limits

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
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

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

    from billfold.adapters.db.connect import database_url_from_env

    url = database_url_from_env(database_url or "sqlite:///billfold-demo.db")
    try:
        run_demo(url, out_dir, out)
        if serve:
            serve_demo(url, host, port, out)
    except BillfoldError as exc:
        _fail(exc)
