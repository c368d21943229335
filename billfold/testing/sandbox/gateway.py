"""The sandbox gateway: a remote side that behaves like a real one, for tests and the demo.

One :class:`SandboxGateway` plays every channel's far end: it keeps remote orders, lets a
simulated payer pay (or fail), and delivers the channel's notifications — built in that
channel's real format by the channel module — late, twice, out of order or never, as its
seeded :class:`Chaos` says. Everything is driven by the injected clock and one seed, so a
run can be replayed exactly. A dropped notification is still known to :meth:`query`, which
is how the engine recovers it.

Refunds are refused as the real channels refuse them: past the channel's refund window
(:data:`REFUND_WINDOWS`: WeChat Pay one year, Alipay three months by default), and, when a
test says so with :meth:`SandboxGateway.refuse_refunds`, because the payer's card was
cancelled or their account closed.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from billfold.channels.base import Decline, RemoteState
from billfold.clock import Clock

__all__ = [
    "REFUND_WINDOWS",
    "Chaos",
    "Delivery",
    "RemoteOrder",
    "RemoteRefund",
    "SandboxGateway",
]

#: How long after the payment each channel still takes a refund back the way it came.
REFUND_WINDOWS: dict[str, timedelta] = {
    "wechatpay": timedelta(days=365),
    "alipay": timedelta(days=90),
}


@dataclass(frozen=True, slots=True)
class Chaos:
    """How badly the sandbox behaves. Rates are probabilities between 0 and 1."""

    min_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(seconds=20)
    duplicate_rate: float = 0.0
    drop_rate: float = 0.0
    fail_rate: float = 0.0  # the payer's payment fails (declined)

    @classmethod
    def calm(cls) -> Chaos:
        return cls(min_delay=timedelta(0), max_delay=timedelta(0))

    @classmethod
    def rough(cls) -> Chaos:
        return cls(
            duplicate_rate=0.3, drop_rate=0.1, fail_rate=0.05, max_delay=timedelta(minutes=2)
        )


@dataclass(slots=True)
class RemoteRefund:
    refund_no: str
    refund_id: str
    amount_fen: int


@dataclass(slots=True)
class RemoteOrder:
    channel: str
    order_no: str
    amount_fen: int
    created_at: datetime
    state: RemoteState = RemoteState.PENDING
    txn_id: str | None = None
    paid_at: datetime | None = None
    paid_fen: int = 0
    payer_ref: str | None = None
    refunds: list[RemoteRefund] = field(default_factory=list)

    @property
    def refunded_fen(self) -> int:
        return sum(r.amount_fen for r in self.refunds)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notification the sandbox sends: to be handed to ``Collector.notify``."""

    channel: str
    headers: dict[str, str]
    body: bytes
    due_at: datetime
    order_no: str


#: Builds a channel's notification for a paid remote order: (headers, body).
NotificationBuilder = Callable[[RemoteOrder, datetime], tuple[dict[str, str], bytes]]


class SandboxGateway:
    def __init__(self, clock: Clock, chaos: Chaos | None = None, seed: int = 20261125) -> None:
        self.clock = clock
        self.chaos = chaos or Chaos.calm()
        self.random = random.Random(seed)
        self.orders: dict[tuple[str, str], RemoteOrder] = {}
        self.builders: dict[str, NotificationBuilder] = {}
        self.outbox: list[Delivery] = []
        self.dropped: list[Delivery] = []
        self.refund_refusals: dict[tuple[str, str], Decline] = {}
        self.refund_windows = dict(REFUND_WINDOWS)
        # a real gateway answers a refund request atomically: two requests with the same
        # refund number at once make one refund (billfold's refund duty relies on it)
        self._lock = threading.Lock()

    def refuse_refunds(self, channel: str, order_no: str, decline: Decline) -> None:
        """From now on, refunds of this paid order are refused with ``decline`` (the payer's
        card cancelled, their account closed …)."""
        self.refund_refusals[(channel, order_no)] = decline

    def register(self, channel: str, builder: NotificationBuilder) -> None:
        """A channel module tells the sandbox how its notifications look."""
        self.builders[channel] = builder

    @staticmethod
    def _id(prefix: str, channel: str, number: str) -> str:
        """A remote id derived from our own number: the same on every run and in every
        gateway (a remote order is paid at most once), and never shared by two orders."""
        digest = hashlib.sha256(f"{channel}:{number}".encode()).hexdigest()[:20].upper()
        return f"{prefix}{digest}"

    # -- the remote API the sandbox-backed channels call -------------------------------------
    def open(
        self, channel: str, order_no: str, amount_fen: int, payer_ref: str | None = None
    ) -> RemoteOrder:
        key = (channel, order_no)
        if key not in self.orders:
            self.orders[key] = RemoteOrder(
                channel, order_no, amount_fen, self.clock.now(), payer_ref=payer_ref
            )
        return self.orders[key]

    def query(self, channel: str, order_no: str) -> RemoteOrder | None:
        return self.orders.get((channel, order_no))

    def close(self, channel: str, order_no: str) -> bool:
        remote = self.orders.get((channel, order_no))
        if remote is None or remote.state is RemoteState.PAID:
            return False
        remote.state = RemoteState.CLOSED
        return True

    def refund(
        self, channel: str, order_no: str, refund_no: str, amount_fen: int
    ) -> tuple[str | None, Decline | None]:
        with self._lock:
            return self._refund(channel, order_no, refund_no, amount_fen)

    def _refund(
        self, channel: str, order_no: str, refund_no: str, amount_fen: int
    ) -> tuple[str | None, Decline | None]:
        remote = self.orders.get((channel, order_no))
        if remote is None or remote.state is not RemoteState.PAID:
            return None, Decline.NOT_FOUND
        for done in remote.refunds:  # a repeated refund request answers the same
            if done.refund_no == refund_no:
                return done.refund_id, None
        if remote.refunded_fen + amount_fen > remote.paid_fen:
            return None, Decline.REJECTED
        refused = self.refund_refusals.get((channel, order_no))
        if refused is not None:
            return None, refused
        window = self.refund_windows.get(channel)
        if window and remote.paid_at and self.clock.now() - remote.paid_at > window:
            return None, Decline.REFUND_WINDOW_CLOSED
        refund = RemoteRefund(refund_no, self._id("SRF", channel, refund_no), amount_fen)
        remote.refunds.append(refund)
        return refund.refund_id, None

    # -- the simulated payer ---------------------------------------------------------------
    def pay(self, channel: str, order_no: str, amount_fen: int | None = None) -> RemoteOrder:
        """The payer pays (the whole order, unless ``amount_fen`` says otherwise). Whether it
        fails, and how its notification travels, is up to the chaos settings."""
        remote = self.orders.get((channel, order_no))
        if remote is None:
            raise KeyError(f"sandbox: no remote order {channel}/{order_no}; start collection first")
        if remote.state is not RemoteState.PENDING:
            return remote
        now = self.clock.now()
        if self.random.random() < self.chaos.fail_rate:
            remote.state = RemoteState.FAILED
            return remote
        remote.state = RemoteState.PAID
        remote.txn_id = self._id("SBX", channel, order_no)
        remote.paid_at = now
        remote.paid_fen = remote.amount_fen if amount_fen is None else amount_fen
        self._schedule(remote, now)
        return remote

    def _schedule(self, remote: RemoteOrder, now: datetime) -> None:
        builder = self.builders.get(remote.channel)
        if builder is None:
            return
        copies = 2 if self.random.random() < self.chaos.duplicate_rate else 1
        span = (self.chaos.max_delay - self.chaos.min_delay).total_seconds()
        for _ in range(copies):
            delay = self.chaos.min_delay + timedelta(seconds=self.random.uniform(0, span))
            headers, body = builder(remote, now + delay)
            delivery = Delivery(remote.channel, headers, body, now + delay, remote.order_no)
            if self.random.random() < self.chaos.drop_rate:
                self.dropped.append(delivery)
            else:
                self.outbox.append(delivery)

    def lose(self, channel: str, order_no: str) -> int:
        """Lose every notification still to come for an order (a test or the demo says so):
        only a query (the T+0 requery, a complaint) finds the payment then."""
        lost = [d for d in self.outbox if d.channel == channel and d.order_no == order_no]
        self.outbox = [d for d in self.outbox if d not in lost]
        self.dropped.extend(lost)
        return len(lost)

    def due(self) -> list[Delivery]:
        """Notifications whose time has come, in the (shuffled-by-delay) order they arrive."""
        now = self.clock.now()
        ready = sorted((d for d in self.outbox if d.due_at <= now), key=lambda d: d.due_at)
        self.outbox = [d for d in self.outbox if d.due_at > now]
        return ready
