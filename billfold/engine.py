"""The library entry point: ``Engine.from_url(url, clock=...)``.

An :class:`Engine` owns a database engine and a clock and runs the use cases, each in its
own unit of work (one database transaction).

Importing this module imports little: the database layer, the unit of work's repositories
and each use case are imported by the method that runs them, so that a command that reads
one list does not import the confirmation, the settlement desks or the bill importer.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from billfold.clock import Clock, SystemClock, business_date
from billfold.collection.order import DEFAULT_ORDER_TTL
from billfold.errors import InvariantViolated, NotFound

if TYPE_CHECKING:  # each method imports what it runs (see the module's docstring)
    from sqlalchemy import Engine as SqlEngine

    from billfold.adapters.db.uow import SqlUnitOfWork
    from billfold.collection.bill import Bill
    from billfold.collection.bill_actions import BillChange
    from billfold.collection.confirming import ConfirmResult
    from billfold.collection.crediting import CreditResult
    from billfold.collection.listing import Page
    from billfold.collection.order import Order
    from billfold.collection.payer import Payer
    from billfold.collection.payment import PaymentRecord
    from billfold.collection.refund import RefundRecord
    from billfold.collection.refund_transfer import RefundTransfer, TransferReason
    from billfold.collection.timeline import TimelineEntry
    from billfold.merchants.biller import Biller, BillerStatus, Limits, LookupCheck
    from billfold.merchants.channel_config import ChannelConfig
    from billfold.merchants.fees import FeeRule

__all__ = ["Engine"]


@cache
def _log() -> Any:
    """billfold's structlog logger, structlog imported when the engine first logs."""
    import structlog

    return structlog.get_logger("billfold")


class Engine:
    """billfold, embedded. Every method is one transaction; bad input changes nothing."""

    def __init__(
        self, db: SqlEngine, clock: Clock | None = None, *, cursor_key: bytes | None = None
    ) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.cursor_key = cursor_key or _cursor_key(db)

    @classmethod
    def from_url(
        cls, url: str | None = None, *, clock: Clock | None = None, upgrade: bool = False
    ) -> Engine:
        """Connect to ``url`` (default: ``BILLFOLD_DATABASE_URL`` or ``sqlite:///billfold.db``);
        with ``upgrade=True`` bring the schema to the newest migration first."""
        from billfold.adapters.db.connect import database_url_from_env, make_engine

        engine = cls(make_engine(database_url_from_env(url)), clock)
        if upgrade:
            engine.upgrade()
        return engine

    def upgrade(self) -> None:
        from billfold.adapters.db import migrate

        migrate.upgrade(self.db)

    def uow(self) -> SqlUnitOfWork:
        from billfold.adapters.db.uow import SqlUnitOfWork

        return SqlUnitOfWork(self.db)

    def close(self) -> None:
        self.db.dispose()

    # -- billers ------------------------------------------------------------------------------
    def create_biller(self, biller: Biller, *, actor: str = "system") -> Biller:
        from billfold.merchants import services as merchant_services

        return merchant_services.create_biller(self.uow(), self.clock, biller, actor=actor)

    def biller(self, code: str) -> Biller:
        with self.uow() as uow:
            found = uow.billers.get_by_code(code)
        if found is None:
            raise NotFound(f"biller {code!r} does not exist")
        return found

    def billers(self) -> list[Biller]:
        with self.uow() as uow:
            return uow.billers.list()

    def set_biller_status(
        self, code: str, status: BillerStatus, *, actor: str, reason: str
    ) -> Biller:
        from billfold.merchants import services as merchant_services

        return merchant_services.set_status(
            self.uow(), self.clock, code, status, actor=actor, reason=reason
        )

    def set_fee_rule(self, code: str, rule: FeeRule, *, actor: str, reason: str) -> Biller:
        from billfold.merchants import services as merchant_services

        return merchant_services.set_fee_rule(
            self.uow(), self.clock, code, rule, actor=actor, reason=reason
        )

    def set_limits(self, code: str, limits: Limits, *, actor: str, reason: str) -> Biller:
        from billfold.merchants import services as merchant_services

        return merchant_services.set_limits(
            self.uow(), self.clock, code, limits, actor=actor, reason=reason
        )

    def set_lookup_check(self, code: str, check: LookupCheck, *, actor: str, reason: str) -> Biller:
        """What the payer pages ask besides the identifier before they list bills."""
        from billfold.merchants import services as merchant_services

        return merchant_services.set_lookup_check(
            self.uow(), self.clock, code, check, actor=actor, reason=reason
        )

    # -- channels -----------------------------------------------------------------------------
    def set_channel_config(
        self, code: str, config: ChannelConfig, *, actor: str, reason: str
    ) -> None:
        """Enable, disable or configure a channel for a biller (audited)."""
        from billfold.merchants import services as merchant_services

        merchant_services.set_channel_config(
            self.uow(), self.clock, code, config, actor=actor, reason=reason
        )

    def channel_configs(self, code: str) -> list[ChannelConfig]:
        with self.uow() as uow:
            biller = uow.billers.get_by_code(code)
            if biller is None or biller.id is None:
                raise NotFound(f"biller {code!r} does not exist")
            return uow.channels.configs(biller.id)

    def order_channel_settings(
        self, order_no: str, channel: str
    ) -> tuple[Order | None, str | None, ChannelConfig | None]:
        """The order numbered ``order_no``, its biller's code and the biller's config of
        ``channel`` as they are now (``None`` for what is not there): what verifying a
        notification reads, in one round trip (once more on a fresh connection if the pooled
        one was dead)."""
        from billfold.adapters.db.channels import read_order_settings
        from billfold.adapters.db.liveness import once_more_if_dead

        return once_more_if_dead(lambda: read_order_settings(self.db, order_no, channel))

    def remember_nonce(self, channel: str, nonce: str) -> bool:
        """Record a notification nonce in the database; ``True`` if seen before (a replay)."""
        with self.uow() as uow:
            seen = uow.channels.remember_nonce(channel, nonce, self.clock.now())
            uow.commit()
            return seen

    # -- bills --------------------------------------------------------------------------------
    def add_bill(self, biller_code: str, payer: Payer, bill: Bill) -> Bill:
        """Store one bill (``bill.biller_id``/``payer_id`` are filled in)."""
        from billfold.collection.importer import add_bill

        return add_bill(self.uow(), self.clock, biller_code, payer, bill)

    def bill(self, biller_code: str, bill_no: str) -> Bill:
        with self.uow() as uow:
            biller = uow.billers.get_by_code(biller_code)
            found = uow.bills.get_by_no(biller.id, bill_no) if biller and biller.id else None
        if found is None:
            raise NotFound(f"bill {bill_no!r} does not exist for biller {biller_code}")
        return found

    def bills_for(
        self, identifier: str, biller_code: str | None = None
    ) -> list[tuple[Biller, Payer, Bill]]:
        """Payable bills for a payer identifier (学号, 户号, decision number, phone, contract)."""
        with self.uow() as uow:
            biller_id = None
            if biller_code is not None:
                only = uow.billers.get_by_code(biller_code)
                if only is None:
                    raise NotFound(f"biller {biller_code!r} does not exist")
                biller_id = only.id
            found: list[tuple[Biller, Payer, Bill]] = []
            for owner_id, payer in uow.payers.find(biller_id, identifier):
                biller = uow.billers.get(owner_id)
                if not (biller is not None and payer.id is not None):
                    raise InvariantViolated("expected biller is not None and payer.id is not None")
                found.extend((biller, payer, bill) for bill in uow.bills.for_payer([payer.id]))
            for bill in uow.bills.by_decision_no(identifier):
                if bill.payable and (biller_id is None or bill.biller_id == biller_id):
                    owner = uow.billers.get(bill.biller_id)
                    fined = uow.payers.get(bill.payer_id)
                    if not (owner is not None and fined is not None):
                        raise InvariantViolated("expected owner is not None and fined is not None")
                    if all(b.id != bill.id for _, _, b in found):
                        found.append((owner, fined, bill))
            return found

    def waive(
        self,
        biller_code: str,
        bill_no: str,
        amount_fen: int,
        *,
        reason: str,
        granted_by: str,
        request_id: str,
        item_code: str | None = None,
    ) -> Bill:
        """Waive part of a bill, once per ``request_id`` (a repeat returns the bill)."""
        from billfold.collection.bill_actions import WaiverRequest, waive_bill

        req = WaiverRequest(
            biller_code, bill_no, amount_fen, reason, granted_by, request_id, item_code
        )
        return waive_bill(self.uow(), self.clock, req)

    def cancel_bill(self, biller_code: str, bill_no: str, *, reason: str, by: str) -> Bill:
        from billfold.collection.bill_actions import BillCancellation, cancel_bill

        req = BillCancellation(biller_code, bill_no, reason, by)
        return cancel_bill(self.uow(), self.clock, req)

    def change_bill(self, change: BillChange) -> Bill:
        """Change a bill's amounts, items or due date before it is paid (audited); a
        part-paid bill only so that what was paid stays valid."""
        from billfold.collection.bill_actions import change_bill

        return change_bill(self.uow(), self.clock, change)

    def import_bills(self, biller_code: str, data: bytes, **kwargs: Any) -> Any:
        """Import a bill file (:func:`billfold.collection.importer.import_bills`). The one
        method that is not one transaction: the file is checked first, then written in
        chunks of 5,000 bills, each committed (docs/bill-import.md)."""
        from billfold.collection.importer import import_bills

        report = import_bills(self.uow(), self.clock, biller_code, data, **kwargs)
        _log().info(
            "bills imported",
            biller=biller_code,
            file=report.file_name,
            created=report.created,
            unchanged=report.unchanged,
            rejected=report.rejected,
        )
        return report

    # -- orders and payments ---------------------------------------------------------------------
    def create_order(
        self,
        biller_code: str,
        bill_nos: Iterable[str],
        *,
        amount_fen: int | None = None,
        channel: str | None = None,
        idempotency_key: str | None = None,
        ttl: timedelta = DEFAULT_ORDER_TTL,
    ) -> Order:
        from billfold.collection.ordering import NewOrder, create_order

        cmd = NewOrder(biller_code, tuple(bill_nos), amount_fen, channel, idempotency_key, ttl)
        return create_order(self.uow(), self.clock, cmd)

    def order(self, order_no: str) -> Order:
        with self.uow() as uow:
            found = uow.orders.get_by_no(order_no)
        if found is None:
            raise NotFound(f"order {order_no!r} does not exist")
        return found

    def start_payment(self, order_no: str, channel: str) -> Order:
        from billfold.collection.ordering import start_payment

        return start_payment(self.uow(), self.clock, order_no, channel)

    def confirm(
        self,
        channel: str,
        channel_txn_id: str,
        order_no: str,
        amount_fen: int,
        paid_at: datetime | None = None,
        currency: str = "CNY",
        on_credit: tuple[tuple[str, dict[str, Any]], ...] = (),
    ) -> ConfirmResult:
        """Confirm a payment the channel reports. Exactly once per (channel, transaction id).

        ``on_credit`` events are written to the outbox in the same transaction, only if the
        payment is credited (a stall's voice broadcast, for instance)."""
        from billfold.adapters.db.liveness import once_more_if_dead
        from billfold.collection.confirming import confirm_payment
        from billfold.collection.payment import Confirmation

        conf = Confirmation(
            channel,
            channel_txn_id,
            order_no,
            amount_fen,
            paid_at or self.clock.now(),
            currency,
            on_credit,
        )
        # a pooled connection found dead is replaced and the confirmation run again, unless
        # it had begun to commit (its outcome unknown: the caller's retry settles it)
        result = once_more_if_dead(lambda: confirm_payment(self.uow(), self.clock, conf))
        _log().info(
            "payment confirmed" if not result.duplicate else "payment repeated",
            channel=channel,
            channel_txn_id=channel_txn_id,
            order_no=order_no,
            amount_fen=amount_fen,
            status=result.status.value,
            reason=result.payment.reason,
        )
        return result

    def payment(self, payment_id: int) -> PaymentRecord:
        with self.uow() as uow:
            found = uow.payments.get(payment_id)
        if found is None:
            raise NotFound(f"payment {payment_id} does not exist")
        return found

    def refund(
        self,
        payment_id: int,
        amount_fen: int,
        *,
        request_id: str,
        reason: str,
        requested_by: str,
    ) -> RefundRecord:
        from billfold.collection.refunding import RefundRequest, refund_payment

        req = RefundRequest(payment_id, amount_fen, request_id, reason, requested_by)
        refund = refund_payment(self.uow(), self.clock, req)
        _log().info(
            "refund requested",
            payment_id=payment_id,
            refund_no=refund.refund_no,
            amount_fen=amount_fen,
            requested_by=requested_by,
        )
        return refund

    def credit_held(self, payment_id: int, *, by: str, reason: str) -> CreditResult:
        """After review, credit a payment held for an amount mismatch to its order's bills,
        exactly once. Less than the order's total is a part payment (the bills must take
        part payments); more credits the order's total and queues a refund of the rest.
        Refused, changing nothing, when the order or its bills cannot take it any more."""
        from billfold.collection.crediting import credit_held_payment

        result = credit_held_payment(self.uow(), self.clock, payment_id, by=by, reason=reason)
        _log().info(
            "held payment credit repeated" if result.already_credited else "held payment credited",
            payment_id=payment_id,
            credited_fen=result.credited_fen,
            returned_fen=result.refund.amount_fen if result.refund else 0,
            by=by,
        )
        return result

    def complete_refund(
        self, refund_no: str, *, succeeded: bool = True, channel_refund_id: str | None = None
    ) -> RefundRecord:
        from billfold.collection.refunding import complete_refund

        return complete_refund(
            self.uow(),
            self.clock,
            refund_no,
            succeeded=succeeded,
            channel_refund_id=channel_refund_id,
        )

    def refund_needs_transfer(
        self, refund_no: str, reason: TransferReason, message: str, *, by: str = "billfold"
    ) -> RefundTransfer:
        """The channel cannot pay a refund back: it is paid by bank transfer instead."""
        from billfold.collection.refund_transferring import fall_back_to_transfer

        return fall_back_to_transfer(self.uow(), self.clock, refund_no, reason, message, by=by)

    def pending_refunds(self) -> list[RefundRecord]:
        with self.uow() as uow:
            return uow.refunds.pending()

    def reverse(
        self,
        channel: str,
        channel_txn_id: str,
        *,
        reason: str,
        requested_by: str,
        order_no: str = "",
    ) -> PaymentRecord:
        from billfold.collection.reversing import ReversalRequest, reverse_payment

        req = ReversalRequest(channel, channel_txn_id, reason, requested_by, order_no)
        return reverse_payment(self.uow(), self.clock, req)

    def paying_orders(self, since: datetime, channels: list[str]) -> list[str]:
        """Order numbers sent to one of ``channels`` at or before ``since``, still paying."""
        with self.uow() as uow:
            return uow.orders.paying_since(since, channels)

    def expire_orders(self) -> int:
        from billfold.collection.expiry import expire_orders

        return expire_orders(self.uow(), self.clock)

    def cancel_order(
        self, order_no: str, *, reason: str, by: str, biller_id: int | None = None
    ) -> Order:
        """Cancel an order nobody is paying yet (audited); a payment arriving for it later
        goes to suspense with a refund queued. ``biller_id`` limits it to that biller's."""
        from billfold.collection.expiry import cancel_order

        return cancel_order(
            self.uow(), self.clock, order_no, reason=reason, by=by, biller_id=biller_id
        )

    def fail_order(self, order_no: str, channel: str, reason: str) -> bool:
        """The channel reports the attempt failed or the order closed unpaid: a paying order
        of that channel becomes failed. False when it had moved on (see expiry.fail_order)."""
        from billfold.collection.expiry import fail_order

        return fail_order(self.uow(), self.clock, order_no, channel, reason)

    # -- finding anything ------------------------------------------------------------------------
    def find(
        self, list_name: str, params: Mapping[str, str] | None = None, *, tenant: int | None = None
    ) -> Page:
        """One page of a back-office list (``bills``, ``orders``, ``payments``, ``refunds``,
        ``suspense``, ``audit``, ``outbox_events``, ``deliveries``): ``params`` are its
        filters, ``sort``, ``limit`` and ``cursor`` as text; ``tenant`` (a biller's id)
        limits it to that biller, in SQL. Bad filters or cursors raise ``BadQuery``."""
        from billfold.collection.finding import find
        from billfold.collection.lists import LISTS

        spec = LISTS.get(list_name)
        if spec is None:
            raise NotFound(f"list {list_name!r} does not exist; use one of {', '.join(LISTS)}")
        return find(
            self.uow(), self.clock, spec, params or {}, cursor_key=self.cursor_key, tenant=tenant
        )

    def bill_timeline(
        self, biller_code: str, bill_no: str, *, tenant: int | None = None
    ) -> tuple[Bill, list[TimelineEntry]]:
        """The bill and everything that happened to it, oldest first (orders, payments,
        refunds, waivers, changes, cancellation, reminders), with who and why."""
        from billfold.collection.timeline import bill_timeline

        return bill_timeline(self.uow(), biller_code, bill_no, tenant=tenant)

    def export_list(
        self,
        list_name: str,
        params: Mapping[str, str],
        fmt: Literal["csv", "xlsx"],
        *,
        tenant: int | None = None,
        unmasked: bool = False,
        by: str = "",
        reason: str = "",
        max_rows: int = 100_000,
    ) -> bytes:
        """Every page of a list (up to ``max_rows``) as a file people read: Chinese headers,
        codes as labels, personal data masked — or, with ``unmasked``, in full, which needs
        ``by`` and ``reason`` and is audited (``export_unmasked``) once the query is found good
        and before the file is made (a refused query or a missing reason audits nothing)."""
        from billfold.collection.lists import LISTS
        from billfold.settlement.exports import write_sheet
        from billfold.settlement.list_exports import list_sheet

        wanted = {k: v for k, v in params.items() if k not in ("cursor", "limit")}
        wanted["limit"] = "500"
        page = self.find(list_name, wanted, tenant=tenant)
        if unmasked:
            self.record_unmasked_export(list_name, wanted, by=by, reason=reason)
        rows = list(page.rows)
        while page.next_cursor and len(rows) < max_rows:
            page = self.find(list_name, {**wanted, "cursor": page.next_cursor}, tenant=tenant)
            rows.extend(page.rows)
        out = io.BytesIO()
        write_sheet(list_sheet(LISTS[list_name], rows[:max_rows], mask=not unmasked), out, fmt)
        return out.getvalue()

    def record_unmasked_export(
        self, list_name: str, params: Mapping[str, str], *, by: str, reason: str
    ) -> None:
        """Audit that ``by`` exported a list with personal data unmasked, and why."""
        from billfold.collection.finding import record_unmasked_export

        record_unmasked_export(self.uow(), self.clock, list_name, params, by=by, reason=reason)

    # -- the books ----------------------------------------------------------------------------
    def trial_balance(self) -> dict[str, int]:
        """Balance per journal account (debits positive). Sums to zero in a sound journal."""
        with self.uow() as uow:
            return uow.journal.trial_balance()

    def check_books(self) -> list[str]:
        """Every way the books disagree with the bills, as readable lines (empty = sound)."""
        problems: list[str] = []
        with self.uow() as uow:
            balance = uow.journal.trial_balance()
            if sum(balance.values()) != 0:
                problems.append(f"trial balance sums to {sum(balance.values())} fen, not 0")
            for entry_id in uow.journal.entries_balance():
                problems.append(f"journal entry {entry_id} does not balance")
            journal = uow.journal.bill_balances()
            for biller in uow.billers.list():
                if biller.id is None:
                    raise InvariantViolated("biller.id is missing")
                for bill in uow.bills.for_biller(biller.id):
                    if bill.id is None:
                        raise InvariantViolated("bill.id is missing")
                    paid = bill.paid_fen + bill.late_fee_paid_fen
                    if journal.get(bill.id, 0) != paid:
                        problems.append(
                            f"bill {biller.code}/{bill.bill_no}: paid {paid} fen, "
                            f"journal says {journal.get(bill.id, 0)} fen"
                        )
        return problems

    def audit_log(
        self, target_type: str | None = None, target_id: str | None = None
    ) -> list[dict[str, Any]]:
        with self.uow() as uow:
            return uow.audit.list(target_type, target_id)

    def today(self, biller_code: str | None = None) -> Any:
        tz = self.biller(biller_code).timezone if biller_code else "Asia/Shanghai"
        return business_date(self.clock.now(), tz)


def _cursor_key(db: SqlEngine) -> bytes:
    """The key page cursors are signed with: ``BILLFOLD_CURSOR_KEY`` (set the same on every
    process serving one database), else one derived from the database's address (without
    its password), so a cursor is refused by another database."""
    configured = os.environ.get("BILLFOLD_CURSOR_KEY")
    if configured:
        return configured.encode()
    address = db.url.render_as_string(hide_password=True)
    return hashlib.sha256(f"billfold-cursor|{address}".encode()).digest()
