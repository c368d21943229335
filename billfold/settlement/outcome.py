"""What a reconciliation run came to, in the shape a page or a report shows: how much
matched, the discrepancies by kind (how many, how many still open, the difference), and the
money still in transit by age. Pure values over what :class:`~billfold.settlement.reconciler.
Reconciler` reads; nothing here touches storage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from billfold.settlement.banking import AGE_BUCKETS, InTransit
from billfold.settlement.discrepancy import Code, Discrepancy, DiscrepancyStatus
from billfold.settlement.run import ReconRun
from billfold.settlement.run_record import AUTO

__all__ = ["AgeTally", "CodeTally", "RunOutcome", "run_outcome", "tally_codes", "transit_by_age"]


@dataclass(frozen=True, slots=True)
class CodeTally:
    """The discrepancies of one kind: how many, how many are still open, and the sum of
    their differences (money the channel owes us, signed)."""

    code: Code
    count: int
    open: int
    difference_fen: int


@dataclass(frozen=True, slots=True)
class AgeTally:
    """Money in transit of one age bucket (``0-1 days`` … ``over 7 days``)."""

    bucket: str
    count: int
    net_fen: int


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run: ReconRun
    by_code: tuple[CodeTally, ...]
    discrepancies: tuple[Discrepancy, ...]

    @property
    def matched_count(self) -> int:
        return self.run.matched_count

    @property
    def matched_fen(self) -> int:
        return self.run.matched_fen

    @property
    def open_count(self) -> int:
        return sum(t.open for t in self.by_code)

    @property
    def auto_resolved(self) -> int:
        """Closed by billfold alone (late credits, refunds the statement shows paid out)."""
        return sum(1 for d in self.discrepancies if d.resolved_by == AUTO)


def tally_codes(found: Iterable[Discrepancy]) -> tuple[CodeTally, ...]:
    """One tally per code found, in the order of :class:`Code`; superseded ones left out."""
    counts: dict[Code, list[int]] = {}
    for d in found:
        if d.status is DiscrepancyStatus.SUPERSEDED:
            continue
        tally = counts.setdefault(d.code, [0, 0, 0])
        tally[0] += 1
        tally[1] += d.status is DiscrepancyStatus.OPEN
        tally[2] += d.difference_fen
    return tuple(CodeTally(c, *counts[c]) for c in Code if c in counts)


def run_outcome(run: ReconRun, found: Sequence[Discrepancy]) -> RunOutcome:
    return RunOutcome(run, tally_codes(found), tuple(found))


def transit_by_age(items: Iterable[InTransit]) -> tuple[AgeTally, ...]:
    """Every age bucket, youngest first, with what is in it (zeros included, so a chart
    always has the same bars)."""
    sums = {name: [0, 0] for name, _, _ in AGE_BUCKETS}
    for item in items:
        tally = sums[item.bucket]
        tally[0] += 1
        tally[1] += item.net_fen
    return tuple(AgeTally(name, *sums[name]) for name, _, _ in AGE_BUCKETS)
