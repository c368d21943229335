"""The presale desk: one object in front of a host (an Engine, or any runtime) that answers
every presale verb; each verb is a use case in its own module of this package."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from billfold.collection.bill import Bill
from billfold.merchants.presale import Contract, Milestone, Project
from billfold.packs.host import Host
from billfold.packs.presale import held, projects, release, reports, sync
from billfold.packs.presale.book import project_pk, require_project
from billfold.packs.presale.view import EscrowView, escrow_view
from billfold.settlement.escrow import EscrowEntry, EscrowTotals, totals

__all__ = ["PresaleDesk"]


class PresaleDesk:
    def __init__(self, host: Host) -> None:
        self.host = host

    # -- projects, milestones, contracts ---------------------------------------------------
    def add_project(self, project: Project, *, actor: str) -> Project:
        return projects.add_project(self.host, project, actor=actor)

    def project(self, bureau_code: str) -> Project:
        return projects.stored_project(self.host, bureau_code)

    def projects(self) -> list[Project]:
        return projects.projects(self.host)

    def set_milestones(self, bureau_code: str, stages: Sequence[Milestone], *, actor: str) -> None:
        projects.set_milestones(self.host, bureau_code, stages, actor=actor)

    def milestones(self, bureau_code: str) -> list[Milestone]:
        return projects.milestones(self.host, bureau_code)

    def reach(self, bureau_code: str, stage: str, day: date, *, actor: str) -> None:
        projects.reach(self.host, bureau_code, stage, day, actor=actor)

    def add_contract(
        self, bureau_code: str, contract: Contract, *, phone: str | None = None
    ) -> Bill:
        return projects.add_contract(self.host, bureau_code, contract, phone=phone)

    def contracts(self, bureau_code: str) -> list[Contract]:
        return projects.contracts(self.host, bureau_code)

    # -- the escrow book -------------------------------------------------------------------
    def sync(self) -> sync.SyncReport:
        return sync.sync(self.host)

    def receive_unmatched(
        self,
        bureau_code: str,
        channel: str,
        ref: str,
        amount_fen: int,
        *,
        paid_at: datetime,
        contract_no: str | None = None,
        payer: str = "",
    ) -> EscrowEntry:
        return held.receive_unmatched(
            self.host,
            bureau_code,
            channel,
            ref,
            amount_fen,
            paid_at=paid_at,
            contract_no=contract_no,
            payer=payer,
        )

    def assign_held(self, held_id: str, contract_no: str, by: str, reason: str) -> EscrowEntry:
        return held.assign_held(self.host, held_id, contract_no, by, reason)

    def entries(self, bureau_code: str) -> list[EscrowEntry]:
        with self.host.uow() as uow:
            project = require_project(uow.presale, bureau_code)
            return uow.presale.entries(project_pk(project))

    def balance(self, bureau_code: str) -> EscrowTotals:
        return totals(self.entries(bureau_code))

    def view(self, bureau_code: str) -> EscrowView:
        """The project's escrow as the supervisor sees it: balance, contracts, milestones
        with their limits, releases (:mod:`.view`)."""
        return escrow_view(self.host, bureau_code)

    def release(
        self, bureau_code: str, amount_fen: int, *, request_id: str, by: str, reason: str
    ) -> EscrowEntry:
        return release.release(
            self.host, bureau_code, amount_fen, request_id=request_id, by=by, reason=reason
        )

    # -- reports ---------------------------------------------------------------------------
    def daily_report(
        self, bureau_code: str, day: date, out_dir: Path, fmt: str = "csv"
    ) -> list[Path]:
        return reports.daily_report(self.host, bureau_code, day, out_dir, fmt)
