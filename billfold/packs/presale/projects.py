"""Supervised projects, their milestone plans and buyers' contracts (each a bill of the
project's sub-unit, so the POS and QR channels' project binding applies unchanged)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from billfold.collection.bill import Bill, BillItem
from billfold.collection.importer import add_bill
from billfold.collection.payer import IdentifierKind, Payer
from billfold.errors import Conflict, InvalidInput, InvariantViolated, NotFound
from billfold.merchants.presale import Contract, Milestone, Project, validate_milestones
from billfold.merchants.services import require_biller
from billfold.packs import host as core
from billfold.packs.host import Host, pk
from billfold.packs.presale.book import project_pk, require_project

__all__ = [
    "add_contract",
    "add_project",
    "contracts",
    "milestones",
    "projects",
    "reach",
    "set_milestones",
    "stored_project",
]


def add_project(host: Host, project: Project, *, actor: str) -> Project:
    """Supervise a project of a developer; the same project again returns it unchanged."""
    now = host.clock.now()
    with host.uow() as uow:
        biller = require_biller(uow, project.developer)
        if project.project_code not in {u.code for u in biller.sub_units}:
            raise InvalidInput(
                f"project_code: {project.developer} has no project {project.project_code!r}"
            )
        repo = uow.presale
        known = repo.project(project.bureau_code)
        if known is not None:
            if known.developer == project.developer and _same(known, project):
                return known
            raise Conflict(f"bureau_code: project {project.bureau_code} is supervised already")
        if repo.project_of(pk(biller), project.project_code) is not None:
            raise Conflict(
                f"project_code: {project.developer}/{project.project_code} is supervised "
                "under another bureau code"
            )
        repo.add_project(pk(biller), project, now)
        uow.audit.append(
            actor=actor,
            action="presale.project",
            target_type="presale_project",
            target_id=project.bureau_code,
            reason="supervision agreement",
            before=None,
            after={
                "developer": project.developer,
                "project": project.project_code,
                "escrow_account": project.escrow_account_no,
            },
            now=now,
        )
        uow.commit()
    return stored_project(host, project.bureau_code)


def stored_project(host: Host, bureau_code: str) -> Project:
    with host.uow() as uow:
        return require_project(uow.presale, bureau_code)


def projects(host: Host) -> list[Project]:
    with host.uow() as uow:
        return uow.presale.projects()


def set_milestones(
    host: Host, bureau_code: str, stages: Sequence[Milestone], *, actor: str
) -> None:
    validate_milestones(stages)
    now = host.clock.now()
    with host.uow() as uow:
        repo = uow.presale
        project = require_project(repo, bureau_code)
        before = repo.milestones(project_pk(project))
        if [_plan(m) for m in before] == [_plan(m) for m in stages]:
            return
        if any(m.reached_on for m in before):
            raise Conflict(
                f"milestones: project {bureau_code} has reached a stage; its plan is fixed"
            )
        repo.set_milestones(project_pk(project), list(stages))
        uow.audit.append(
            actor=actor,
            action="presale.milestones",
            target_type="presale_project",
            target_id=bureau_code,
            reason="release plan",
            before=None,
            after={m.stage: m.cumulative_bps for m in stages},
            now=now,
        )
        uow.commit()


def milestones(host: Host, bureau_code: str) -> list[Milestone]:
    with host.uow() as uow:
        repo = uow.presale
        return repo.milestones(project_pk(require_project(repo, bureau_code)))


def reach(host: Host, bureau_code: str, stage: str, day: date, *, actor: str) -> None:
    """Record that construction reached ``stage`` on ``day`` (the bureau's acceptance)."""
    now = host.clock.now()
    with host.uow() as uow:
        repo = uow.presale
        project = require_project(repo, bureau_code)
        stages = {m.stage: m for m in repo.milestones(project_pk(project))}
        if stage not in stages:
            raise NotFound(f"stage {stage!r} is not a milestone of project {bureau_code}")
        if not repo.reach(project_pk(project), stage, day):
            return
        uow.audit.append(
            actor=actor,
            action="presale.milestone_reached",
            target_type="presale_project",
            target_id=bureau_code,
            reason=stage,
            before=None,
            after={"stage": stage, "reached_on": day.isoformat()},
            now=now,
        )
        uow.commit()


def add_contract(
    host: Host, bureau_code: str, contract: Contract, *, phone: str | None = None
) -> Bill:
    """A buyer's contract and the bill its payments go to (part payments allowed: down
    payment, then loans). The same contract again returns its bill unchanged."""
    now = host.clock.now()
    with host.uow() as uow:
        repo = uow.presale
        project = require_project(repo, bureau_code)
        owner = repo.contract_project(contract.contract_no)
    if owner is not None:
        if owner != project.id:
            raise Conflict(
                f"contract_no: contract {contract.contract_no} belongs to another project"
            )
        return core.bill(host, project.developer, contract.contract_no)
    payer = Payer(
        IdentifierKind.CONTRACT_NO, contract.contract_no, name=contract.buyer_name, phone=phone
    )
    bill = Bill(
        0,
        contract.contract_no,
        0,
        [BillItem("house", f"购房款 {contract.unit_no}", contract.total_fen)],
        allow_partial=True,
        sub_unit=project.project_code,
        description=f"商品房买卖合同 {contract.contract_no}",
    )
    stored = add_bill(host.uow(), host.clock, project.developer, payer, bill)
    if stored.id is None:
        raise InvariantViolated("stored.id is missing")
    with host.uow() as uow:
        uow.presale.add_contract(project_pk(project), contract, stored.id, now)
        uow.commit()
    return stored


def contracts(host: Host, bureau_code: str) -> list[Contract]:
    with host.uow() as uow:
        repo = uow.presale
        return repo.contracts(project_pk(require_project(repo, bureau_code)))


def _plan(stage: Milestone) -> tuple[str, str, int]:
    return (stage.stage, stage.name, stage.cumulative_bps)


def _same(a: Project, b: Project) -> bool:
    keys = ("project_code", "name", "escrow_bank", "escrow_account_no")
    return all(getattr(a, k) == getattr(b, k) for k in keys)
