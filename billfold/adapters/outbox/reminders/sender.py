"""Sending due reminders: claim, check, send, record — as the webhook dispatcher does.

Each reminder is handled in two short transactions with the provider's request between them
(no lock is held while a provider is slow):

1. *claim* one due ``pending`` reminder (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
   workers never take the same one). Before anything is sent: a biller whose settings are
   gone or switched off, or a payer who opted out, makes it ``skipped``; inside the biller's
   quiet hours (its timezone) it waits — its next attempt becomes the end of the quiet
   hours, no attempt counted. Otherwise the attempt is counted and leased.
2. *send* it through the biller's channel (:class:`~.message.ReminderSender`).
3. *record*: accepted → ``sent`` with the provider's id; a permanent refusal or the last
   attempt → ``dead``; anything else → retried with the outbox's backoff. A late answer from
   an expired lease cannot overwrite a newer attempt.

If a worker dies between 1 and 3 the reminder is sent again when its lease runs out: the
provider may then deliver it twice (SMS APIs have no idempotency key; ``OutId`` carries the
reminder id so the two can be matched in the provider's records).

Logs name the reminder, bill, kind and channel; the phone number or openid only masked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select, update

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.reminders import reminders
from billfold.adapters.outbox.reminders.message import (
    Outgoing,
    ReminderSender,
    Sent,
    mask_address,
    safe_error,
)
from billfold.adapters.outbox.reminders.store import is_opted_out, load_settings
from billfold.adapters.outbox.retry import RetryPolicy
from billfold.clock import Clock
from billfold.collection.reminder import ReminderKind, ReminderSettings, quiet_until

__all__ = ["ReminderStats", "send_due"]

log = structlog.get_logger("billfold.reminders")
_R, _BL = reminders, t.billers


@dataclass
class ReminderStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    waiting: int = 0  # put off to the end of quiet hours
    stale: int = 0

    def __add__(self, other: ReminderStats) -> ReminderStats:
        return ReminderStats(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )


@dataclass(frozen=True, slots=True)
class _Job:
    message: Outgoing
    channel: str
    attempt: int
    bill_id: int

    def log_fields(self) -> dict[str, Any]:
        return {
            "reminder_id": self.message.reminder_id,
            "bill_id": self.bill_id,
            "kind": self.message.kind.value,
            "channel": self.channel,
            "to": mask_address(self.message.address),
            "attempt": self.attempt,
        }


def send_due(
    db: SqlEngine,
    senders: Mapping[str, ReminderSender],
    clock: Clock,
    batch: int = 100,
    *,
    policy: RetryPolicy | None = None,
) -> ReminderStats:
    """Handle up to ``batch`` due reminders of the channels in ``senders``."""
    policy = policy or RetryPolicy()
    stats = ReminderStats()
    channels = list(senders)
    for _ in range(batch):
        with db.begin() as conn:
            outcome = _claim(conn, clock.now(), policy, channels)
        if outcome is None:
            break
        if isinstance(outcome, ReminderStats):
            stats += outcome
            continue
        sender = senders[outcome.channel]
        try:
            answer = sender.send(outcome.message)
        except Exception as exc:  # a sender should answer; a bug in one is a failed attempt
            answer = Sent(False, error=safe_error(exc))
        stats += _record(db, outcome, answer, clock.now(), policy)
    return stats


def _claim(
    conn: Any, now: datetime, policy: RetryPolicy, channels: list[str]
) -> _Job | ReminderStats | None:
    row = conn.execute(
        select(_R, _BL.c.timezone)
        .join(_BL, _BL.c.id == _R.c.biller_id)
        .where(_R.c.status == "pending", _R.c.next_attempt_at <= now, _R.c.channel.in_(channels))
        .order_by(_R.c.next_attempt_at, _R.c.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=_R)
    ).first()
    if row is None:
        return None
    here = _R.c.id == row.id
    settings = load_settings(conn, int(row.biller_id))
    base = {"reminder_id": row.id, "bill_id": row.bill_id, "kind": row.kind}
    kind = ReminderKind(row.kind)
    why = _not_sendable(settings, kind, row.channel)
    if why or settings is None:
        conn.execute(update(_R).where(here).values(status="skipped", last_error=why))
        log.info("reminder.skipped", reason=why, **base)
        return ReminderStats(skipped=1)
    if is_opted_out(conn, int(row.biller_id), row.address):
        conn.execute(update(_R).where(here).values(status="skipped", last_error="opted out"))
        log.info("reminder.skipped", reason="opted_out", to=mask_address(row.address), **base)
        return ReminderStats(skipped=1)
    until = quiet_until(now, row.timezone, settings.quiet_start, settings.quiet_end)
    if until is not None:
        conn.execute(update(_R).where(here).values(next_attempt_at=until))
        log.info("reminder.quiet_hours", until=until.isoformat(), **base)
        return ReminderStats(waiting=1)
    if policy.gives_up(int(row.attempts)):
        why = "no attempt left (the sender stopped mid-send)"
        conn.execute(update(_R).where(here).values(status="dead", last_error=why))
        log.error("reminder.dead", error=why, **base)
        return ReminderStats(dead=1)
    attempt = int(row.attempts) + 1
    conn.execute(
        update(_R).where(here).values(attempts=attempt, next_attempt_at=now + policy.lease)
    )
    message = Outgoing(
        reminder_id=int(row.id),
        kind=kind,
        address=row.address,
        template=settings.template(kind),
        params=json.loads(row.params),
        sign_name=settings.sign_name,
        credentials=settings.credentials,
    )
    return _Job(message, row.channel, attempt, int(row.bill_id))


def _not_sendable(settings: ReminderSettings | None, kind: ReminderKind, channel: str) -> str:
    """Why the biller's settings no longer send this reminder ("" when they do)."""
    if settings is None or not settings.active or settings.template(kind) is None:
        return "the biller's reminders are switched off"
    if settings.channel.value != channel:
        return f"the biller now reminds by {settings.channel.value}, not {channel}"
    return ""


def _record(
    db: SqlEngine, job: _Job, answer: Sent, now: datetime, policy: RetryPolicy
) -> ReminderStats:
    where = [_R.c.id == job.message.reminder_id, _R.c.status == "pending"]
    values: dict[str, Any]
    if answer.ok:
        values = {"status": "sent", "sent_at": now, "provider_ref": answer.ref, "last_error": None}
        outcome = ReminderStats(sent=1)
    elif answer.permanent or policy.gives_up(job.attempt):
        where.append(_R.c.attempts == job.attempt)
        values = {"status": "dead", "last_error": (answer.error or "")[:500]}
        outcome = ReminderStats(dead=1)
    else:
        where.append(_R.c.attempts == job.attempt)
        delay = policy.delay(job.attempt, job.message.reminder_id)
        values = {"next_attempt_at": now + delay, "last_error": (answer.error or "")[:500]}
        outcome = ReminderStats(retried=1)
    with db.begin() as conn:
        changed = conn.execute(update(_R).where(*where).values(**values)).rowcount
    if not changed:
        log.warning("reminder.stale_result", **job.log_fields())
        return ReminderStats(stale=1)
    if answer.ok:
        log.info("reminder.sent", provider_ref=answer.ref, **job.log_fields())
    elif outcome.dead:
        log.error("reminder.dead", error=answer.error, **job.log_fields())
    else:
        log.warning("reminder.failed", error=answer.error, **job.log_fields())
    return outcome
