"""Reconciliation use cases: run a statement, resolve what it found, settle the third leg.

:class:`Reconciler` works on a ``Runtime[SettlementUnitOfWork]`` (an
:class:`~billfold.engine.Engine` is one) and reaches storage only through the unit of work's
ports (:mod:`billfold.settlement.ports`). It is the front door to the desks' concepts:

* :meth:`Reconciler.reconcile` — one channel statement for one business date
  (:mod:`~billfold.settlement.channel_run`, scoped by :mod:`~billfold.settlement.scope`).
  Then the common case resolves itself: a success the engine never heard of is confirmed
  through the core's one exactly-once path, which credits the order or, if the order is
  gone, keeps the money in suspense and queues its refund.
* :meth:`Reconciler.resolve` — close a discrepancy with an action, recording who, when,
  why (:mod:`~billfold.settlement.resolution`); :meth:`Reconciler.ask_channel` — the T+0
  requery an engine-only payment needs before it may be reversed.
* :meth:`Reconciler.reconcile_bank` and :meth:`Reconciler.in_transit` — the bank leg
  (:mod:`~billfold.settlement.bank_run`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from billfold.collection.ports import Runtime
from billfold.errors import NotFound
from billfold.settlement import resolution
from billfold.settlement.advice import ChannelWord, advised_actions
from billfold.settlement.bank_run import BankStatement, reconcile_bank
from billfold.settlement.banking import DEFAULT_ROUTES, InTransit, Route, in_transit
from billfold.settlement.channel_run import ChannelStatement, reconcile_channel
from billfold.settlement.discrepancy import Action, Code, Discrepancy, DiscrepancyStatus
from billfold.settlement.outcome import AgeTally, RunOutcome, run_outcome, transit_by_age
from billfold.settlement.parsers import OnError
from billfold.settlement.ports import SettlementUnitOfWork
from billfold.settlement.resolution import ChannelAnswer, Requery
from billfold.settlement.run import ReconRun, RunKind
from billfold.settlement.run_record import AUTO, RunResult
from billfold.settlement.source import Progress, Source

__all__ = ["ChannelAnswer", "Reconciler", "RunResult", "Source"]


class Reconciler:
    def __init__(self, runtime: Runtime[SettlementUnitOfWork]) -> None:
        self.runtime = runtime

    # -- channel statements -------------------------------------------------------------------
    def reconcile(
        self,
        source: Source,
        *,
        format: str,
        business_date: date,
        channel: str | None = None,
        merchant_id: str | None = None,
        file_name: str | None = None,
        column_map: Mapping[str, Any] | None = None,
        encoding: str | None = None,
        check_fees: bool | None = None,
        on_error: OnError = "quarantine",
        actor: str = AUTO,
        reason: str = "",
        auto_resolve: bool = True,
        progress: Progress | None = None,
        workers: int | None = None,
    ) -> RunResult:
        """Reconcile one channel statement for ``business_date`` (see the module docs).

        ``merchant_id`` scopes the run ('' = the whole channel); without it the file's own
        merchant id is taken, and a run whose scope is ambiguous is refused
        (:mod:`~billfold.settlement.scope`). ``check_fees`` defaults to yes, except for a
        generic CSV without a fee column. Lines the parser cannot read become
        ``unreadable_line`` discrepancies (``on_error="quarantine"``) or refuse the whole
        file (``"reject"``). A big file given as a path is parsed by ``workers`` processes
        (default: the CPUs, at most 4; ``1`` keeps it in this process).
        """
        statement = ChannelStatement(
            source,
            format,
            business_date,
            channel,
            merchant_id,
            file_name,
            column_map,
            encoding,
            check_fees,
            on_error,
            actor,
            reason,
            progress,
            workers,
        )
        result = reconcile_channel(self.runtime, statement)
        if not result.created or not auto_resolve:
            return result
        auto = resolution.auto_resolve(self.runtime, result.run.id)
        return RunResult(result.run, True, result.discrepancies, result.replaced, auto)

    # -- resolving ----------------------------------------------------------------------------
    def resolve(
        self,
        discrepancy_id: int,
        action: Action,
        *,
        by: str,
        reason: str,
        amount_fen: int | None = None,
        request_id: str | None = None,
    ) -> Discrepancy:
        """Close an open discrepancy with ``action``; the money moves and the discrepancy
        closes in one transaction, with who, when and why recorded and audited. With
        ``request_id`` a retry of the same request answers the resolution, moving nothing."""
        return resolution.resolve(
            self.runtime,
            discrepancy_id,
            action,
            by=by,
            reason=reason,
            amount_fen=amount_fen,
            request_id=request_id,
        )

    def auto_resolve(self, run_id: int) -> list[Discrepancy]:
        """Resolve what billfold may resolve alone (late credits, refunds paid out)."""
        return resolution.auto_resolve(self.runtime, run_id)

    def ask_channel(self, discrepancy_id: int, channel: Requery, *, by: str) -> ChannelAnswer:
        """T+0: ask the channel about an engine-only payment (see :mod:`.advice`)."""
        return resolution.ask_channel(self.runtime, discrepancy_id, channel, by=by)

    def channel_word(self, discrepancy_id: int) -> ChannelWord | None:
        """What the channel last said about the discrepancy's payment (``None``: not asked)."""
        d = self.discrepancy(discrepancy_id)
        with self.runtime.uow() as uow:
            return resolution.channel_word(uow, d)

    def advice(self, discrepancy_id: int) -> tuple[Action, ...]:
        """The actions advised for the discrepancy now (``reverse`` for an engine-only
        payment only once its channel has said it does not exist)."""
        return advised_actions(self.discrepancy(discrepancy_id), self.channel_word(discrepancy_id))

    def discrepancy(self, discrepancy_id: int) -> Discrepancy:
        with self.runtime.uow() as uow:
            found = uow.recon.discrepancy(discrepancy_id)
        if found is None:
            raise NotFound(f"discrepancy {discrepancy_id} does not exist")
        return found

    def discrepancies(
        self,
        *,
        run_id: int | None = None,
        status: DiscrepancyStatus | None = None,
        code: Code | None = None,
    ) -> list[Discrepancy]:
        with self.runtime.uow() as uow:
            return uow.recon.discrepancies(run_id=run_id, status=status, code=code)

    # -- runs ---------------------------------------------------------------------------------
    def run(self, run_id: int) -> ReconRun:
        with self.runtime.uow() as uow:
            found = uow.recon.run(run_id)
        if found is None:
            raise NotFound(f"reconciliation run {run_id} does not exist")
        return found

    def runs(
        self,
        *,
        kind: RunKind | None = None,
        channel: str | None = None,
        business_date: date | None = None,
        current_only: bool = False,
    ) -> list[ReconRun]:
        with self.runtime.uow() as uow:
            return uow.recon.runs(
                kind=kind, channel=channel, day=business_date, current_only=current_only
            )

    # -- the bank leg -------------------------------------------------------------------------
    def reconcile_bank(
        self,
        source: Source,
        *,
        format: str,
        business_date: date,
        routes: Sequence[Route] = DEFAULT_ROUTES,
        file_name: str | None = None,
        encoding: str | None = None,
        on_error: OnError = "reject",
        actor: str = AUTO,
        reason: str = "",
    ) -> RunResult:
        """Match each channel's credit on a bank statement to the net its statement
        promised; post what arrived (Dr bank, Dr channel fees, Cr clearing)."""
        statement = BankStatement(
            source, format, business_date, routes, file_name, encoding, on_error, actor, reason
        )
        return reconcile_bank(self.runtime, statement)

    def in_transit(self, as_of: date) -> list[InTransit]:
        """在途资金: what reconciled channel statements promised and no bank credit settled."""
        with self.runtime.uow() as uow:
            promises = uow.recon.open_promises(as_of)
        return in_transit(promises, as_of)

    def transit_by_age(self, as_of: date) -> tuple[AgeTally, ...]:
        """在途资金 by age bucket (every bucket, zeros included)."""
        return transit_by_age(self.in_transit(as_of))

    def outcome(self, run_id: int) -> RunOutcome:
        """What a run came to: matched, and its discrepancies by kind (open or resolved)."""
        run = self.run(run_id)
        return run_outcome(run, self.discrepancies(run_id=run_id))

    def settlements(self, bank_run_id: int) -> list[dict[str, Any]]:
        with self.runtime.uow() as uow:
            return uow.recon.bank_settlements(bank_run_id)
