"""``billfold utility``: the files a water, electricity or gas company exchanges with us.

* ``billfold utility import-arrears UTILITY FILE --layout arrears.json`` — bills per 户号 from
  the utility's arrears file (CSV or fixed width, as the layout says);
* ``billfold utility topup UTILITY 户号 --period 202609 --min 50.00 --max 2000.00`` — offer a
  prepaid top-up the household pays any amount of, within the bounds;
* ``billfold utility collection-file UTILITY --date 2026-09-01 --layout out.json --out FILE`` —
  the day's collections back to the utility, with control totals and a checksum line;
* ``billfold utility verify FILE --layout out.json`` — check a collection file's checksum.

A layout is a JSON object; see :mod:`billfold.settlement.utility_files`.
Exit codes: 0 done, 1 refused (the message says why), 2 usage errors.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from billfold.adapters.cli.common import DbUrl, fail, open_engine, yuan_option
from billfold.errors import BillfoldError, ImportFailed
from billfold.money import format_yuan

if TYPE_CHECKING:
    from billfold.settlement.utility_files import Layout

__all__ = ["app"]

app = typer.Typer(help="Utilities: arrears files in, top-ups, collection files out.")

LayoutOpt = Annotated[Path, typer.Option("--layout", help="the utility's layout (JSON)")]


def _layout(path: Path, known: tuple[str, ...]) -> Layout:
    from billfold.settlement.utility_files import Layout

    try:
        loaded: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"--layout {path}: cannot read JSON: {exc}")
    try:
        return Layout.from_dict(loaded, known=known)
    except BillfoldError as exc:
        fail(f"--layout {path}: {exc.message}")


@app.command("import-arrears")
def arrears(
    utility: str,
    file: Path,
    layout: LayoutOpt,
    database_url: DbUrl = None,
) -> None:
    """Bills per 户号 from the arrears file; a bad line rejects the file, naming every line."""
    from billfold.packs.utility import import_arrears
    from billfold.settlement.utility_files import ARREARS_FIELDS

    shape = _layout(layout, ARREARS_FIELDS)
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"{file}: cannot read it ({exc.strerror})")
    with open_engine(database_url) as engine:
        try:
            report = import_arrears(engine, utility, data, shape, file_name=file.name)
        except ImportFailed as exc:
            for line in exc.errors:
                typer.echo(line, err=True)
            fail(exc.message)
    typer.echo(f"{file.name}: {report.created} new, {report.unchanged} unchanged")


@app.command()
def topup(
    utility: str,
    account_no: str,
    period: Annotated[str, typer.Option("--period")],
    low: Annotated[str, typer.Option("--min", help="smallest top-up, e.g. 50.00")],
    high: Annotated[str, typer.Option("--max", help="largest top-up, e.g. 2000.00")],
    database_url: DbUrl = None,
) -> None:
    """Offer a prepaid top-up (预存) the household finds by 户号."""
    from billfold.packs.utility import offer_topup

    with open_engine(database_url) as engine:
        bill = offer_topup(
            engine,
            utility,
            account_no,
            period,
            min_fen=yuan_option(low, "min"),
            max_fen=yuan_option(high, "max"),
        )
    typer.echo(
        f"{bill.bill_no}: top-up of {format_yuan(bill.open_min_fen or 0)}–"
        f"{format_yuan(bill.open_max_fen or 0)} offered to {account_no}"
    )


@app.command("collection-file")
def collection(
    utility: str,
    day: Annotated[str, typer.Option("--date", help="business date, e.g. 2026-09-01")],
    layout: LayoutOpt,
    out: Annotated[Path, typer.Option("--out", help="the file to write")],
    database_url: DbUrl = None,
) -> None:
    """The day's collection file; writing the same day again gives the same bytes."""
    from billfold.packs.utility import collection_file_for
    from billfold.settlement.utility_files import COLLECTION_FIELDS

    shape = _layout(layout, COLLECTION_FIELDS)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        fail(f"--date: {day!r} is not a date like 2026-09-01")
    with open_engine(database_url) as engine:
        data = collection_file_for(engine, utility, when, shape)
    out.write_bytes(data)
    typer.echo(f"{out}: {len(data)} bytes")


@app.command()
def verify(file: Path, layout: LayoutOpt) -> None:
    """Check a collection file's checksum line, as the utility does."""
    from billfold.settlement.utility_files import COLLECTION_FIELDS, verify_collection_file

    shape = _layout(layout, COLLECTION_FIELDS)
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"{file}: cannot read it ({exc.strerror})")
    problem = verify_collection_file(data, shape)
    if problem:
        fail(problem)
    typer.echo(f"{file}: checksum ok")
