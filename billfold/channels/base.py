"""The one small interface every channel implements, and the values it speaks in.

A channel turns an order into what the payer or terminal needs (:meth:`Channel.start`),
turns the channel's notification into a :class:`ChannelEvent` after verifying it
(:meth:`Channel.parse_notification`), answers what became of an order (:meth:`Channel.query`),
refunds, and closes. Vendor formats never leave the channel's module; declines are values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "Channel",
    "ChannelEvent",
    "CollectRequest",
    "CollectStart",
    "Decline",
    "EventKind",
    "NotificationReply",
    "RefundAnswer",
    "RemoteState",
    "StatusAnswer",
]


class EventKind(StrEnum):
    PAID = "paid"
    FAILED = "failed"  # the payer's attempt failed (declined, cancelled by the payer)
    CLOSED = "closed"  # the channel closed the order unpaid
    REFUNDED = "refunded"  # a refund we asked for was paid out
    REFUND_FAILED = "refund_failed"
    REVERSED = "reversed"  # a terminal reversal (冲正)


class RemoteState(StrEnum):
    PAID = "paid"
    PENDING = "pending"  # the payer has not paid (yet)
    CLOSED = "closed"
    FAILED = "failed"
    NOT_FOUND = "not_found"


class Decline(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    LIMIT_EXCEEDED = "limit_exceeded"
    ACCOUNT_CLOSED = "account_closed"
    NOT_FOUND = "not_found"
    ALREADY_CLOSED = "already_closed"
    CHANNEL_UNAVAILABLE = "channel_unavailable"
    REJECTED = "rejected"
    # a refund the channel can never pay back the way the money came (a bank transfer will)
    REFUND_WINDOW_CLOSED = "refund_window_closed"
    CARD_CANCELLED = "card_cancelled"


@dataclass(frozen=True, slots=True)
class CollectRequest:
    """What a channel needs to collect an order."""

    order_no: str
    biller_code: str
    biller_name: str
    amount_fen: int
    expires_at: datetime
    description: str = ""
    currency: str = "CNY"
    payer_ref: str | None = None  # openid, buyer id, terminal id, mandate number …
    settings: Mapping[str, Any] = field(default_factory=dict)  # the biller's channel config


@dataclass(frozen=True, slots=True)
class CollectStart:
    """What the payer or terminal gets: a QR payload, wallet pay parameters, a prompt …"""

    channel: str
    order_no: str
    action: str  # "scan_qr", "invoke_wallet", "present_card", "open_bank_app", "debit_submitted"
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """A verified fact from a channel, in billfold's words."""

    channel: str
    kind: EventKind
    order_no: str
    channel_txn_id: str
    amount_fen: int
    occurred_at: datetime
    currency: str = "CNY"
    refund_no: str | None = None
    detail: str = ""
    decline: Decline | None = None  # REFUND_FAILED: why, when the channel says


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    state: RemoteState
    event: ChannelEvent | None = None  # for PAID: the payment to confirm


@dataclass(frozen=True, slots=True)
class RefundAnswer:
    """``accepted`` with ``final=False``: the channel took the request but pays it out later
    and will say how it went in a notification (the refund stays pending until then)."""

    accepted: bool
    channel_refund_id: str | None = None
    decline: Decline | None = None
    message: str = ""
    final: bool = True


@dataclass(frozen=True, slots=True)
class NotificationReply:
    """How to answer the channel's HTTP notification (each channel expects its own)."""

    status_code: int
    content_type: str
    body: bytes


class Channel(Protocol):
    """One channel. ``name`` is what payments and journal accounts are keyed by."""

    @property
    def name(self) -> str: ...

    def start(self, request: CollectRequest) -> CollectStart:
        """Ask the channel to collect; return what the payer or terminal needs."""
        ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelEvent:
        """Verify and parse a notification; raise SignatureInvalid with the reason if bad."""
        ...

    def query(self, order_no: str) -> StatusAnswer:
        """Ask the channel what became of an order (for lost notifications)."""
        ...

    def refund(
        self, refund_no: str, order_no: str, channel_txn_id: str, amount_fen: int, total_fen: int
    ) -> RefundAnswer: ...

    def close(self, order_no: str) -> bool:
        """Close an unpaid order at the channel so it can no longer be paid."""
        ...

    def reply(self, accepted: bool, message: str = "") -> NotificationReply:
        """The answer the channel expects to a notification."""
        ...
