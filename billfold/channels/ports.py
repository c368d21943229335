"""Ports: what the channels need from persistence and from their host, as Protocols.

The SQL repositories (:mod:`billfold.adapters.db.pos`, :mod:`billfold.adapters.db.mandates`)
implement the two repositories; :class:`~billfold.adapters.db.uow.SqlUnitOfWork` offers them
as ``uow.pos`` and ``uow.mandates``. A channel desk never learns which database is behind
them. (Kept in step with the adapters by ``tests/unit/adapters/db/test_ports_in_step.py``,
and by mypy wherever an :class:`~billfold.engine.Engine` is handed to a channel as its host.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from billfold.channels.pos_batch import Batch, PosKind, PosRecord, Terminal, TerminalStatus
from billfold.collection.bill import Bill
from billfold.collection.confirming import ConfirmResult
from billfold.collection.mandate import Debit, DebitStatus, Mandate, MandateStatus
from billfold.collection.order import Order
from billfold.collection.payer import Payer
from billfold.collection.payment import PaymentRecord
from billfold.collection.ports import Runtime, UnitOfWork
from billfold.collection.refund import RefundRecord
from billfold.collection.refund_transfer import RefundTransfer, TransferReason
from billfold.merchants.biller import Biller
from billfold.merchants.channel_config import ChannelConfig

__all__ = ["ChannelHost", "ChannelsUnitOfWork", "MandatesRepository", "PosRepository"]


class PosRepository(Protocol):
    """POS terminals, their batches and messages, and a batch as the core records it."""

    def add_terminal(
        self, terminal_id: str, biller_id: int, sub_unit: str | None, now: datetime
    ) -> Terminal: ...

    def terminal(self, terminal_id: str) -> Terminal | None: ...

    def terminals(self, biller_id: int | None = None) -> list[Terminal]: ...

    def set_status(self, terminal_pk: int, status: TerminalStatus, now: datetime) -> None: ...

    def batch(self, terminal_pk: int, batch_no: str, *, lock: bool = False) -> Batch | None: ...

    def open_batch(self, terminal_pk: int, batch_no: str, day: date, now: datetime) -> Batch: ...

    def close_batch(self, batch_id: int, agreed: bool, report: str, now: datetime) -> bool: ...

    def message(
        self, terminal_pk: int, batch_no: str, trace_no: str, kind: PosKind
    ) -> PosRecord | None: ...

    def record(self, values: dict[str, Any]) -> None: ...

    def void_of(self, terminal_pk: int, batch_no: str, original_txn: str) -> PosRecord | None: ...

    def batch_sales(self, prefix: str) -> list[tuple[str, bool, int]]: ...

    def batch_voids(self, terminal_pk: int, batch_no: str) -> list[tuple[str, str, int]]: ...

    def batch_refunds(self, prefix: str) -> list[tuple[str, int]]: ...


class MandatesRepository(Protocol):
    """Auto-debit mandates and their debits (lock order: a debit, then its mandate)."""

    def add(self, mandate: Mandate, now: datetime) -> int: ...

    def get(self, mandate_id: int, *, lock: bool = False) -> Mandate | None: ...

    def get_by_no(self, mandate_no: str, *, lock: bool = False) -> Mandate | None: ...

    def find(
        self, biller_id: int | None = None, statuses: Iterable[MandateStatus] | None = None
    ) -> list[Mandate]: ...

    def live_for(self, biller_id: int, payer_id: int) -> list[Mandate]: ...

    def save_state(self, mandate: Mandate, expected: MandateStatus, now: datetime) -> bool: ...

    def past_validity(self, before: date) -> list[Mandate]: ...

    def add_debit(self, values: dict[str, Any]) -> int | None: ...

    def debit(self, debit_id: int) -> Debit | None: ...

    def debits(self, mandate_id: int) -> list[Debit]: ...

    def debited_bill_ids(self, mandate_id: int) -> set[int]: ...

    def claim_due(self, now: datetime, skip: Iterable[int] = ()) -> Debit | None: ...

    def update_debit(
        self,
        debit_id: int,
        expected: Iterable[DebitStatus],
        *,
        at_attempt: int | None = None,
        **values: Any,
    ) -> bool: ...

    def open_debits(self, mandate_id: int) -> list[Debit]: ...

    def month_used(self, mandate_id: int, since: date, exclude_debit_id: int) -> int: ...


class ChannelsUnitOfWork(UnitOfWork, Protocol):
    """The core's unit of work plus the repositories only channels use."""

    @property
    def pos(self) -> PosRepository: ...
    @property
    def mandates(self) -> MandatesRepository: ...


class ChannelHost(Runtime[ChannelsUnitOfWork], Protocol):
    """What a channel needs from whoever hosts it: a unit of work per call, the clock, and
    the core's collection verbs, each one transaction (the core's exactly-once ``confirm``
    among them). :class:`billfold.engine.Engine` is one; a test may pass its own."""

    def biller(self, code: str) -> Biller: ...

    def channel_configs(self, code: str) -> list[ChannelConfig]: ...

    def order_channel_settings(
        self, order_no: str, channel: str
    ) -> tuple[Order | None, str | None, ChannelConfig | None]:
        """The order, its biller's code and the biller's config of ``channel``, as they are
        now, in one round trip (``None`` for what is not there)."""
        ...

    def remember_nonce(self, channel: str, nonce: str) -> bool: ...

    def add_bill(self, biller_code: str, payer: Payer, bill: Bill) -> Bill: ...

    def bill(self, biller_code: str, bill_no: str) -> Bill: ...

    def bills_for(
        self, identifier: str, biller_code: str | None = None
    ) -> list[tuple[Biller, Payer, Bill]]: ...

    def create_order(
        self,
        biller_code: str,
        bill_nos: Iterable[str],
        *,
        amount_fen: int | None = None,
        channel: str | None = None,
        idempotency_key: str | None = None,
        ttl: timedelta = ...,
    ) -> Order: ...

    def order(self, order_no: str) -> Order: ...

    def start_payment(self, order_no: str, channel: str) -> Order: ...

    def confirm(
        self,
        channel: str,
        channel_txn_id: str,
        order_no: str,
        amount_fen: int,
        paid_at: datetime | None = None,
        currency: str = "CNY",
        on_credit: tuple[tuple[str, dict[str, Any]], ...] = (),
    ) -> ConfirmResult: ...

    def payment(self, payment_id: int) -> PaymentRecord: ...

    def refund(
        self,
        payment_id: int,
        amount_fen: int,
        *,
        request_id: str,
        reason: str,
        requested_by: str,
    ) -> RefundRecord: ...

    def complete_refund(
        self, refund_no: str, *, succeeded: bool = True, channel_refund_id: str | None = None
    ) -> RefundRecord: ...

    def pending_refunds(self) -> list[RefundRecord]: ...

    def refund_needs_transfer(
        self, refund_no: str, reason: TransferReason, message: str
    ) -> RefundTransfer: ...

    def reverse(
        self,
        channel: str,
        channel_txn_id: str,
        *,
        reason: str,
        requested_by: str,
        order_no: str = "",
    ) -> PaymentRecord: ...

    def paying_orders(self, since: datetime, channels: list[str]) -> list[str]: ...

    def fail_order(self, order_no: str, channel: str, reason: str) -> bool: ...
