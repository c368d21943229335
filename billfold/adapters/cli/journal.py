"""``billfold journal``: the hash-chained journal, sealed daily, verified, exported.

* ``billfold journal seal [--date D] [--biller CODE]`` — seal a business day (default:
  yesterday in each biller's timezone) of every chain with entries, or of one biller;
  the seal is kept and sent to the biller as a ``journal.sealed`` event. Sealing a day
  again prints the kept seal and sends nothing.
* ``billfold journal verify [--biller CODE] [--from DATE]`` — recompute the chains and
  seals; prints ``OK: …`` or, on stderr, the first entry altered, removed or inserted in
  each broken chain (exit 1).
* ``billfold journal export --biller CODE [--from DATE] --out FILE`` — the biller's chain
  as JSON lines (docs/journal.md), for the biller to verify on its own.

The system chain, for entries that belong to no biller, is ``--biller @system``.
Errors print ``error: <message>`` on stderr and exit 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from billfold.adapters.cli.common import DbUrl, day_option, fail, open_engine
from billfold.errors import BillfoldError

__all__ = ["app"]

app = typer.Typer(help="The journal's hash chains: seal, verify, export.", no_args_is_help=True)

BillerOpt = Annotated[
    str | None, typer.Option("--biller", help="a biller's code (@system: the system chain)")
]


@app.command("seal")
def seal_command(
    day: Annotated[
        str | None, typer.Option("--date", help="business date (default: yesterday)")
    ] = None,
    biller: BillerOpt = None,
    database_url: DbUrl = None,
) -> None:
    """Seal a business day: its last hash, entry count and totals, kept and sent."""
    from billfold.collection.sealing import chains_to_seal, seal_day, yesterday

    when = day_option(day, "--date") if day is not None else None
    with open_engine(database_url) as engine:
        for chain in chains_to_seal(engine.uow(), biller):
            sealed_day = when or yesterday(engine.uow(), engine.clock, chain)
            done = seal_day(engine.uow(), engine.clock, chain, sealed_day)
            seal = done.seal
            what = "sealed" if done.created else "already sealed"
            sent = f", event {done.event_id}" if done.event_id else ""
            typer.echo(
                f"{what} {chain} {seal.business_date}: {_entries(seal.entry_count)}, "
                f"chain at #{seal.last_seq} {seal.last_hash[:16]}…, digest "
                f"{seal.digest[:16]}…{sent}"
            )


@app.command("verify")
def verify_command(
    biller: BillerOpt = None,
    from_day: Annotated[
        str | None, typer.Option("--from", help="check entries and seals from this date on")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Recompute every chain and seal; name the first entry altered, removed or inserted."""
    from billfold.collection.verifying import verify_journal

    since = day_option(from_day, "--from") if from_day is not None else None
    with open_engine(database_url) as engine:
        report = verify_journal(engine.uow(), chain=biller, from_day=since)
    if not report.ok:
        for found in report.breaks:
            typer.echo(f"error: {found.message}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"OK: {report.chains} chains, {report.entries} entries and {report.seals} seals verified"
    )


@app.command("export")
def export_command(
    biller: Annotated[str, typer.Option("--biller", help="the biller's code")],
    out_file: Annotated[Path, typer.Option("--out", help="FILE.jsonl")],
    from_day: Annotated[
        str | None, typer.Option("--from", help="entries from this date on")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """The biller's chain as JSON lines, with hashes and seals, for the biller to verify."""
    from billfold.collection.verifying import export_journal

    since = day_option(from_day, "--from") if from_day is not None else None
    with open_engine(database_url) as engine:
        try:
            handle = out_file.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            fail(f"--out: cannot write {out_file}: {exc.strerror}")

        def write(line: dict[str, Any]) -> None:
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")

        try:
            with handle:
                done = export_journal(engine.uow(), engine.clock, biller, write, from_day=since)
        except BillfoldError:
            out_file.unlink(missing_ok=True)  # no half-written export is left behind
            raise
    typer.echo(f"{out_file}: {done.entries} entries and {done.seals} seals of {biller}")


def _entries(count: int) -> str:
    return "1 entry" if count == 1 else f"{count} entries"
