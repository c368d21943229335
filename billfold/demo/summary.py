"""One row of the ``billfold demo`` summary table: what a scenario did, end to end.

Every scenario pack (campus tuition, utilities, government fees, presale escrow) returns one
of these so the demo can print them side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ScenarioSummary:
    """The outcome of one scenario run: counts, money in fen and the files it wrote."""

    name: str
    billers: int
    bills: int
    paid: int
    collected_fen: int
    discrepancies: int
    settled_fen: int
    files: list[Path] = field(default_factory=list)
