"""``billfold statement``: parse a channel bill or bank statement into normalized lines.

``billfold statement parse FILE --format FORMAT [--json]`` streams the file: each line
is printed as soon as it is parsed. With ``--json`` the output is **JSON Lines** (one
JSON object per line, no surrounding array), so it can be piped and never needs the
whole file in memory. Problems go to stderr as ``file:line: field: message``; the exit
code is 1 when any line was rejected or quarantined (0 otherwise, 2 for usage errors).
For camt files ``line`` is the ordinal of the ``Ntry`` element. A line read although it
departs from its format's spec lists the ``deviations`` (in JSON; ``!`` marks it otherwise).

``billfold statement presets [--show NAME]`` lists the bank-export mappings shipped for
``--format generic-csv --preset NAME``.

A progress bar (by bytes read) is drawn on stderr when it is a terminal and the file
is larger than 1 MiB.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from billfold.clock import DEFAULT_TZ
from billfold.errors import BillfoldError
from billfold.money import format_yuan

if TYPE_CHECKING:  # rich is imported when a command draws its bar
    from rich.progress import Progress

    from billfold.settlement.parsers import StatementReader
    from billfold.settlement.statement import StatementLine

__all__ = ["app", "read_with_progress"]

PROGRESS_THRESHOLD = 1024 * 1024

app = typer.Typer(
    help="Parse channel bills and bank statements into normalized lines.",
    no_args_is_help=True,
)


class StatementFormat(enum.StrEnum):
    GENERIC_CSV = "generic-csv"
    ALIPAY = "alipay"
    WECHATPAY = "wechatpay"
    CAMT053 = "camt053"
    CAMT054 = "camt054"
    MT940 = "mt940"


class OnErrorMode(enum.StrEnum):
    REJECT = "reject"
    QUARANTINE = "quarantine"


@app.callback()
def statement() -> None:
    """Statement files: channel bills (Alipay, WeChat Pay, CSV) and bank statements."""


def read_with_progress(handle: BinaryIO, advance: Callable[[int], object]) -> Iterator[bytes]:
    """Yield ``handle``'s bytes in chunks, reporting each chunk's size to ``advance``."""
    from billfold.settlement.encoding import CHUNK_SIZE

    while chunk := handle.read(CHUNK_SIZE):
        advance(len(chunk))
        yield chunk


def _human(line: StatementLine) -> str:
    parts = [
        f"{line.source_line}",
        line.occurred_at.isoformat().replace("+00:00", "Z"),
        str(line.type),
        str(line.status),
        str(line.direction),
        f"{format_yuan(line.amount_fen)} {line.currency}",
        line.channel_txn_id,
        line.order_no or "-",
    ]
    if line.deviations:
        parts.append("! " + "; ".join(line.deviations))
    return "\t".join(parts)


def _json(line: StatementLine) -> str:
    return json.dumps(line.to_json(), ensure_ascii=False)


def _report(reader: StatementReader, printed: int) -> int:
    """Print the quarantined errors not printed yet; returns how many are printed now."""
    for error in reader.errors[printed:]:
        typer.echo(str(error), err=True)
    return len(reader.errors)


def _load_mapping(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"{path}: mapping: cannot read JSON: {exc}", err=True)
        raise typer.Exit(1) from None
    if not isinstance(loaded, dict):
        typer.echo(f"{path}: mapping: expected a JSON object", err=True)
        raise typer.Exit(1)
    return loaded


@app.command("parse")
def parse_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="statement file")
    ],
    format: Annotated[StatementFormat, typer.Option("--format", "-f", help="file format")],
    channel: Annotated[
        str | None, typer.Option(help="channel name on every line (default: per format)")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="utf-8 or gbk (default: detect)")] = None,
    on_error: Annotated[
        OnErrorMode, typer.Option("--on-error", help="reject the file, or quarantine bad lines")
    ] = OnErrorMode.REJECT,
    mapping: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="column mapping JSON (generic-csv)"),
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="a shipped bank-export mapping (generic-csv)")
    ] = None,
    tz: Annotated[str, typer.Option(help="time zone of times written without one")] = DEFAULT_TZ,
    json_output: Annotated[
        bool, typer.Option("--json", help="print JSON Lines (one object per line)")
    ] = False,
) -> None:
    """Parse FILE and print its normalized lines; problems go to stderr."""
    from billfold.settlement.parsers import parse
    from billfold.settlement.statement import StatementError

    column_map = _column_map(format, mapping, preset)
    size = file.stat().st_size
    progress = _progress_bar(show=sys.stderr.isatty() and size >= PROGRESS_THRESHOLD)
    failed = False
    with file.open("rb") as handle, progress:
        task = progress.add_task(file.name, total=size)
        chunks = read_with_progress(handle, lambda n: progress.advance(task, n))
        reader: StatementReader | None = None
        printed = 0
        try:
            reader = parse(
                chunks,
                str(format),
                channel=channel,
                source_file=str(file),
                on_error="quarantine" if on_error is OnErrorMode.QUARANTINE else "reject",
                encoding=encoding,
                column_map=column_map,
                tz=tz,
            )
            for line in reader:
                printed = _report(reader, printed)
                typer.echo(_json(line) if json_output else _human(line))
        except StatementError as exc:
            for error in exc.errors:
                typer.echo(str(error), err=True)
            failed = True
        except BillfoldError as exc:
            typer.echo(f"{file}: {exc.message}", err=True)
            failed = True
        if reader is not None:
            _report(reader, printed)
            failed = failed or bool(reader.errors)
            if reader.errors:
                typer.echo(
                    f"{file}: {reader.line_count} lines, {len(reader.errors)} quarantined",
                    err=True,
                )
    if failed:
        raise typer.Exit(1)


def _column_map(
    format: StatementFormat, mapping: Path | None, preset: str | None
) -> dict[str, Any] | None:
    """The generic-csv column mapping from --mapping or --preset; exits 2 on a misuse."""
    from billfold.settlement.parsers.presets import load_preset

    if preset is None:
        return _load_mapping(mapping) if mapping is not None else None
    if mapping is not None or format is not StatementFormat.GENERIC_CSV:
        typer.echo("--preset goes with --format generic-csv and without --mapping", err=True)
        raise typer.Exit(2)
    try:
        return load_preset(preset)
    except BillfoldError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(2) from None


def _progress_bar(*, show: bool) -> Progress:
    """A progress bar on stderr for a large file read at a terminal (hidden otherwise)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not show,
    )


@app.command("presets")
def presets_command(
    show: Annotated[str | None, typer.Option(help="print this preset's mapping JSON")] = None,
) -> None:
    """List the bank-export mappings shipped for --format generic-csv --preset NAME."""
    from billfold.settlement.parsers.presets import load_preset, preset_names

    if show is not None:
        try:
            typer.echo(json.dumps(load_preset(show), ensure_ascii=False, indent=2))
        except BillfoldError as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(2) from None
        return
    for name in preset_names():
        typer.echo(f"{name}\t{load_preset(name).get('title', '')}")
