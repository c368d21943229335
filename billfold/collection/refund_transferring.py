"""Use cases of refunds paid back by bank transfer (see :mod:`.refund_transfer`).

* :func:`fall_back_to_transfer` — the channel refused a refund for good: it needs a transfer;
* :func:`record_payee` — the clerk records who to pay (the maker);
* :func:`approve_transfer` — a second person approves it (the checker; never the maker). This
  is the one call a generic maker-checker routes bank-transfer refunds through;
* :func:`confirm_transfer` — the bank statement, or a person with a reason, says it was paid.

Putting approved transfers into a bank transfer file lives with the bank's files
(:mod:`billfold.settlement.refund_transfer_file`). Every step is one unit of work, audited,
and exactly once: a repeat answers with the transfer as it is and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billfold.clock import Clock
from billfold.collection.ports import RefundTransferUnitOfWork
from billfold.collection.refund import RefundRecord, RefundStatus, sources_of
from billfold.collection.refund_transfer import (
    PayeeAccount,
    RefundTransfer,
    TransferReason,
    confirmed_entry,
)
from billfold.collection.refunding import refund_payload
from billfold.errors import InvalidInput, InvalidTransition, InvariantViolated, NotFound
from billfold.money import format_yuan

__all__ = [
    "TransferConfirmation",
    "approve_transfer",
    "confirm_on",
    "confirm_transfer",
    "fall_back_to_transfer",
    "load_transfer",
    "record_payee",
]


def _who(by: str, what: str) -> str:
    who = by.strip()
    if not who:
        raise InvalidInput(f"by: say who {what}")
    return who[:100]


def load_transfer(
    uow: RefundTransferUnitOfWork, refund_no: str, *, lock: bool = False
) -> RefundTransfer:
    found = uow.refund_transfers.get(refund_no, lock=lock)
    if found is None:
        raise NotFound(f"refund {refund_no!r} is not waiting for a bank transfer")
    return found


def fall_back_to_transfer(
    uow: RefundTransferUnitOfWork,
    clock: Clock,
    refund_no: str,
    reason: TransferReason,
    message: str,
    *,
    by: str = "billfold",
) -> RefundTransfer:
    """The channel cannot pay ``refund_no`` back (``reason``): it needs a bank transfer.

    The money stays in refunds payable (no journal entry: nothing moved). A repeat answers
    with the transfer as it is."""
    now = clock.now()
    with uow:
        refund = uow.refunds.get_by_no(refund_no, lock=True)
        if refund is None:
            raise NotFound(f"refund {refund_no!r} does not exist")
        if refund.status is not RefundStatus.NEEDS_TRANSFER:
            moved = uow.refunds.transition(
                refund.id, sources_of(RefundStatus.NEEDS_TRANSFER), RefundStatus.NEEDS_TRANSFER
            )
            if not moved and uow.refund_transfers.get(refund_no) is None:
                raise InvalidTransition(
                    f"refund {refund_no} is {refund.status.value}; it cannot go by bank transfer"
                )
        if uow.refund_transfers.add(refund.id, reason, message or reason.value, now):
            payment = uow.payments.get(refund.payment_id)
            if payment is None:
                raise InvariantViolated("payment is missing")
            done = _refund(uow, refund_no)
            payload = {**refund_payload(done, payment), "transfer_reason": reason.value}
            uow.outbox.add("refund.needs_transfer", payment.biller_id, payload, now)
            uow.audit.append(
                actor=by,
                action="refund_needs_transfer",
                target_type="refund",
                target_id=refund_no,
                reason=f"{reason.value}: {message}"[:200],
                before={"status": refund.status.value},
                after={"status": RefundStatus.NEEDS_TRANSFER.value},
                now=now,
            )
        found = load_transfer(uow, refund_no)
        uow.commit()
        return found


def record_payee(
    uow: RefundTransferUnitOfWork,
    clock: Clock,
    refund_no: str,
    payee: PayeeAccount,
    *,
    by: str,
    reason: str = "payee recorded",
) -> RefundTransfer:
    """Record (or correct, until approved) the payee's name, bank and account (the maker)."""
    who = _who(by, "records the payee")
    now = clock.now()
    with uow:
        before = load_transfer(uow, refund_no, lock=True)
        if before.stage.value not in ("awaiting_payee", "awaiting_approval"):
            raise InvalidTransition(
                f"refund {refund_no} is {before.stage.value}; its payee can no longer change"
            )
        if not uow.refund_transfers.record_payee(before.refund_id, payee, who, now):
            raise InvalidTransition(f"refund {refund_no} was approved meanwhile; look it up")
        uow.audit.append(
            actor=who,
            action="refund_transfer_payee",
            target_type="refund",
            target_id=refund_no,
            reason=reason,
            before={"payee": before.payee.masked() if before.payee else None},
            after={"payee": payee.masked()},
            now=now,
        )
        found = load_transfer(uow, refund_no)
        uow.commit()
        return found


def approve_transfer(
    uow: RefundTransferUnitOfWork,
    clock: Clock,
    refund_no: str,
    *,
    checker: str,
    reason: str = "approved",
) -> RefundTransfer:
    """The checker approves a recorded transfer: it goes into the next transfer file.

    Refused, changing nothing, when the checker recorded the payee (the database refuses it
    too) or there is no payee yet. A repeat by anyone answers with the approved transfer."""
    who = _who(checker, "approves the transfer")
    now = clock.now()
    with uow:
        before = load_transfer(uow, refund_no, lock=True)
        if before.approved_by is not None:
            return before
        if before.payee is None or before.recorded_by is None:
            raise InvalidTransition(f"refund {refund_no}: record the payee before approving")
        if before.refund_status is not RefundStatus.NEEDS_TRANSFER:
            raise InvalidTransition(f"refund {refund_no} is {before.refund_status.value}")
        if before.recorded_by == who:
            raise InvalidTransition(
                f"refund {refund_no}: {who} recorded the payee; a second person must approve"
            )
        if not uow.refund_transfers.approve(before.refund_id, who, now):
            raise InvalidTransition(f"refund {refund_no} changed meanwhile; look it up")
        uow.audit.append(
            actor=who,
            action="refund_transfer_approve",
            target_type="refund",
            target_id=refund_no,
            reason=reason,
            before={"approved_by": None},
            after={"approved_by": who, "amount": format_yuan(before.amount_fen)},
            now=now,
        )
        found = load_transfer(uow, refund_no)
        uow.commit()
        return found


@dataclass(frozen=True, slots=True)
class TransferConfirmation:
    """How a transfer was confirmed paid: a statement line's reference, or a person's reason."""

    by: str
    reason: str
    statement_ref: str | None = None

    def __post_init__(self) -> None:
        if not self.by.strip():
            raise InvalidInput("by: say who confirms the transfer was paid")
        if not self.reason.strip():
            raise InvalidInput("reason: say how you know the bank paid it")


def confirm_on(
    uow: RefundTransferUnitOfWork, refund_no: str, how: TransferConfirmation, now: datetime
) -> tuple[RefundTransfer, bool]:
    """Confirm a transfer paid inside an open unit of work (the bank run uses this); returns
    the transfer and whether this call confirmed it (``False``: it was before)."""
    # the refund's row is locked first: a concurrent confirmation waits here, then reads the
    # refund as that one left it (a lock on the joined transfer row would read it stale)
    refund = uow.refunds.get_by_no(refund_no, lock=True)
    before = load_transfer(uow, refund_no)
    if refund is not None and refund.status is RefundStatus.SUCCEEDED:
        return before, False
    moved = uow.refunds.transition(
        before.refund_id,
        [RefundStatus.IN_TRANSFER],
        RefundStatus.SUCCEEDED,
        completed_at=now,
        channel_refund_id=(how.statement_ref or f"BANK-{refund_no}")[:64],
    )
    if not moved:
        raise InvalidTransition(
            f"refund {refund_no} is {before.stage.value}; only a transfer in a file can be "
            "confirmed paid"
        )
    uow.refund_transfers.mark_confirmed(
        before.refund_id, how.by, how.reason, how.statement_ref, now
    )
    uow.journal.post(
        [confirmed_entry(before)], now, payment_id=before.payment_id, refund_id=before.refund_id
    )
    payment = uow.payments.get(before.payment_id)
    if payment is None:
        raise InvariantViolated("payment is missing")
    uow.outbox.add(
        "refund.succeeded", payment.biller_id, refund_payload(_refund(uow, refund_no), payment), now
    )
    uow.audit.append(
        actor=how.by[:100],
        action="refund_transfer_confirm",
        target_type="refund",
        target_id=refund_no,
        reason=how.reason[:200],
        before={"status": RefundStatus.IN_TRANSFER.value},
        after={"status": RefundStatus.SUCCEEDED.value, "statement_ref": how.statement_ref},
        now=now,
    )
    return load_transfer(uow, refund_no), True


def confirm_transfer(
    uow: RefundTransferUnitOfWork, clock: Clock, refund_no: str, how: TransferConfirmation
) -> RefundTransfer:
    """A person confirms, with a reason, that the bank paid a transfer (a repeat is a no-op)."""
    now = clock.now()
    with uow:
        found, _ = confirm_on(uow, refund_no, how, now)
        uow.commit()
        return found


def _refund(uow: RefundTransferUnitOfWork, refund_no: str) -> RefundRecord:
    refund = uow.refunds.get_by_no(refund_no)
    if refund is None:
        raise InvariantViolated("refund is missing")
    return refund
