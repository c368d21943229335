"""Ports: what the scenario desks need from persistence, as Protocols.

The desks (:mod:`billfold.packs.campus`, ``utility``, ``government``, ``presale``) take a
``Runtime[PacksUnitOfWork]`` and reach storage only through the repositories named here;
:class:`billfold.adapters.db.uow.SqlUnitOfWork` implements them with ``SqlDaybook``,
``SqlGov`` and ``SqlPresale`` (kept in step by ``tests/unit/adapters/db/test_ports_in_step.py``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from billfold.collection.ports import UnitOfWork
from billfold.collection.roster import StoredStudent
from billfold.merchants.fee_catalogue import FeeItem
from billfold.merchants.presale import Contract, Milestone, Project
from billfold.settlement.daybook import DayPayment
from billfold.settlement.escrow import ContractPayment, ContractRefund, EntryKind, EscrowEntry

__all__ = [
    "DaybookRepository",
    "GovRepository",
    "PacksUnitOfWork",
    "PresaleRepository",
]


class DaybookRepository(Protocol):
    """Read-side queries of the campus and utility desks."""

    def term_students(self, biller_id: int, term: str) -> dict[str, StoredStudent]: ...

    def update_contact(self, biller_id: int, student_no: str, name: str, phone: str) -> None: ...

    def day_payments(self, biller_id: int, day: date) -> list[DayPayment]: ...

    def bill_payments(self, bill_id: int) -> list[tuple[int, int]]: ...


class GovRepository(Protocol):
    """Government offices' fee catalogues and receipts."""

    def fee_items(self, biller_id: int) -> list[FeeItem]: ...

    def add_fee_item(self, biller_id: int, item: FeeItem, now: datetime) -> bool: ...

    def add_receipt(
        self, receipt_no: str, payment_id: int, biller_id: int, body: str, now: datetime
    ) -> bool: ...

    def receipt_body(
        self, *, payment_id: int | None = None, receipt_no: str | None = None
    ) -> str | None: ...

    def receipts(self, biller_id: int) -> list[str]: ...


class PresaleRepository(Protocol):
    """Supervised projects, milestones, contracts, the escrow book and the bureau pushes."""

    def add_project(self, biller_id: int, project: Project, now: datetime) -> int: ...

    def project(self, bureau_code: str, *, lock: bool = False) -> Project | None: ...

    def project_of(self, biller_id: int, project_code: str) -> Project | None: ...

    def projects(self) -> list[Project]: ...

    def set_milestones(self, project_pk: int, stages: list[Milestone]) -> None: ...

    def milestones(self, project_pk: int) -> list[Milestone]: ...

    def reach(self, project_pk: int, stage: str, day: date) -> bool: ...

    def add_contract(
        self, project_pk: int, contract: Contract, bill_id: int, now: datetime
    ) -> None: ...

    def contracts(self, project_pk: int) -> list[Contract]: ...

    def contract_project(self, contract_no: str) -> int | None: ...

    def entries(self, project_pk: int) -> list[EscrowEntry]: ...

    def has_entry(self, kind: EntryKind, channel: str, ref: str) -> bool: ...

    def entry(self, kind: EntryKind, channel: str, ref: str) -> tuple[int, EscrowEntry] | None: ...

    def next_seq(self, project_pk: int) -> int: ...

    def add_entry(self, project_pk: int, entry: EscrowEntry, journal_memo: str) -> int: ...

    def contract_bill(self, contract_no: str) -> int | None: ...

    def contract_payments(self) -> list[ContractPayment]: ...

    def contract_refunds(self) -> list[ContractRefund]: ...

    def add_push(
        self, entry_pk: int, project_pk: int, seq: int, push_id: str, payload: str, now: datetime
    ) -> None: ...


class PacksUnitOfWork(UnitOfWork, Protocol):
    """The core unit of work plus the scenario packs' repositories."""

    @property
    def presale(self) -> PresaleRepository: ...
    @property
    def gov(self) -> GovRepository: ...
    @property
    def daybook(self) -> DaybookRepository: ...
