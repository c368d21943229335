"""Ports: what the collection use cases need from persistence, as Protocols.

The SQL adapters in :mod:`billfold.adapters.db` implement them; the domain never imports
SQLAlchemy. (Kept in step with the adapters by ``tests/unit/adapters/db/test_ports_in_step.py``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self, TypeVar

from billfold.clock import Clock
from billfold.collection.allocation import Allocation
from billfold.collection.approval import Approval, ApprovalState, Policy
from billfold.collection.bill import Bill, BillItem, Waiver
from billfold.collection.chain import ChainedEntry, ChainHead, Seal
from billfold.collection.journal import JournalEntry, Posting
from billfold.collection.listing import ListQuery
from billfold.collection.order import Order, OrderStatus
from billfold.collection.payer import IdentifierKind, Payer
from billfold.collection.payment import BillCredit, PaymentRecord, PaymentStatus
from billfold.collection.refund import RefundLine, RefundRecord, RefundStatus
from billfold.collection.refund_transfer import PayeeAccount, RefundTransfer, TransferReason
from billfold.collection.timeline import TimelineEntry
from billfold.merchants.biller import (
    Biller,
    BillerStatus,
    FeeContext,
    Limits,
    LookupCheck,
    SubUnit,
)
from billfold.merchants.channel_config import ChannelConfig
from billfold.merchants.fees import FeeRule


class BillersRepository(Protocol):
    def add(self, biller: Biller, now: datetime) -> int: ...

    def get_by_code(self, code: str) -> Biller | None: ...

    def get(self, biller_id: int) -> Biller | None: ...

    def fee_context(self, biller_id: int, channel: str) -> FeeContext | None: ...

    def list(self) -> list[Biller]: ...

    def set_status(self, biller_id: int, status: BillerStatus, now: datetime) -> None: ...

    def set_limits(self, biller_id: int, limits: Limits, now: datetime) -> None: ...

    def set_lookup_check(self, biller_id: int, check: LookupCheck, now: datetime) -> None: ...

    def lock_limits(self, biller_id: int) -> None:
        """Lock the biller's limits until commit: concurrent orders are checked in turn."""
        ...

    def set_fee_rule(self, biller_id: int, rule: FeeRule) -> None: ...

    def add_sub_unit(self, biller_id: int, unit: SubUnit) -> None: ...


class PayersRepository(Protocol):
    def ensure(self, biller_id: int, payer: Payer, now: datetime) -> int: ...

    def ensure_many(
        self, biller_id: int, payers: Sequence[Payer], now: datetime
    ) -> dict[tuple[IdentifierKind, str], Payer]:
        """:meth:`ensure` for each payer in order, in a few statements: the stored payers
        (with their ids) by ``(kind, identifier)``."""
        ...

    def get(self, payer_id: int) -> Payer | None: ...

    def find(self, biller_id: int | None, identifier: str) -> list[tuple[int, Payer]]: ...


class BillsRepository(Protocol):
    def add(self, bill: Bill, content_hash: str, now: datetime) -> int: ...

    def add_many(self, bills: Sequence[tuple[Bill, str]], now: datetime) -> list[str]:
        """Store new ``(bill, content_hash)`` pairs with their items in a few statements,
        setting each stored bill's id; the bill numbers that already existed are left as they
        are and returned."""
        ...

    def save(self, bill: Bill, now: datetime) -> None: ...

    def apply(
        self, bills: Sequence[Bill], credits: Iterable[BillCredit], now: datetime
    ) -> None: ...

    def add_waiver(self, bill_id: int, waiver: Waiver) -> None: ...
    def find_waiver(self, bill_id: int, request_id: str) -> Waiver | None: ...

    def add_items(self, bill_id: int, items: Sequence[BillItem]) -> None:
        """New items of a stored bill, after its others."""
        ...

    def get(self, bill_id: int, *, lock: bool = False) -> Bill | None: ...

    def get_many(self, bill_ids: Iterable[int], *, lock: bool = False) -> list[Bill]: ...

    def for_order(self, order_id: int, *, lock: bool = False) -> list[Bill]: ...

    def get_by_no(self, biller_id: int, bill_no: str, *, lock: bool = False) -> Bill | None: ...

    def content_hashes(self, biller_id: int, bill_nos: Iterable[str]) -> dict[str, str]: ...

    def for_payer(self, payer_ids: Iterable[int], *, only_payable: bool = True) -> list[Bill]: ...

    def by_decision_no(self, decision_no: str) -> list[Bill]: ...

    def for_biller(self, biller_id: int) -> list[Bill]: ...


class OrdersRepository(Protocol):
    def add(self, order: Order, business_date: date, idempotency_key: str | None) -> int | None: ...

    def get_by_no(self, order_no: str, *, lock: bool = False) -> Order | None: ...

    def get(self, order_id: int, *, lock: bool = False) -> Order | None: ...

    def by_idempotency_key(self, biller_id: int, key: str) -> Order | None: ...

    def transition(
        self, order_id: int, expected: Iterable[OrderStatus], new: OrderStatus, **values: Any
    ) -> bool: ...

    def add_refunded(self, order_id: int, amount_fen: int, new: OrderStatus) -> None: ...

    def ordered_total(self, biller_id: int, first: date, last: date) -> int:
        """Money ordered on business dates ``first``..``last`` that is paid or may still be
        paid (for the daily and monthly limits)."""
        ...

    def due_to_expire(self, now: datetime, limit: int = 1000) -> list[str]: ...

    def open_for_bill(self, bill_id: int) -> list[str]:
        """Orders for this bill that may still be paid (created or paying)."""
        ...

    def paying_since(
        self, cutoff: datetime, channels: list[str], limit: int = 1000
    ) -> list[str]: ...

    def refund_lines(self, order_id: int) -> list[RefundLine]: ...

    def add_line_refunds(self, parts: Iterable[tuple[int, int]]) -> None: ...

    def reline(self, order_id: int, lines: Sequence[Allocation], total_fen: int) -> None: ...


class PaymentsRepository(Protocol):
    def find(
        self, channel: str, channel_txn_id: str, *, lock: bool = False
    ) -> PaymentRecord | None: ...

    def get(self, payment_id: int, *, lock: bool = False) -> PaymentRecord | None: ...

    def for_order(self, order_id: int) -> list[PaymentRecord]: ...

    def insert(self, values: dict[str, Any]) -> int | None: ...

    def transition(self, payment_id: int, expected: PaymentStatus, new: PaymentStatus) -> bool: ...

    def credit_held(self, payment_id: int, fee_fen: int) -> bool: ...

    def add_refunded(self, payment_id: int, amount_fen: int) -> None: ...

    def by_status(self, status: PaymentStatus) -> list[PaymentRecord]: ...


class RefundsRepository(Protocol):
    def find(self, payment_id: int, request_id: str) -> RefundRecord | None: ...

    def get_by_no(self, refund_no: str, *, lock: bool = False) -> RefundRecord | None: ...

    def insert(self, values: dict[str, Any]) -> int | None: ...

    def transition(
        self, refund_id: int, expected: Iterable[RefundStatus], new: RefundStatus, **values: Any
    ) -> bool: ...

    def for_payment(self, payment_id: int) -> list[RefundRecord]: ...

    def pending(self, limit: int = 1000) -> list[RefundRecord]: ...


class RefundTransfersRepository(Protocol):
    """Refunds paid back by bank transfer (see :mod:`billfold.collection.refund_transfer`)."""

    def add(self, refund_id: int, reason: TransferReason, message: str, now: datetime) -> bool:
        """Open the transfer of a refund; ``False`` when it was open already."""
        ...

    def get(self, refund_no: str, *, lock: bool = False) -> RefundTransfer | None: ...

    def record_payee(self, refund_id: int, payee: PayeeAccount, by: str, now: datetime) -> bool:
        """Record (or correct) the payee of a transfer not yet approved; ``False`` if it was."""
        ...

    def approve(self, refund_id: int, by: str, now: datetime) -> bool:
        """Approve a recorded, unapproved transfer by someone else than its maker."""
        ...

    def ready(self, refund_nos: Sequence[str] | None = None) -> list[RefundTransfer]:
        """Approved transfers not yet in a file (of ``refund_nos`` if given)."""
        ...

    def mark_filed(self, refund_id: int, file_no: str, now: datetime) -> bool: ...

    def in_file(self, file_no: str) -> list[RefundTransfer]: ...

    def in_transfer(self) -> list[RefundTransfer]:
        """Transfers in a file the bank has not been seen paying."""
        ...

    def mark_confirmed(
        self,
        refund_id: int,
        by: str,
        reason: str,
        statement_ref: str | None,
        now: datetime,
    ) -> None: ...

    def listing(self, biller_ids: Sequence[int] | None = None) -> list[RefundTransfer]: ...


class JournalRepository(Protocol):
    def post(
        self,
        entries: Iterable[JournalEntry],
        now: datetime,
        *,
        payment_id: int | None = None,
        refund_id: int | None = None,
    ) -> None: ...

    def trial_balance(self) -> dict[str, int]: ...

    def bill_balances(self) -> dict[int, int]: ...

    def entries_balance(self) -> list[int]: ...

    def postings(self) -> list[Posting]: ...


class ChainsRepository(Protocol):
    """The journal's hash chains read back, and their daily seals kept."""

    def biller(self, chain: str) -> tuple[int, str] | None: ...

    def heads(self) -> list[ChainHead]: ...

    def head(self, chain: str, *, lock: bool = False) -> ChainHead | None: ...

    def seal_through(self, chain: str, day: date) -> None: ...

    def chains_without_head(self) -> list[str]: ...

    def entries(
        self, chain: str, *, from_day: date | None = None, day: date | None = None
    ) -> Iterator[ChainedEntry]: ...

    def state_before(self, chain: str, day: date) -> tuple[int, str]: ...

    def seals(self, chain: str, *, from_day: date | None = None) -> list[Seal]: ...

    def seal(self, chain: str, day: date) -> tuple[Seal, str | None] | None: ...

    def add_seal(
        self, seal: Seal, biller_id: int | None, event_id: str | None, now: datetime
    ) -> None: ...


class OutboxRepository(Protocol):
    def add(
        self, event_type: str, biller_id: int | None, payload: dict[str, Any], now: datetime
    ) -> str: ...

    def flush(self) -> None: ...

    def discard(self) -> None: ...


class AuditRepository(Protocol):
    def append(
        self,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str,
        reason: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        now: datetime,
    ) -> None: ...

    def list(
        self, target_type: str | None = None, target_id: str | None = None
    ) -> list[dict[str, Any]]: ...


class ChannelsRepository(Protocol):
    def configs(self, biller_id: int) -> list[ChannelConfig]: ...

    def order_settings(
        self, order_no: str, channel: str
    ) -> tuple[Order | None, str | None, ChannelConfig | None]: ...

    def save_config(self, biller_id: int, config: ChannelConfig, now: datetime) -> None: ...

    def remember_nonce(self, channel: str, nonce: str, now: datetime) -> bool: ...

    def forget_nonces_before(self, before: datetime) -> int: ...


class ListsRepository(Protocol):
    """The back office's lists (:mod:`billfold.collection.lists`), one repository per list."""

    def fetch(self, query: ListQuery) -> tuple[list[dict[str, Any]], tuple[Any, int] | None]:
        """Up to ``query.limit`` rows (codes, not labels), filtered — the tenant first — in
        the database, and the position (sort key, id) of the last one when more follow."""
        ...


class ConfirmationReads(NamedTuple):
    """What confirming a payment reads first: the payment if the transaction was seen
    before, else the order (locked), its biller's fee context and its bills (locked)."""

    seen: PaymentRecord | None
    order: Order | None
    context: FeeContext | None
    bills: list[Bill]


class UnitOfWork(Protocol):
    @property
    def billers(self) -> BillersRepository: ...
    @property
    def payers(self) -> PayersRepository: ...
    @property
    def bills(self) -> BillsRepository: ...
    @property
    def orders(self) -> OrdersRepository: ...
    @property
    def payments(self) -> PaymentsRepository: ...
    @property
    def refunds(self) -> RefundsRepository: ...
    @property
    def journal(self) -> JournalRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def channels(self) -> ChannelsRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def confirmation_reads(
        self, channel: str, channel_txn_id: str, order_no: str
    ) -> ConfirmationReads: ...


class ListsUnitOfWork(Protocol):
    """What the lists need: the billers (to resolve a biller filter) and the lists."""

    @property
    def billers(self) -> BillersRepository: ...
    @property
    def lists(self) -> ListsRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class TimelineRepository(Protocol):
    def for_bill(self, bill: Bill, biller_code: str) -> list[TimelineEntry]:
        """Every entry about ``bill`` of the biller ``biller_code``, in any order."""
        ...


class TimelineUnitOfWork(Protocol):
    """What the timeline needs: the billers, the bills and the timeline's queries."""

    @property
    def billers(self) -> BillersRepository: ...
    @property
    def bills(self) -> BillsRepository: ...
    @property
    def timeline(self) -> TimelineRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ApprovalsRepository(Protocol):
    def add(
        self,
        *,
        kind: str,
        biller_id: int | None,
        payload: dict[str, Any],
        maker: str,
        reason: str,
        now: datetime,
    ) -> Approval: ...

    def get(self, approval_id: int) -> Approval | None: ...

    def decide(
        self,
        approval_id: int,
        state: ApprovalState,
        *,
        checker: str,
        reason: str,
        now: datetime,
    ) -> bool:
        """``proposed`` → ``state`` only if still proposed (the winner of a race: True)."""
        ...

    def record_result(self, approval_id: int, result: dict[str, Any]) -> None: ...

    def list(
        self, *, state: ApprovalState | None = None, biller_id: int | None = None
    ) -> list[Approval]: ...

    def policy(self, biller_id: int, kind: str) -> Policy | None: ...

    def set_policy(
        self, biller_id: int, policy: Policy, *, actor: str, now: datetime
    ) -> Policy | None: ...


class ApprovalsUnitOfWork(UnitOfWork, Protocol):
    @property
    def approvals(self) -> ApprovalsRepository: ...


class RefundTransferUnitOfWork(UnitOfWork, Protocol):
    """The core's unit of work and the bank-transfer refunds' repository."""

    @property
    def refund_transfers(self) -> RefundTransfersRepository: ...


class JournalUnitOfWork(UnitOfWork, Protocol):
    """The core's unit of work, plus the journal's chains and seals."""

    @property
    def chains(self) -> ChainsRepository: ...


U_co = TypeVar("U_co", covariant=True)


class Runtime(Protocol[U_co]):
    """What a desk (a class of use cases) needs from whoever hosts it: a fresh unit of work
    per call and the clock. :class:`billfold.engine.Engine` is one; a test may pass its own.
    Each package names the unit of work it needs (``Runtime[SettlementUnitOfWork]``), so a
    desk never learns which database, or which adapter, is behind it."""

    @property
    def clock(self) -> Clock: ...

    def uow(self) -> U_co: ...
