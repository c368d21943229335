"""The outbox dispatcher: turns outbox events into signed webhook deliveries, and sends them.

**Fan-out** (:mod:`.fanout`): each event gets one ``outbox_deliveries`` row per
endpoint of its biller that wants its type (a deactivated one too: its rows wait), in one
transaction per batch.

**Delivery, and why a crash loses nothing.** Each delivery is handled in two short
transactions with the HTTP request between them, so no lock is held while a receiver is
slow (on SQLite a held transaction would stall every other writer):

1. *claim*: pick one due ``pending`` row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
   concurrent dispatchers never pick the same row), count the attempt and push
   ``next_attempt_at`` forward by the policy's *lease*. Other dispatchers now skip it.
2. *send* it, signed with the attempt's timestamp (see :mod:`.outbox_signing`).
3. *record*: 2xx → ``delivered``; anything else → ``next_attempt_at`` by exponential
   backoff, or ``dead`` once ``max_attempts`` attempts failed. A failure is only recorded
   if the row still shows this attempt's count (a late answer from an expired lease cannot
   overwrite a newer attempt); a success is always recorded.

If the process dies between 1 and 3, the row stays ``pending`` with its lease as the next
attempt time: it is sent again when the lease runs out, with the same event id, which the
receiver deduplicates on. That is the only way a delivery goes out twice. A delivery that
keeps killing the dispatcher uses up its attempts like any failure and ends ``dead``.

Deliveries to a deactivated endpoint — made before or while it is off — wait, untouched,
until it is reactivated. Deliveries
are not ordered: a retried event may arrive after a later one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy import Connection, select, update
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from billfold.adapters.db import schema as t
from billfold.adapters.outbox.deliveries import Delivery, list_dead, list_deliveries, requeue_dead
from billfold.adapters.outbox.endpoints import (
    WebhookEndpoint,
    add_endpoint,
    deactivate_endpoint,
    list_endpoints,
    new_secret,
    reactivate_endpoint,
    rotate_secret,
)
from billfold.adapters.outbox.fanout import fan_out
from billfold.adapters.outbox.retry import RetryPolicy
from billfold.adapters.outbox.signing import (
    VerifiedWebhook,
    WebhookRejected,
    signed_headers,
    verify_webhook,
)
from billfold.adapters.outbox.transport import HttpxTransport, WebhookTransport
from billfold.clock import Clock

if TYPE_CHECKING:
    from billfold.engine import Engine

__all__ = [
    "Delivery",
    "DispatchStats",
    "HttpxTransport",
    "RetryPolicy",
    "VerifiedWebhook",
    "WebhookEndpoint",
    "WebhookRejected",
    "WebhookTransport",
    "add_endpoint",
    "deactivate_endpoint",
    "deliver_due",
    "fan_out",
    "list_dead",
    "list_deliveries",
    "list_endpoints",
    "new_secret",
    "reactivate_endpoint",
    "requeue_dead",
    "rotate_secret",
    "run_forever",
    "run_once",
    "verify_webhook",
]

log = structlog.get_logger()
_D, _E, _EV = t.outbox_deliveries, t.webhook_endpoints, t.outbox_events


@dataclass
class DispatchStats:
    events_fanned_out: int = 0
    deliveries_created: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    stale: int = 0

    def __add__(self, other: DispatchStats) -> DispatchStats:
        return DispatchStats(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )

    @property
    def busy(self) -> bool:
        """Whether the pass did anything (the loop then goes again without sleeping)."""
        return any(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True, slots=True)
class _Job:
    delivery_id: int
    attempt: int
    endpoint_id: int
    url: str
    secret: str = field(repr=False)
    event_id: str
    event_type: str
    body: bytes = field(repr=False)

    def log_fields(self) -> dict[str, Any]:
        host = urlsplit(self.url).hostname
        return {
            "delivery_id": self.delivery_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "endpoint_id": self.endpoint_id,
            "host": host,
            "attempt": self.attempt,
        }


def run_once(
    engine: Engine | SqlEngine,
    transport: WebhookTransport,
    clock: Clock,
    batch: int = 100,
    *,
    policy: RetryPolicy | None = None,
) -> DispatchStats:
    """Fan out up to ``batch`` events, then attempt up to ``batch`` due deliveries.

    ``engine`` is a billfold :class:`~billfold.engine.Engine` or a SQLAlchemy engine.
    """
    db = _db(engine)
    events, created = fan_out(db, clock, batch)
    fanned = DispatchStats(events_fanned_out=events, deliveries_created=created)
    return fanned + deliver_due(db, transport, clock, batch, policy=policy)


def run_forever(
    engine: Engine | SqlEngine,
    transport: WebhookTransport,
    clock: Clock,
    *,
    interval: float = 1.0,
    batch: int = 100,
    policy: RetryPolicy | None = None,
    stop: threading.Event | None = None,
) -> DispatchStats:
    """Repeat :func:`run_once` until ``stop`` is set, sleeping ``interval`` s when idle.

    Database errors (a restart, a dropped connection) are logged and retried after
    ``interval``; anything else propagates.
    """
    stop = stop or threading.Event()
    total = DispatchStats()
    while not stop.is_set():
        try:
            stats = run_once(engine, transport, clock, batch, policy=policy)
        except SQLAlchemyError as exc:
            cause = exc.orig if isinstance(exc, DBAPIError) else exc
            first_line = (str(cause).strip().splitlines() or [""])[0][:200]
            log.error("outbox.database_error", error=type(cause).__name__, detail=first_line)
            stop.wait(interval)
            continue
        total += stats
        if not stats.busy:
            stop.wait(interval)
    return total


def deliver_due(
    db: SqlEngine,
    transport: WebhookTransport,
    clock: Clock,
    batch: int = 100,
    *,
    policy: RetryPolicy | None = None,
) -> DispatchStats:
    """Attempt up to ``batch`` due deliveries, one claim-send-record cycle each."""
    policy = policy or RetryPolicy()
    stats = DispatchStats()
    for _ in range(batch):
        with db.begin() as conn:
            job = _claim(conn, clock.now(), policy)
        if job is None:
            break
        if isinstance(job, int):
            stats.dead += 1
            continue
        error = _send(job, transport, clock.now())
        stats += _record(db, job, error, clock.now(), policy)
    return stats


def _claim(conn: Connection, now: datetime, policy: RetryPolicy) -> _Job | int | None:
    """The next due delivery, leased to us; its id if it had no attempt left; or None."""
    row = conn.execute(
        select(
            _D.c.id,
            _D.c.attempts,
            _D.c.endpoint_id,
            _E.c.url,
            _E.c.secret,
            _EV.c.event_id,
            _EV.c.event_type,
            _EV.c.payload,
        )
        .join(_E, _E.c.id == _D.c.endpoint_id)
        .join(_EV, _EV.c.id == _D.c.event_pk)
        .where(_D.c.status == "pending", _D.c.next_attempt_at <= now, _E.c.active.is_(True))
        .order_by(_D.c.next_attempt_at, _D.c.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=_D)
    ).first()
    if row is None:
        return None
    if policy.gives_up(row.attempts):
        error = (
            f"no attempt left: {row.attempts} of {policy.max_attempts} made and the last "
            "never reported back (the dispatcher stopped mid-send)"
        )
        conn.execute(update(_D).where(_D.c.id == row.id).values(status="dead", last_error=error))
        log.error("webhook.dead", delivery_id=row.id, event_id=row.event_id, error=error)
        return int(row.id)
    attempt = row.attempts + 1
    conn.execute(
        update(_D)
        .where(_D.c.id == row.id)
        .values(attempts=attempt, next_attempt_at=now + policy.lease)
    )
    return _Job(
        int(row.id),
        attempt,
        int(row.endpoint_id),
        row.url,
        row.secret,
        row.event_id,
        row.event_type,
        row.payload.encode("utf-8"),
    )


def _send(job: _Job, transport: WebhookTransport, now: datetime) -> str | None:
    """POST the delivery; None on 2xx, else what went wrong (never containing the secret)."""
    headers = signed_headers(job.secret, job.event_id, job.event_type, now, job.body)
    try:
        status = transport.send(job.url, headers, job.body)
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}".replace(job.secret, "***")
        return " ".join(text.split())[:200]
    return None if 200 <= status < 300 else f"HTTP {status}"


def _record(
    db: SqlEngine, job: _Job, error: str | None, now: datetime, policy: RetryPolicy
) -> DispatchStats:
    where = [_D.c.id == job.delivery_id, _D.c.status == "pending"]
    if error is None:
        values: dict[str, Any] = {"status": "delivered", "delivered_at": now, "last_error": None}
        outcome, event = DispatchStats(delivered=1), "webhook.delivered"
    elif policy.gives_up(job.attempt):
        where.append(_D.c.attempts == job.attempt)
        values = {"status": "dead", "last_error": error}
        outcome, event = DispatchStats(dead=1), "webhook.dead"
    else:
        where.append(_D.c.attempts == job.attempt)
        retry_at = now + policy.delay(job.attempt, job.delivery_id)
        values = {"next_attempt_at": retry_at, "last_error": error}
        outcome, event = DispatchStats(retried=1), "webhook.failed"
    with db.begin() as conn:
        changed = conn.execute(update(_D).where(*where).values(**values)).rowcount
    if not changed:
        log.warning("webhook.stale_result", error=error, **job.log_fields())
        return DispatchStats(stale=1)
    if error is None:
        log.info(event, **job.log_fields())
    elif outcome.dead:
        log.error(event, error=error, **job.log_fields())
    else:
        log.warning(event, error=error, retry_at=values["next_attempt_at"], **job.log_fields())
    return outcome


def _db(engine: Engine | SqlEngine) -> SqlEngine:
    return engine if isinstance(engine, SqlEngine) else engine.db
