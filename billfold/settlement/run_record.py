"""A reconciliation run as it is stored: its row, its result, and the audit of a run that
replaces an earlier one (a corrected file) or of a discrepancy resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from billfold.errors import InvariantViolated
from billfold.money import format_yuan
from billfold.settlement.discrepancy import Action, Discrepancy, DiscrepancyStatus
from billfold.settlement.ports import SettlementUnitOfWork
from billfold.settlement.run import ReconRun, RunKind
from billfold.settlement.totals import StatementTotals

__all__ = [
    "AUTO",
    "RunFigures",
    "RunHeader",
    "RunResult",
    "audit_resolution",
    "record_replacement",
    "run_values",
]

#: Who billfold is when it acts alone.
AUTO = "billfold"


@dataclass(frozen=True, slots=True)
class RunResult:
    run: ReconRun
    created: bool  # False: this very file had been reconciled for the slot already
    discrepancies: list[Discrepancy] = field(default_factory=list)
    replaced: ReconRun | None = None
    auto_resolved: list[Discrepancy] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunHeader:
    """Which slot a run fills, from which file, judged how."""

    kind: RunKind
    channel: str
    merchant: str
    day: date
    format: str
    name: str
    sha: str
    tz: str
    check_fees: bool


@dataclass(frozen=True, slots=True)
class RunFigures:
    """What a run counted: the statement's totals and how much of it matched."""

    totals: StatementTotals
    quarantined: int
    matched_count: int
    matched_fen: int
    engine_count: int
    engine_fen: int
    found: int


def run_values(
    head: RunHeader, revision: int, figures: RunFigures, actor: str, now: datetime
) -> dict[str, Any]:
    """The ``recon_runs`` row of a new current run."""
    totals = figures.totals
    return {
        "kind": head.kind.value,
        "channel": head.channel,
        "merchant_id": head.merchant,
        "business_date": head.day,
        "revision": revision,
        "status": "current",
        "format": head.format,
        "file_name": head.name[:255],
        "file_sha256": head.sha,
        "timezone": head.tz,
        "check_fees": head.check_fees,
        "line_count": totals.line_count + figures.quarantined,
        "quarantined": figures.quarantined,
        "payment_count": totals.payment_count,
        "payment_fen": totals.payment_fen,
        "refund_count": totals.refund_count,
        "refund_fen": totals.refund_fen,
        "fee_fen": totals.fee_fen,
        "net_fen": totals.net_fen,
        "matched_count": figures.matched_count,
        "matched_fen": figures.matched_fen,
        "engine_count": figures.engine_count,
        "engine_fen": figures.engine_fen,
        "discrepancy_count": figures.found,
        "created_by": actor[:100],
        "created_at": now,
    }


def _figures(run: ReconRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "revision": run.revision,
        "file": run.file_name,
        "sha256": run.file_sha256,
        "net": format_yuan(run.totals.net_fen),
        "discrepancies": run.discrepancy_count,
    }


def record_replacement(
    uow: SettlementUnitOfWork,
    old: ReconRun,
    new_id: int,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    """Supersede ``old`` by run ``new_id`` (its open discrepancies go with it), audited."""
    superseded = uow.recon.supersede(old.id, new_id, now)
    new = uow.recon.run(new_id)
    if new is None:
        raise InvariantViolated("new is missing")
    uow.audit.append(
        actor=actor,
        action="reconcile_replace",
        target_type="recon_run",
        target_id=old.slot[:64],
        reason=reason or "a corrected statement file replaces the earlier one",
        before=_figures(old) | {"open_discrepancies_superseded": superseded},
        after=_figures(new),
        now=now,
    )


def audit_resolution(
    uow: SettlementUnitOfWork,
    d: Discrepancy,
    action: Action,
    by: str,
    reason: str,
    ref: str | None,
    now: datetime,
) -> None:
    uow.audit.append(
        actor=by,
        action="resolve_discrepancy",
        target_type="discrepancy",
        target_id=str(d.id),
        reason=reason,
        before={"status": d.status.value, "code": d.code.value, "source": d.source},
        after={"status": DiscrepancyStatus.RESOLVED.value, "action": action.value, "ref": ref},
        now=now,
    )
