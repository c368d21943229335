"""``billfold export``: back-office reports as CSV (UTF-8 with BOM) or XLSX (with totals).

* ``billfold export recon --date 2026-09-01 --out recon.xlsx`` — 对账报告
* ``billfold export discrepancies --status open --out open.csv`` — 差错清单
* ``billfold export settlement --date 2026-09-01 --out settle.xlsx`` — 结算报告

The file name's ending picks the format. Personal data is masked unless ``--unmasked``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from billfold.adapters.cli.output import console
from billfold.adapters.cli.reconcile import WIDTH, DbUrl, fail, open_engine, parse_day
from billfold.errors import BillfoldError

if TYPE_CHECKING:
    from billfold.settlement.exports import Sheet

__all__ = ["app"]

app = typer.Typer(help="Export reports: reconciliation, discrepancies, settlement.")
out = console(highlight=False, soft_wrap=True, width=WIDTH)

OutFile = Annotated[Path, typer.Option("--out", help="FILE.csv or FILE.xlsx")]
Unmasked = Annotated[bool, typer.Option("--unmasked", help="write personal data in full")]


def _write(sheet: Sheet, path: Path) -> None:
    from billfold.settlement.exports import export_format, write_sheet

    try:
        fmt = export_format(path.name)
    except BillfoldError as exc:
        fail(exc.message, 2)
    with path.open("wb") as handle:
        write_sheet(sheet, handle, fmt)
    out.print(f"{path}: {len(sheet.rows)} rows")


@app.command("recon")
def recon_command(
    out_file: OutFile,
    day: Annotated[str | None, typer.Option("--date", help="business date")] = None,
    channel: Annotated[str | None, typer.Option(help="only this channel")] = None,
    history: Annotated[bool, typer.Option("--all", help="superseded runs too")] = False,
    database_url: DbUrl = None,
) -> None:
    """The reconciliation report: one row per statement run."""
    from billfold.settlement.exports import recon_sheet
    from billfold.settlement.reconciler import Reconciler

    runs = Reconciler(open_engine(database_url)).runs(
        channel=channel, business_date=parse_day(day), current_only=not history
    )
    _write(recon_sheet(runs), out_file)


@app.command("discrepancies")
def discrepancies_command(
    out_file: OutFile,
    run: Annotated[int | None, typer.Option(help="only this run")] = None,
    status: Annotated[str, typer.Option(help="open, resolved, superseded or all")] = "all",
    unmasked: Unmasked = False,
    database_url: DbUrl = None,
) -> None:
    """The discrepancy list, with sources and resolutions."""
    from billfold.settlement.discrepancy import DiscrepancyStatus
    from billfold.settlement.exports import discrepancy_sheet
    from billfold.settlement.reconciler import Reconciler

    try:
        wanted = None if status == "all" else DiscrepancyStatus(status)
    except ValueError:
        fail(f"--status: {status!r}; use open, resolved, superseded or all", 2)
    found = Reconciler(open_engine(database_url)).discrepancies(run_id=run, status=wanted)
    _write(discrepancy_sheet(found, mask=not unmasked), out_file)


@app.command("settlement")
def settlement_command(
    out_file: OutFile,
    day: Annotated[str | None, typer.Option("--date", help="business date")] = None,
    biller: Annotated[str | None, typer.Option(help="the biller's code")] = None,
    unmasked: Unmasked = False,
    database_url: DbUrl = None,
) -> None:
    """The settlement report: one row per batch, receiving accounts masked."""
    from billfold.settlement.exports import settlement_sheet
    from billfold.settlement.settler import Settler

    try:
        batches = Settler(open_engine(database_url)).batches(
            biller_code=biller, business_date=parse_day(day)
        )
    except BillfoldError as exc:
        fail(exc.message)
    _write(settlement_sheet(batches, mask=not unmasked), out_file)
