"""The four scenario packs of ``billfold demo``: campus tuition, government fees and fines,
presale-fund escrow and utilities, each end to end on the demo's database.

Every pack gets its own engine on a clock standing at the demo's business day, so one pack
moving its clock (auto-debit waits a day) never shifts another, and a rerun starts from the
same instant: the packs are keyed, so running them again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rich.table import Table

from billfold.clock import FixedClock
from billfold.demo.campus_utility import run_campus, run_utilities
from billfold.demo.gov_presale import run_government, run_presale
from billfold.demo.summary import ScenarioSummary
from billfold.engine import Engine
from billfold.money import format_yuan

__all__ = ["SCENARIOS", "run_scenarios", "scenario_table", "summary_view"]

#: In this order, with the folder under ``out`` each is given (the government and presale packs
#: make their own ``government/`` and ``presale/``); utilities last, as its auto-debit waits a day.
SCENARIOS: tuple[tuple[str, Callable[[Engine, Path], ScenarioSummary]], ...] = (
    ("campus", run_campus),
    ("", run_government),
    ("", run_presale),
    ("utilities", run_utilities),
)


def run_scenarios(url: str, at: datetime, out_dir: Path) -> list[ScenarioSummary]:
    """Run every pack against ``url`` with the clock at ``at``; exports go under ``out_dir``."""
    done: list[ScenarioSummary] = []
    for folder, run in SCENARIOS:
        engine = Engine.from_url(url, clock=FixedClock(at))
        try:
            done.append(run(engine, out_dir / folder if folder else out_dir))
        finally:
            engine.close()
    return done


def summary_view(summary: ScenarioSummary, out_dir: Path) -> dict[str, object]:
    """The JSON form of one row: yuan strings, file paths relative to ``out_dir``."""
    return {
        "name": summary.name,
        "billers": summary.billers,
        "bills": summary.bills,
        "paid": summary.paid,
        "collected": format_yuan(summary.collected_fen),
        "discrepancies": summary.discrepancies,
        "settled": format_yuan(summary.settled_fen),
        "files": sorted(_relative(path, out_dir) for path in summary.files),
    }


def scenario_table(summaries: list[ScenarioSummary]) -> Table:
    table = Table(title="scenario packs: import → pay → reconcile → settle → export")
    for header in ("scenario", "billers", "bills", "paid", "collected", "discr.", "settled"):
        table.add_column(header, no_wrap=True, justify="left" if header == "scenario" else "right")
    for s in summaries:
        table.add_row(
            s.name,
            str(s.billers),
            str(s.bills),
            str(s.paid),
            format_yuan(s.collected_fen),
            str(s.discrepancies),
            format_yuan(s.settled_fen),
        )
    table.caption = f"{sum(len(s.files) for s in summaries)} export files written"
    return table


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
