"""The daily escrow report of a project — per contract, and the summary — written from the
book, whose amounts are the journal's (so the two sheets and the journal agree)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from billfold.packs.host import Host
from billfold.packs.presale.book import project_pk, require_project
from billfold.settlement.escrow import ContractRow, contract_sheet, summary_sheet
from billfold.settlement.exports import export_format, write_sheet

__all__ = ["daily_report"]


def daily_report(
    host: Host, bureau_code: str, day: date, out_dir: Path, fmt: str = "csv"
) -> list[Path]:
    """Writes ``escrow-<bureau code>-<date>.<fmt>`` and ``escrow-<bureau code>-<date>-summary.
    <fmt>``; the same day again gives the same files."""
    kind = export_format(f"x.{fmt}")
    with host.uow() as uow:
        repo = uow.presale
        project = require_project(repo, bureau_code)
        entries = repo.entries(project_pk(project))
        contracts = repo.contracts(project_pk(project))
    rows = [ContractRow(c.contract_no, c.unit_no, c.buyer_masked, c.total_fen) for c in contracts]
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"escrow-{bureau_code}-{day:%Y%m%d}"
    sheets = (
        (out_dir / f"{stem}.{fmt}", contract_sheet(day, rows, entries)),
        (
            out_dir / f"{stem}-summary.{fmt}",
            summary_sheet(day, bureau_code, project.name, project.escrow_account_no, entries),
        ),
    )
    for path, sheet in sheets:
        with path.open("wb") as out:
            write_sheet(sheet, out, kind)
    return [path for path, _ in sheets]
