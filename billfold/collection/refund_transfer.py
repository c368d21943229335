"""Refunds paid back by bank transfer: why the channel could not, to whom, and the journal.

When a channel refuses a refund for good — its refund window closed (WeChat Pay: one year,
Alipay: three months, or as the merchant signed), the payer's card was cancelled, the
payer's account was closed — the money stays in refunds payable and the refund
*needs a bank transfer*. A clerk records the payee's name and bank account, a second person
approves it (maker-checker), it goes out in a bank transfer file, and the bank statement (or
a person, with a reason) confirms it paid. The journal follows every step that moves money:
refunds payable → refund transfers in transit (the file went to the bank) → the collection
account (the bank paid it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billfold.collection.journal import (
    BANK,
    REFUND_TRANSFERS_IN_TRANSIT,
    REFUNDS_PAYABLE,
    JournalEntry,
    Posting,
)
from billfold.collection.refund import RefundStatus
from billfold.errors import InvalidInput
from billfold.masking import mask_account, mask_name
from billfold.money import format_yuan

__all__ = [
    "PayeeAccount",
    "RefundTransfer",
    "TransferReason",
    "TransferStage",
    "confirmed_entry",
    "filed_entry",
]


class TransferReason(StrEnum):
    """Why the channel could not pay the refund back the way the money came."""

    WINDOW_CLOSED = "window_closed"  # past the channel's refund window
    CARD_CANCELLED = "card_cancelled"  # the card the payer paid with is cancelled or frozen
    ACCOUNT_CLOSED = "account_closed"  # the payer's wallet or bank account is closed
    OTHER = "other"  # a person decided (e.g. after the channel refused once too often)


class TransferStage(StrEnum):
    """Where a bank-transfer refund is in its queue (for lists and filters)."""

    AWAITING_PAYEE = "awaiting_payee"  # the clerk must record who to pay
    AWAITING_APPROVAL = "awaiting_approval"  # a second person must approve it
    READY = "ready"  # approved: goes into the next transfer file
    IN_FILE = "in_file"  # sent to the bank; its statement confirms it
    PAID = "paid"
    CANCELLED = "cancelled"


_ACCOUNT = re.compile(r"[0-9]{8,32}")


@dataclass(frozen=True, slots=True)
class PayeeAccount:
    """Who receives the transfer: a name as the bank holds it, an account, the bank."""

    name: str
    account_no: str
    bank_name: str

    def __post_init__(self) -> None:
        name = " ".join(unicodedata.normalize("NFKC", self.name).split())
        account = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", self.account_no))
        bank = " ".join(unicodedata.normalize("NFKC", self.bank_name).split())
        if not 2 <= len(name) <= 60 or any(ch.isdigit() for ch in name):
            raise InvalidInput("payee name: 2-60 characters as the bank holds it, no digits")
        if not _ACCOUNT.fullmatch(account):
            raise InvalidInput(
                f"account: {mask_account(account) or 'empty'} is not a bank account number "
                "(8-32 digits)"
            )
        if not 2 <= len(bank) <= 60:
            raise InvalidInput("bank: the payee's bank and branch (2-60 characters) is required")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "account_no", account)
        object.__setattr__(self, "bank_name", bank)

    def masked(self) -> dict[str, str]:
        return {
            "name": mask_name(self.name),
            "account": mask_account(self.account_no),
            "bank": self.bank_name,
        }


@dataclass(frozen=True, slots=True)
class RefundTransfer:
    """A refund that is, or was, paid back by bank transfer (with its refund's figures)."""

    refund_id: int
    refund_no: str
    payment_id: int
    biller_id: int | None
    amount_fen: int
    refund_status: RefundStatus
    reason: TransferReason
    channel_message: str
    payee: PayeeAccount | None
    recorded_by: str | None
    approved_by: str | None
    file_no: str | None
    confirmed_by: str | None
    confirm_reason: str | None
    statement_ref: str | None
    created_at: datetime
    confirmed_at: datetime | None

    @property
    def stage(self) -> TransferStage:
        if self.refund_status is RefundStatus.SUCCEEDED:
            return TransferStage.PAID
        if self.refund_status is RefundStatus.CANCELLED:
            return TransferStage.CANCELLED
        if self.refund_status is RefundStatus.IN_TRANSFER:
            return TransferStage.IN_FILE
        if self.payee is None:
            return TransferStage.AWAITING_PAYEE
        if self.approved_by is None:
            return TransferStage.AWAITING_APPROVAL
        return TransferStage.READY

    def masked(self) -> dict[str, object]:
        """What every view, log and list shows: the payee masked, the figures whole."""
        return {
            "refund_no": self.refund_no,
            "payment_id": self.payment_id,
            "amount": format_yuan(self.amount_fen),
            "amount_fen": self.amount_fen,
            "stage": self.stage.value,
            "refund_status": self.refund_status.value,
            "reason": self.reason.value,
            "channel_message": self.channel_message,
            "payee": self.payee.masked() if self.payee else None,
            "recorded_by": self.recorded_by,
            "approved_by": self.approved_by,
            "file_no": self.file_no,
            "confirmed_by": self.confirmed_by,
            "confirm_reason": self.confirm_reason,
            "statement_ref": self.statement_ref,
        }


def filed_entry(transfer: RefundTransfer, file_no: str) -> JournalEntry:
    """The file went to the bank: refunds payable → refund transfers in transit."""
    return JournalEntry.build(
        "refund_transfer_filed",
        [
            Posting(REFUNDS_PAYABLE, transfer.amount_fen),
            Posting(REFUND_TRANSFERS_IN_TRANSIT, -transfer.amount_fen),
        ],
        memo=f"refund {transfer.refund_no} sent by bank transfer in {file_no}",
    )


def confirmed_entry(transfer: RefundTransfer) -> JournalEntry:
    """The bank paid it: refund transfers in transit → the collection account."""
    return JournalEntry.build(
        "refund_transfer_paid",
        [
            Posting(REFUND_TRANSFERS_IN_TRANSIT, transfer.amount_fen),
            Posting(BANK, -transfer.amount_fen),
        ],
        memo=f"refund {transfer.refund_no} paid by bank transfer",
    )
