"""Payer reminders, the library's door: remind bills by hand, emit what is due, configure.

Every function takes a billfold :class:`~billfold.engine.Engine` (it runs and commits its own
transaction) or an open :class:`~billfold.adapters.db.uow.SqlUnitOfWork` (it joins that
transaction; the caller commits), like the webhook endpoints' functions. Changes made by a
person are written to the audit log; secrets never are (settings hold references only).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.reminders import reminders
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.adapters.outbox.endpoints import in_unit
from billfold.adapters.outbox.fanout import fan_out
from billfold.adapters.outbox.reminders import store
from billfold.adapters.outbox.reminders.message import ReminderSender
from billfold.adapters.outbox.reminders.sender import ReminderStats, send_due
from billfold.adapters.outbox.reminders.store import Candidate
from billfold.adapters.outbox.retry import RetryPolicy
from billfold.clock import Clock, business_date, start_of_business_day
from billfold.collection.reminder import (
    ReminderKind,
    ReminderSettings,
    ReminderStatus,
    render_text,
)
from billfold.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from billfold.engine import Engine

__all__ = [
    "RemindOutcome",
    "Reminded",
    "ReminderView",
    "bind_openid",
    "configure",
    "emit_due",
    "list_reminders",
    "opt_in",
    "opt_out",
    "remind_bills",
    "run_reminders",
    "settings_of",
    "settings_view",
]

_B = t.bills
_OPEN = ("open", "partially_paid")
MAX_SELECTION = 1000


class RemindOutcome(StrEnum):
    QUEUED = "queued"  # the reminder event is written; the outbox sends it
    ALREADY_TODAY = "already_today"  # one of this kind went (or waits) today already
    NOT_PAYABLE = "not_payable"  # paid, cancelled or refunded: nothing to remind of
    NOT_FOUND = "not_found"  # no such bill for the biller
    NO_TEMPLATE = "no_template"  # the biller's settings send no reminder of this kind


@dataclass(frozen=True, slots=True)
class Reminded:
    """What :func:`remind_bills` did for one selected bill."""

    bill_no: str
    outcome: RemindOutcome
    kind: ReminderKind | None = None


def remind_bills(
    engine_or_uow: Engine | SqlUnitOfWork,
    biller_code: str,
    bill_nos: Iterable[str],
    *,
    actor: str,
    reason: str = "",
    clock: Clock | None = None,
) -> list[Reminded]:
    """Remind the payers of the selected bills now (the console's "remind selected").

    Each unpaid bill gets a ``reminder.overdue`` event when it is past its due date in the
    biller's timezone, else ``reminder.due_soon``; the outbox turns it into one reminder on
    the biller's channel (SMS or WeChat), which waits for the end of quiet hours and is never
    sent to a payer who opted out. A bill reminded of the same kind today already — by the
    worker's duty or by hand — is not reminded again (``already_today``): at most one of a
    kind per bill per business day, which the database enforces.

    Returns one :class:`Reminded` per distinct bill number, in the order given; bad bills
    are reported, not raised. Raises ``NotFound`` for an unknown biller, ``InvalidInput``
    when the biller has no active reminder settings, the selection is empty or over
    1000 bills, or ``actor`` is empty. Audited once, with the bills and their outcomes.
    """
    wanted = list(dict.fromkeys(no.strip() for no in bill_nos if no.strip()))
    if not wanted:
        raise InvalidInput("bill_nos: select at least one bill")
    if len(wanted) > MAX_SELECTION:
        raise InvalidInput(f"bill_nos: at most {MAX_SELECTION} bills at once, got {len(wanted)}")
    if not actor.strip():
        raise InvalidInput("actor: who reminds must be named")
    with in_unit(engine_or_uow, clock) as (uow, now):
        biller_id, zone, settings = _active(uow, biller_code)
        today = business_date(now, zone)
        rows = {
            r.bill_no: r
            for r in uow.conn.execute(
                select(_B.c.id, _B.c.bill_no, _B.c.status, _B.c.due_date).where(
                    _B.c.biller_id == biller_id, _B.c.bill_no.in_(wanted)
                )
            )
        }
        results: list[Reminded] = []
        for bill_no in wanted:
            results.append(
                _remind_one(uow, biller_id, settings, rows.get(bill_no), bill_no, today, now, actor)
            )
        uow.audit.append(
            actor=actor,
            action="reminders.sent_by_hand",
            target_type="biller",
            target_id=biller_code,
            reason=reason,
            before=None,
            after={"bills": {r.bill_no: r.outcome.value for r in results}},
            now=now,
        )
        return results


def _remind_one(
    uow: SqlUnitOfWork,
    biller_id: int,
    settings: ReminderSettings,
    row: Any,
    bill_no: str,
    today: date,
    now: datetime,
    actor: str,
) -> Reminded:
    if row is None:
        return Reminded(bill_no, RemindOutcome.NOT_FOUND)
    if row.status not in _OPEN:
        return Reminded(bill_no, RemindOutcome.NOT_PAYABLE)
    overdue = row.due_date is not None and today > row.due_date
    kind = ReminderKind.OVERDUE if overdue else ReminderKind.DUE_SOON
    if settings.template(kind) is None:
        return Reminded(bill_no, RemindOutcome.NO_TEMPLATE, kind)
    if store.reminded_today(uow.conn, [int(row.id)], kind, today):
        return Reminded(bill_no, RemindOutcome.ALREADY_TODAY, kind)
    found = [Candidate(int(row.id), bill_no, kind, today)]
    written = store.insert_reminder_events(uow.conn, biller_id, found, now, {"by": actor})
    return Reminded(bill_no, RemindOutcome.QUEUED if written else RemindOutcome.ALREADY_TODAY, kind)


def emit_due(
    engine_or_uow: Engine | SqlUnitOfWork, *, clock: Clock | None = None
) -> dict[str, int]:
    """The worker's part: for every biller with active settings, write today's
    ``reminder.due_soon`` events (bills due in exactly ``days_before`` days),
    ``reminder.overdue`` events (bills overdue 1 day, then every ``overdue_every_days``) and
    ``reminder.issued`` events (unpaid bills created today without an issued reminder:
    imported bills, which write no ``bill.created``), "today" being the business date in each
    biller's timezone. Safe twice and on two workers at once: the events' ids are derived
    from (bill, kind, day)."""
    counts = {"issued": 0, "due_soon": 0, "overdue": 0}
    with in_unit(engine_or_uow, clock) as (uow, now):
        for biller_id, zone, settings in store.all_settings(uow.conn):
            today = business_date(now, zone)
            for kind in (ReminderKind.ISSUED, ReminderKind.DUE_SOON, ReminderKind.OVERDUE):
                if settings.template(kind) is None:
                    continue
                found = _due(uow, biller_id, settings, kind, today, zone)
                fresh = store.reminded_today(uow.conn, [c.bill_id for c in found], kind, today)
                todo = [c for c in found if c.bill_id not in fresh]
                counts[kind.value] += len(
                    store.insert_reminder_events(uow.conn, biller_id, todo, now)
                )
    return counts


def _due(
    uow: SqlUnitOfWork,
    biller_id: int,
    settings: ReminderSettings,
    kind: ReminderKind,
    today: date,
    zone: str,
) -> list[Candidate]:
    q = select(_B.c.id, _B.c.bill_no, _B.c.due_date).where(
        _B.c.biller_id == biller_id, _B.c.status.in_(_OPEN)
    )
    if kind is ReminderKind.ISSUED:
        since = start_of_business_day(today, zone)
        q = q.where(_B.c.created_at >= since, _B.c.created_at < since + timedelta(days=1))
    elif kind is ReminderKind.DUE_SOON:
        q = q.where(_B.c.due_date == today + timedelta(days=settings.days_before))
    else:
        q = q.where(_B.c.due_date < today)
    found = []
    for row in uow.conn.execute(q.order_by(_B.c.id)):
        if (
            kind is ReminderKind.OVERDUE
            and ((today - row.due_date).days - 1) % settings.overdue_every_days
        ):
            continue
        found.append(Candidate(int(row.id), row.bill_no, kind, today))
    return found


def run_reminders(
    engine: Engine,
    senders: Mapping[str, ReminderSender],
    *,
    batch: int = 100,
    policy: RetryPolicy | None = None,
) -> dict[str, Any]:
    """One pass: fan out the outbox (webhook deliveries and reminders alike, each exactly
    once; first, so that a bill's own ``bill.created`` makes its issued reminder), emit
    today's due reminders, fan those out, then send what is due on ``senders``' channels."""
    events, _ = fan_out(engine.db, engine.clock, batch)
    emitted = emit_due(engine)
    events += fan_out(engine.db, engine.clock, batch)[0]
    stats = send_due(engine.db, senders, engine.clock, batch, policy=policy) if senders else None
    summary: dict[str, Any] = {**emitted, "events": events}
    if stats is None:
        return {**summary, "sending": "skipped: no reminder channels"}
    return {**summary, **_as_dict(stats)}


def _as_dict(stats: ReminderStats) -> dict[str, int]:
    return {name: getattr(stats, name) for name in stats.__dataclass_fields__}


# -- settings, opt-outs, openids ----------------------------------------------------------------


def configure(
    engine_or_uow: Engine | SqlUnitOfWork,
    biller_code: str,
    settings: ReminderSettings,
    *,
    actor: str,
    reason: str = "",
    clock: Clock | None = None,
) -> ReminderSettings:
    """Set (or replace) ``biller_code``'s reminder settings; audited (references only)."""
    with in_unit(engine_or_uow, clock) as (uow, now):
        biller_id = _biller_id(uow, biller_code)
        before = store.load_settings(uow.conn, biller_id)
        store.save_settings(uow.conn, biller_id, settings, now)
        uow.audit.append(
            actor=actor,
            action="reminders.configured",
            target_type="biller",
            target_id=biller_code,
            reason=reason,
            before=settings_view(before),
            after=settings_view(settings),
            now=now,
        )
        return settings


def settings_of(engine_or_uow: Engine | SqlUnitOfWork, biller_code: str) -> ReminderSettings | None:
    with in_unit(engine_or_uow, None) as (uow, _):
        return store.load_settings(uow.conn, _biller_id(uow, biller_code))


def opt_out(
    engine_or_uow: Engine | SqlUnitOfWork,
    biller_code: str,
    address: str,
    *,
    source: str = "cli",
    clock: Clock | None = None,
) -> bool:
    """No more reminders from ``biller_code`` to ``address`` (a phone number or an openid),
    including those already waiting. False when it had opted out before."""
    address = _address(address)
    with in_unit(engine_or_uow, clock) as (uow, now):
        return store.opt_out(uow.conn, _biller_id(uow, biller_code), address, source[:32], now)


def opt_in(engine_or_uow: Engine | SqlUnitOfWork, biller_code: str, address: str) -> bool:
    """Undo an opt-out (the payer asked again); False when there was none."""
    address = _address(address)
    with in_unit(engine_or_uow, None) as (uow, _):
        return store.opt_in(uow.conn, _biller_id(uow, biller_code), address)


def bind_openid(
    engine_or_uow: Engine | SqlUnitOfWork,
    biller_code: str,
    bill_no: str,
    openid: str,
    *,
    clock: Clock | None = None,
) -> None:
    """Remember the WeChat openid of the payer of ``bill_no`` (from the mini-program, where
    the payer accepted the subscription), for WeChat reminders."""
    openid = _address(openid)
    with in_unit(engine_or_uow, clock) as (uow, now):
        biller_id = _biller_id(uow, biller_code)
        payer = uow.conn.execute(
            select(_B.c.payer_id).where(_B.c.biller_id == biller_id, _B.c.bill_no == bill_no)
        ).scalar()
        if payer is None:
            raise NotFound(f"bill {bill_no!r} does not exist for biller {biller_code}")
        store.bind_openid(uow.conn, int(payer), openid, now)


@dataclass(frozen=True, slots=True)
class ReminderView:
    id: int
    bill_no: str
    kind: str
    day: date
    channel: str
    status: str
    attempts: int
    text: str
    last_error: str | None
    provider_ref: str | None
    sent_at: datetime | None


def list_reminders(
    engine_or_uow: Engine | SqlUnitOfWork,
    biller_code: str,
    *,
    status: str | None = None,
    limit: int = 100,
) -> list[ReminderView]:
    """The biller's reminders, newest first, with the Chinese text each carries (the
    address is not shown: it is personal data)."""
    if limit < 1:
        raise InvalidInput(f"limit: must be at least 1, got {limit}")
    known = [s.value for s in ReminderStatus]
    if status is not None and status not in known:
        raise InvalidInput(f"status: {status!r} is not one of {', '.join(known)}")
    r = reminders.c
    with in_unit(engine_or_uow, None) as (uow, _):
        q = (
            select(reminders, _B.c.bill_no)
            .join(_B, _B.c.id == r.bill_id)
            .where(r.biller_id == _biller_id(uow, biller_code))
            .order_by(r.id.desc())
            .limit(limit)
        )
        if status is not None:
            q = q.where(r.status == status)
        return [
            ReminderView(
                int(row.id),
                row.bill_no,
                row.kind,
                row.day,
                row.channel,
                row.status,
                int(row.attempts),
                render_text(ReminderKind(row.kind), json.loads(row.params)),
                row.last_error,
                row.provider_ref,
                row.sent_at,
            )
            for row in uow.conn.execute(q)
        ]


def _biller_id(uow: SqlUnitOfWork, code: str) -> int:
    biller = uow.billers.get_by_code(code)
    if biller is None or biller.id is None:
        raise NotFound(f"biller {code!r} does not exist")
    return biller.id


def _active(uow: SqlUnitOfWork, code: str) -> tuple[int, str, ReminderSettings]:
    biller = uow.billers.get_by_code(code)
    if biller is None or biller.id is None:
        raise NotFound(f"biller {code!r} does not exist")
    settings = store.load_settings(uow.conn, biller.id)
    if settings is None or not settings.active:
        raise InvalidInput(
            f"biller {code} has no active reminder settings; set them with "
            "`billfold remind configure` first"
        )
    return biller.id, biller.timezone, settings


def _address(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 64 or any(ch.isspace() for ch in value):
        raise InvalidInput("address: a phone number or openid, 1-64 characters without spaces")
    return value


def settings_view(settings: ReminderSettings | None) -> dict[str, Any] | None:
    if settings is None:
        return None
    return {
        "channel": settings.channel.value,
        "templates": settings.templates,
        "days_before": settings.days_before,
        "overdue_every_days": settings.overdue_every_days,
        "quiet_hours": f"{settings.quiet_start}-{settings.quiet_end}",
        "sign_name": settings.sign_name,
        "credentials": settings.credentials,  # ids and references only
        "active": settings.active,
    }
