"""Ports: what the settlement desks need from persistence, as Protocols.

The desks (:class:`~billfold.settlement.reconciler.Reconciler`,
:class:`~billfold.settlement.settler.Settler`) take a ``Runtime[SettlementUnitOfWork]``
(:class:`billfold.collection.ports.Runtime`) and reach storage only through the repositories
below; :class:`billfold.adapters.db.uow.SqlUnitOfWork` provides them (kept in step by
``tests/unit/adapters/db/test_ports_in_step.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from billfold.collection.ports import RefundTransferUnitOfWork, UnitOfWork
from billfold.settlement.banking import Promise
from billfold.settlement.batch import BatchStatus, BatchTotals, SettlementBatch
from billfold.settlement.complaint import Complaint, ComplaintKind, ComplaintStatus
from billfold.settlement.discrepancy import Action, Code, Discrepancy, DiscrepancyStatus
from billfold.settlement.engine_records import EnginePayment, EngineRefund
from billfold.settlement.run import ReconRun, RunKind
from billfold.settlement.source import ParseRequest, Progress, Source
from billfold.settlement.splits import Part, Remainder, SplitRule
from billfold.settlement.statement import LineError, StatementLine
from billfold.settlement.totals import StageSummary

__all__ = [
    "ComplaintsRepository",
    "ComplaintsUnitOfWork",
    "ReconRepository",
    "SettlementRepository",
    "SettlementUnitOfWork",
    "StatementStaging",
]


class StatementStaging(Protocol):
    """The run's staged statement, matched in bulk against the engine's records."""

    def stage(
        self,
        source: Source,
        request: ParseRequest,
        *,
        day: date | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
    ) -> list[LineError]:
        """Parse ``source`` and stage it for matching in this unit of work (the staging
        table, or a frame matched outside the database); ``day`` is the run's business
        date, whose payments may be read while the file is. Returns the lines quarantined.
        A rejected file raises :class:`~billfold.settlement.statement.StatementError`."""
        ...

    def summary(self) -> StageSummary:
        """The staged statement's totals groups and the merchant ids its lines name."""
        ...

    def paying_billers(self) -> list[int] | None:
        """The billers with a payment of the run's channel and business date, when staging
        read the day's payments anyway (``None``: ask :meth:`ReconRepository.channel_billers`
        to look them up)."""
        ...

    def payment_exceptions(
        self, channel: str, day: date, check_fees: bool, source_file: str
    ) -> list[tuple[StatementLine, EnginePayment | None]]:
        """Payment and reversal lines that do not match cleanly (one successful payment
        line, a payment holding the same amount in the same currency on ``day``, the same
        fee when fees are checked), in file order, with the payment each names."""
        ...

    def engine_only_payments(
        self, channel: str, merchant_id: str, day: date
    ) -> list[EnginePayment]:
        """Payments of ``day`` holding money that no payment or reversal line mentions."""
        ...

    def engine_totals(self, channel: str, merchant_id: str, day: date) -> tuple[int, int]:
        """How many payments of ``day`` hold money in the scope, and how much."""
        ...

    def refund_lines(self, channel: str, source_file: str) -> list[StatementLine]: ...

    def unstage(self) -> None: ...


class ReconRepository(Protocol):
    # -- slots and runs
    def lock_slot(self, kind: RunKind, channel: str, merchant_id: str, day: date) -> None: ...

    def current_run(
        self, kind: RunKind, channel: str, merchant_id: str, day: date
    ) -> ReconRun | None: ...

    def current_with_file(
        self, kind: RunKind, channel: str, day: date, sha256: str
    ) -> ReconRun | None: ...

    def any_current(self, kind: RunKind, channel: str, day: date) -> bool:
        """Whether ``channel`` has a current run of ``day`` (of any merchant)."""
        ...

    def next_revision(self, kind: RunKind, channel: str, merchant_id: str, day: date) -> int: ...

    def insert_run(self, values: dict[str, Any]) -> int: ...

    def supersede(self, run_id: int, by_run_id: int, now: datetime) -> int: ...

    def run(self, run_id: int) -> ReconRun | None: ...

    def runs(
        self,
        *,
        kind: RunKind | None = None,
        channel: str | None = None,
        day: date | None = None,
        current_only: bool = False,
    ) -> list[ReconRun]: ...

    # -- scope
    def merchant_billers(self, channel: str, merchant_id: str) -> list[tuple[int, str]]: ...

    def channel_billers(
        self, channel: str, day: date, paying: Sequence[int] | None = None
    ) -> list[tuple[int, str]]: ...

    def timezones(self) -> list[str]: ...

    # -- the engine's records
    def claimed_elsewhere(self, payment_ids: Sequence[int], run_id: int | None) -> set[int]: ...

    def engine_refunds(
        self, channel: str, refund_nos: Sequence[str], channel_ids: Sequence[str]
    ) -> list[EngineRefund]: ...

    def engine_only_refunds(
        self, channel: str, merchant_id: str, start: datetime, end: datetime
    ) -> list[EngineRefund]: ...

    # -- discrepancies
    def insert_discrepancies(
        self, run_id: int, found: Sequence[Discrepancy], now: datetime, resolver: str
    ) -> None: ...

    def discrepancy(self, discrepancy_id: int, *, lock: bool = False) -> Discrepancy | None: ...

    def discrepancies(
        self,
        *,
        run_id: int | None = None,
        status: DiscrepancyStatus | None = None,
        code: Code | None = None,
        auto_only: bool = False,
        limit: int | None = None,
    ) -> list[Discrepancy]: ...

    def open_engine_only(self, payment_id: int) -> list[Discrepancy]: ...

    def resolve(
        self,
        discrepancy_id: int,
        *,
        action: Action,
        by: str,
        at: datetime,
        reason: str,
        ref: str | None = None,
        payment_id: int | None = None,
        request_id: str | None = None,
    ) -> bool: ...

    # -- the bank leg
    def open_promises(self, as_of: date, exclude_bank_run: int | None = None) -> list[Promise]: ...

    def insert_bank_settlements(self, rows: Sequence[dict[str, Any]]) -> None: ...

    def bank_settlements(self, bank_run_id: int) -> list[dict[str, Any]]: ...


class SettlementRepository(Protocol):
    def lock_biller(self, biller_id: int) -> None: ...

    def profile(self, biller_id: int) -> tuple[bool, Remainder, list[SplitRule]] | None: ...

    def save_profile(
        self,
        biller_id: int,
        settle_unreconciled: bool,
        remainder: Remainder,
        splits_json: str,
        now: datetime,
    ) -> None: ...

    def batch(
        self, *, batch_no: str | None = None, biller_id: int | None = None, day: date | None = None
    ) -> SettlementBatch | None: ...

    def batch_nos(
        self,
        *,
        biller_id: int | None = None,
        day: date | None = None,
        status: BatchStatus | None = None,
    ) -> list[str]: ...

    def insert_batch(self, values: dict[str, Any]) -> int: ...

    def set_totals(self, batch_id: int, totals: BatchTotals) -> None: ...

    def release(self, batch_id: int) -> None: ...

    def delete_batch(self, batch_id: int) -> None: ...

    def transition(
        self, batch_id: int, expected: BatchStatus, new: BatchStatus, **values: Any
    ) -> bool: ...

    def claim(
        self,
        batch_id: int,
        biller_id: int,
        day: date,
        refunds_before: datetime,
        settle_unreconciled: bool,
    ) -> BatchTotals: ...

    def items(self, batch_id: int) -> list[dict[str, Any]]: ...

    def insert_parts(self, batch_id: int, parts: Sequence[Part]) -> None: ...


class SettlementUnitOfWork(RefundTransferUnitOfWork, Protocol):
    """The core's unit of work, plus the settlement desks' repositories (and the
    bank-transfer refunds', which the bank leg confirms)."""

    @property
    def recon(self) -> ReconRepository: ...
    @property
    def settlement(self) -> SettlementRepository: ...
    @property
    def statements(self) -> StatementStaging: ...

    def savepoint(self) -> UnitOfWork:
        """A unit of work nested in this one's transaction: its ``commit`` keeps its work
        for this unit of work's own commit (or rollback) to decide. A collection use case
        run on it becomes part of a larger change that commits or fails as one."""
        ...


class ComplaintsRepository(Protocol):
    """Complaints and the billers' turnaround times (see :mod:`billfold.settlement.complaint`)."""

    def insert(self, values: dict[str, Any]) -> int: ...

    def get(self, complaint_no: str, *, lock: bool = False) -> Complaint | None: ...

    def transition(
        self,
        complaint_id: int,
        expected: ComplaintStatus,
        new: ComplaintStatus,
        **values: Any,
    ) -> bool:
        """Move a complaint still in ``expected`` (a conditional UPDATE); ``False`` if not."""
        ...

    def note(self, complaint_id: int, **values: Any) -> None:
        """Record what the engine found (answer, resolution, refund) without moving it."""
        ...

    def listing(
        self,
        *,
        biller_ids: Sequence[int] | None = None,
        statuses: Sequence[ComplaintStatus] | None = None,
        overdue_at: datetime | None = None,
        bill_id: int | None = None,
        limit: int = 500,
    ) -> list[Complaint]: ...

    def tat_override(self, biller_id: int, kind: ComplaintKind) -> int | None: ...

    def set_tat(self, biller_id: int, kind: ComplaintKind, hours: int, now: datetime) -> None: ...

    def orders_for_bill(self, bill_id: int) -> list[str]:
        """Order numbers that ever carried the bill, oldest first."""
        ...


class ComplaintsUnitOfWork(UnitOfWork, Protocol):
    @property
    def complaints(self) -> ComplaintsRepository: ...
