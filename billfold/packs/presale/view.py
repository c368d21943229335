"""A supervised project's escrow as a supervisor looks at it: the balance, each contract's
money, each milestone with what it lets the developer have, and the releases made so far
against the reached stage's limit. Read from the book (whose amounts are the journal's), in
one unit of work, so every figure is of the same moment."""

from __future__ import annotations

from dataclasses import dataclass

from billfold.clock import business_date
from billfold.merchants.presale import Milestone, Project
from billfold.packs.host import Host
from billfold.packs.presale.book import project_pk, require_project, timezone
from billfold.settlement.escrow import (
    EntryKind,
    EscrowEntry,
    EscrowTotals,
    ReleaseRoom,
    release_room,
    totals,
)

__all__ = ["ContractView", "EscrowView", "StageView", "escrow_view"]


@dataclass(frozen=True, slots=True)
class ContractView:
    contract_no: str
    unit_no: str
    buyer_masked: str
    total_fen: int
    totals: EscrowTotals  # of this contract's entries: received, refunded

    @property
    def net_fen(self) -> int:
        """What the buyer paid in and kept in: received less refunded."""
        return self.totals.net_received_fen

    @property
    def outstanding_fen(self) -> int:
        return max(0, self.total_fen - self.net_fen)


@dataclass(frozen=True, slots=True)
class StageView:
    """A milestone and what it allows in all of the money received so far."""

    milestone: Milestone
    limit_fen: int

    @property
    def reached(self) -> bool:
        return self.milestone.reached_on is not None


@dataclass(frozen=True, slots=True)
class EscrowView:
    project: Project
    totals: EscrowTotals
    room: ReleaseRoom  # the reached stage, its limit, and what may still be released
    stages: tuple[StageView, ...]
    contracts: tuple[ContractView, ...]
    releases: tuple[EscrowEntry, ...]


def escrow_view(host: Host, bureau_code: str) -> EscrowView:
    """The project's escrow today (the developer's business date decides the stage)."""
    with host.uow() as uow:
        repo = uow.presale
        project = require_project(repo, bureau_code)
        entries = repo.entries(project_pk(project))
        stages = repo.milestones(project_pk(project))
        contracts = repo.contracts(project_pk(project))
        today = business_date(host.clock.now(), timezone(uow, project))
    book = totals(entries)
    base = max(0, book.net_received_fen)
    return EscrowView(
        project,
        book,
        release_room(book, stages, today),
        tuple(StageView(m, base * m.cumulative_bps // 10_000) for m in stages),
        tuple(
            ContractView(
                c.contract_no,
                c.unit_no,
                c.buyer_masked,
                c.total_fen,
                totals(e for e in entries if e.contract_no == c.contract_no),
            )
            for c in contracts
        ),
        tuple(e for e in entries if e.kind is EntryKind.RELEASE),
    )
