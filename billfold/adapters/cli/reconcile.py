"""``billfold reconcile``: reconcile statements, work the discrepancies, watch money in transit.

* ``billfold reconcile run FILE --format wechatpay --date 2026-09-01`` — a channel's bill
  against the engine (a progress bar on stderr for big files);
* ``billfold reconcile bank FILE --format camt053 --date 2026-09-02`` — the bank statement
  against the nets the channels promised;
* ``billfold reconcile runs`` / ``discrepancies`` / ``resolve ID --action … --by … --reason …``;
* ``billfold reconcile ask ID --channels myapp.billing:channels --by …`` — T+0: ask the channel
  about an engine-only (短款) payment before anyone reverses it;
* ``billfold reconcile transit`` — money in transit (在途资金) by channel and age;
* ``billfold reconcile requery --channels myapp.billing:channels`` — T+0: ask the channels
  about orders stuck in "paying", and settle their fate through the engine's confirm.

Exit codes: 0 done, 1 refused (the message says why), 2 usage errors.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from billfold.adapters.cli.approvals import cli_identity, print_proposal
from billfold.adapters.cli.common import DbUrl, connect
from billfold.adapters.cli.output import console
from billfold.adapters.cli.recon_report import (
    WIDTH,
    discrepancy_json,
    out,
    print_discrepancies,
    print_result,
)
from billfold.errors import BillfoldError, ConfigurationError, InvariantViolated
from billfold.labels import label
from billfold.money import format_yuan, parse_yuan
from billfold.settlement.discrepancy import Action

if TYPE_CHECKING:  # the engine is imported when a command opens it, rich when it prints
    from rich.progress import Progress, TaskID

    from billfold.engine import Engine

if TYPE_CHECKING:
    from billfold.channels.base import Channel
    from billfold.collection.approval import Approval
    from billfold.settlement.discrepancy import DiscrepancyStatus
    from billfold.settlement.statement import StatementError

__all__ = ["WIDTH", "DbUrl", "app", "fail", "open_engine", "parse_day"]

app = typer.Typer(help="Reconcile channel and bank statements; resolve discrepancies.")
err = console(stderr=True, highlight=False, soft_wrap=True)
PROGRESS_THRESHOLD = 1024 * 1024


def open_engine(url: str | None) -> Engine:
    """The engine for ``reconcile``, ``settle`` and ``export``; a database that is not
    migrated exits 1 with one line, saying what to run."""
    return connect(url)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", markup=True)
    raise typer.Exit(code)


def parse_day(text: str | None, what: str = "--date") -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{what}: {text!r} is not a date like 2026-09-01", 2)


def _day(text: str, what: str = "--date") -> date:
    found = parse_day(text, what)
    if found is None:
        raise InvariantViolated("found is missing")
    return found


def _progress(size: int) -> Progress:
    """A bar drawn when progress is reported, with no refresh thread of its own (a big
    statement is parsed by forked workers, and billfold forks only a single-threaded
    process)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        auto_refresh=False,
        disable=not (sys.stderr.isatty() and size >= PROGRESS_THRESHOLD),
    )


def _advance(bar: Progress, task: TaskID) -> Callable[[int], None]:
    def advance(count: int) -> None:
        bar.advance(task, count)
        bar.refresh()

    return advance


def _mapping(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"--mapping {path}: cannot read JSON: {exc}", 2)
    if not isinstance(loaded, dict):
        fail(f"--mapping {path}: expected a JSON object", 2)
    return loaded


def _statement_failed(exc: StatementError) -> NoReturn:
    for error in exc.errors:
        err.print(str(error), markup=False)
    raise typer.Exit(1)


File = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


@app.command("run")
def run_command(
    file: File,
    format: Annotated[str, typer.Option("--format", "-f", help="wechatpay, alipay, generic-csv")],
    day: Annotated[str, typer.Option("--date", help="business date the statement covers")],
    channel: Annotated[str | None, typer.Option(help="channel (default: per format)")] = None,
    merchant: Annotated[
        str | None, typer.Option(help="merchant id (default: from the file, if one biller has it)")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="generic-csv column mapping")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="utf-8 or gbk (default: detect)")] = None,
    fees: Annotated[
        bool | None, typer.Option("--fees/--no-fees", help="compare fees with the fee schedule")
    ] = None,
    reject: Annotated[
        bool, typer.Option("--reject", help="refuse the file on a bad line (default: keep it)")
    ] = False,
    by: Annotated[str, typer.Option(help="who runs it (audited)")] = "cli",
    reason: Annotated[str, typer.Option(help="why, when it replaces an earlier file")] = "",
    auto: Annotated[bool, typer.Option("--auto/--no-auto", help="resolve the common case")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    database_url: DbUrl = None,
) -> None:
    """Reconcile a channel's statement FILE for one business date."""
    from billfold.settlement.parsers import PARSERS
    from billfold.settlement.reconciler import Reconciler
    from billfold.settlement.statement import StatementError

    if format not in PARSERS:
        fail(f"--format: unknown format {format!r}; known: {', '.join(sorted(PARSERS))}", 2)
    business = _day(day)
    column_map = _mapping(mapping)
    recon = Reconciler(open_engine(database_url))
    size = file.stat().st_size
    with _progress(size) as bar:
        task = bar.add_task(file.name, total=size)
        try:
            result = recon.reconcile(
                file,
                format=format,
                business_date=business,
                channel=channel,
                merchant_id=merchant,
                column_map=column_map,
                encoding=encoding,
                check_fees=fees,
                on_error="reject" if reject else "quarantine",
                actor=by,
                reason=reason,
                auto_resolve=auto,
                progress=_advance(bar, task),
            )
        except StatementError as exc:
            _statement_failed(exc)
        except BillfoldError as exc:
            fail(exc.message)
    print_result(result, as_json)


@app.command("bank")
def bank_command(
    file: File,
    format: Annotated[str, typer.Option("--format", "-f", help="camt053, camt054 or mt940")],
    day: Annotated[str, typer.Option("--date", help="the statement's date")],
    route: Annotated[
        list[str] | None,
        typer.Option(help="CHANNEL=TEXT: credits whose payer or text has TEXT are CHANNEL's"),
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="for GBK statements")] = None,
    by: Annotated[str, typer.Option(help="who runs it (audited)")] = "cli",
    reason: Annotated[str, typer.Option(help="why, when it replaces an earlier file")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    database_url: DbUrl = None,
) -> None:
    """Match the channels' credits on a bank statement to the nets they promised."""
    from billfold.settlement.banking import DEFAULT_ROUTES, parse_route
    from billfold.settlement.reconciler import Reconciler
    from billfold.settlement.statement import StatementError

    business = _day(day)
    try:
        routes = [parse_route(r) for r in route or []] + list(DEFAULT_ROUTES)
        result = Reconciler(open_engine(database_url)).reconcile_bank(
            file,
            format=format,
            business_date=business,
            routes=routes,
            encoding=encoding,
            actor=by,
            reason=reason,
        )
    except StatementError as exc:
        _statement_failed(exc)
    except BillfoldError as exc:
        fail(exc.message)
    print_result(result, as_json)


@app.command("runs")
def runs_command(
    day: Annotated[str | None, typer.Option("--date", help="only this business date")] = None,
    channel: Annotated[str | None, typer.Option(help="only this channel")] = None,
    history: Annotated[bool, typer.Option("--all", help="superseded runs too")] = False,
    database_url: DbUrl = None,
) -> None:
    """List reconciliation runs."""
    from rich.table import Table

    from billfold.settlement.reconciler import Reconciler

    runs = Reconciler(open_engine(database_url)).runs(
        channel=channel, business_date=parse_day(day), current_only=not history
    )
    table = Table("编号", "对账范围", "版本", "状态", "文件", "应结净额", "匹配笔数", "差错笔数")
    for r in runs:
        table.add_row(
            str(r.id),
            r.slot,
            str(r.revision),
            label("run_status", r.status),
            r.file_name,
            format_yuan(r.totals.net_fen),
            str(r.matched_count),
            str(r.discrepancy_count),
        )
    out.print(table)


def _status(text: str) -> DiscrepancyStatus | None:
    from billfold.settlement.discrepancy import DiscrepancyStatus

    if text == "all":
        return None
    try:
        return DiscrepancyStatus(text)
    except ValueError:
        fail(f"--status: {text!r}; use open, resolved, superseded or all", 2)


@app.command("discrepancies")
def discrepancies_command(
    run: Annotated[int | None, typer.Option(help="only this run")] = None,
    status: Annotated[str, typer.Option(help="open, resolved, superseded or all")] = "open",
    code: Annotated[str | None, typer.Option(help="only this code, e.g. channel_only")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON Lines")] = False,
    database_url: DbUrl = None,
) -> None:
    """List discrepancies (open ones by default)."""
    from billfold.settlement.discrepancy import Code
    from billfold.settlement.reconciler import Reconciler

    try:
        wanted = Code(code) if code else None
    except ValueError:
        fail(f"--code: unknown code {code!r}; known: {', '.join(c.value for c in Code)}", 2)
    recon = Reconciler(open_engine(database_url))
    found = recon.discrepancies(run_id=run, status=_status(status), code=wanted)
    if as_json:
        for d in found:
            advised = [a.value for a in recon.advice(d.id)] if d.id and d.is_open else []
            typer.echo(json.dumps(discrepancy_json(d) | {"advised": advised}, ensure_ascii=False))
        return
    print_discrepancies(found)
    out.print(f"{len(found)} discrepancies")


@app.command("resolve")
def resolve_command(
    discrepancy: Annotated[int, typer.Argument(help="discrepancy id")],
    action: Annotated[str, typer.Option(help=", ".join(a.value for a in Action))],
    by: Annotated[str, typer.Option(help="who resolves it")],
    reason: Annotated[str, typer.Option(help="why")],
    amount: Annotated[str | None, typer.Option(help="refund amount in yuan (refund)")] = None,
    request_id: Annotated[
        str | None,
        typer.Option(help="makes a repeat harmless: the same id again prints the resolution"),
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Resolve a discrepancy with an action (recorded with who, when and why)."""
    from billfold.settlement.reconciler import Reconciler

    try:
        chosen = Action(action.replace("-", "_"))
    except ValueError:
        fail(f"--action: unknown action {action!r}; known: {', '.join(a.value for a in Action)}", 2)
    try:
        fen = parse_yuan(amount, field="--amount") if amount is not None else None
        engine = open_engine(database_url)
        proposal = _write_off_proposal(engine, discrepancy, chosen, by, reason, fen)
        if proposal is not None:
            print_proposal(proposal)
            return
        done = Reconciler(engine).resolve(
            discrepancy, chosen, by=by, reason=reason, amount_fen=fen, request_id=request_id
        )
    except BillfoldError as exc:
        fail(exc.message)
    out.print(
        f"discrepancy {done.id} resolved: {chosen.value} by {done.resolved_by}"
        + (f" ({done.resolution_ref})" if done.resolution_ref else "")
    )


def _write_off_proposal(
    engine: Engine, discrepancy: int, action: Action, by: str, reason: str, fen: int | None
) -> Approval | None:
    """A write-off waits for a second person when the biller's policy says so."""
    from billfold.maker_checker import MakerChecker
    from billfold.settlement.discrepancy import DiscrepancyStatus
    from billfold.settlement.reconciler import Reconciler

    if action is not Action.WRITE_OFF:
        return None
    found = Reconciler(engine).discrepancy(discrepancy)
    if found.status is not DiscrepancyStatus.OPEN:
        return None  # resolving it again answers what the resolver says
    codes = {b.id: b.code for b in engine.billers() if b.id is not None}
    payload = {"discrepancy_id": discrepancy, "reason": reason, "by": by, "amount_fen": fen}
    return MakerChecker(engine).gate(
        "discrepancy.write_off", payload, maker=cli_identity(by), reason=reason,
        biller_code=codes.get(found.biller_id) if found.biller_id is not None else None,
    )  # fmt: skip


@app.command("ask")
def ask_command(
    discrepancy: Annotated[int, typer.Argument(help="discrepancy id (an open engine_only one)")],
    by: Annotated[str, typer.Option(help="who asks (audited)")],
    channels: Annotated[
        str | None,
        typer.Option(help="MODULE:FACTORY giving the channels (default: BILLFOLD_CHANNELS)"),
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """T+0: ask the channel whether an engine-only (短款) payment exists; only a channel that
    says it does not makes the payment reversible."""
    from billfold.channels.collect import Collector
    from billfold.settlement.reconciler import Reconciler

    spec = channels or os.environ.get("BILLFOLD_CHANNELS")
    if not spec:
        fail(
            "--channels: say where the channels come from (MODULE:FACTORY or BILLFOLD_CHANNELS)", 2
        )
    engine = open_engine(database_url)
    recon = Reconciler(engine)
    try:
        found = recon.discrepancy(discrepancy)
        channel = Collector(engine, load_channels(spec, engine)).channel(found.channel)
        answer = recon.ask_channel(discrepancy, channel, by=by)
    except BillfoldError as exc:
        fail(exc.message)
    advised = ", ".join(a.value for a in recon.advice(discrepancy))
    out.print(
        f"discrepancy {discrepancy}: {found.channel} answered {answer.state} "
        f"({answer.word.value}); advised: {advised}"
    )


@app.command("transit")
def transit_command(
    as_of: Annotated[str | None, typer.Option("--as-of", help="date (default: today)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    database_url: DbUrl = None,
) -> None:
    """Money in transit (在途资金): promised by reconciled statements, not yet in the bank."""
    from rich.table import Table

    from billfold.clock import business_date
    from billfold.settlement.banking import age_bucket
    from billfold.settlement.reconciler import Reconciler

    engine = open_engine(database_url)
    day = parse_day(as_of, "--as-of") or business_date(engine.clock.now())
    waiting = Reconciler(engine).in_transit(day)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "channel": w.channel,
                        "merchant_id": w.merchant_id,
                        "business_date": w.business_date.isoformat(),
                        "amount": format_yuan(w.net_fen),
                        "age_days": w.age_days,
                        "bucket": w.bucket,
                    }
                    for w in waiting
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    table = Table("渠道", "商户号", "业务日期", "金额", "在途天数", "账龄")
    totals: dict[tuple[str, str], int] = {}
    for w in waiting:
        table.add_row(
            label("channel", w.channel),
            w.merchant_id or "*",
            w.business_date.isoformat(),
            format_yuan(w.net_fen),
            str(w.age_days),
            label("transit_age", w.bucket),
        )
        key = (w.channel, age_bucket(w.age_days))
        totals[key] = totals.get(key, 0) + w.net_fen
    out.print(table)
    for (channel, bucket), fen in sorted(totals.items()):
        out.print(f"{label('channel', channel)} {label('transit_age', bucket)}: {format_yuan(fen)}")
    out.print(f"in transit as of {day}: {format_yuan(sum(w.net_fen for w in waiting))}")


def load_channels(spec: str, engine: Engine) -> Mapping[str, Channel]:
    """``package.module:factory`` → ``factory(engine)``, a mapping of channel name to channel."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigurationError(f"--channels: {spec!r} is not MODULE:FACTORY")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"--channels: cannot load {spec!r}: {exc}") from None
    channels = factory(engine)
    if not isinstance(channels, Mapping) or not channels:
        raise ConfigurationError(f"--channels: {spec} returned no channels")
    return channels


@app.command("requery")
def requery_command(
    channels: Annotated[
        str | None,
        typer.Option(help="MODULE:FACTORY giving the channels (default: BILLFOLD_CHANNELS)"),
    ] = None,
    older_than: Annotated[int, typer.Option(help="minutes an order has been paying")] = 10,
    database_url: DbUrl = None,
) -> None:
    """T+0: ask the channels about orders stuck in "paying" and settle them the same day."""
    from billfold.channels.collect import Collector

    spec = channels or os.environ.get("BILLFOLD_CHANNELS")
    if not spec:
        fail(
            "--channels: say where the channels come from (MODULE:FACTORY or BILLFOLD_CHANNELS)", 2
        )
    if older_than < 1:
        fail(f"--older-than: must be 1 minute or more, got {older_than}", 2)
    engine = open_engine(database_url)
    try:
        collector = Collector(engine, load_channels(spec, engine))
        settled = collector.requery_stuck(timedelta(minutes=older_than))
    except BillfoldError as exc:
        fail(exc.message)
    for result in settled:
        p = result.payment
        out.print(
            f"{p.order_no}: {p.channel} {p.channel_txn_id} {format_yuan(p.amount_fen)} "
            f"{p.status.value}" + (" (already known)" if result.duplicate else "")
        )
    out.print(f"{len(settled)} orders settled by requery")
