"""Fan-out: one delivery row per event and interested endpoint, created exactly once.

The events are claimed ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, their deliveries inserted
and the events marked ``fanned_out`` in the same transaction, so concurrent dispatchers
split the events between them and a crash leaves either all of an event's deliveries or
none (the unique ``(event_pk, endpoint_id)`` backs this up). Events without a biller, or
whose biller has no interested endpoint, are marked fanned out with no deliveries.

Reminder events (``bill.created``, ``bill.paid``, ``reminder.*``) also become payer reminders
here, in the same transaction (:func:`~billfold.adapters.outbox.reminders.store.reminder_rows`),
so a reminder is made exactly once, like a delivery.

A *deactivated* endpoint still gets its deliveries, created ``pending``: the dispatcher only
sends to active endpoints, so they wait and go out once it is reactivated. Nothing written
while an endpoint is switched off is lost (marking the event fanned out is safe because its
delivery row exists).
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import Connection, select, update
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.dialects import postgresql, sqlite

from billfold.adapters.db import schema as t
from billfold.adapters.outbox.endpoints import event_type_matches
from billfold.adapters.outbox.reminders.store import EVENT_KINDS, reminder_rows
from billfold.clock import Clock

__all__ = ["fan_out"]

log = structlog.get_logger()
_D, _E, _EV = t.outbox_deliveries, t.webhook_endpoints, t.outbox_events


def fan_out(db: SqlEngine, clock: Clock, batch: int = 100) -> tuple[int, int]:
    """Create the deliveries of up to ``batch`` events; returns (events, deliveries)."""
    now = clock.now()
    with db.begin() as conn:
        events = conn.execute(
            select(_EV.c.id, _EV.c.event_type, _EV.c.biller_id)
            .where(_EV.c.fanned_out.is_(False))
            .order_by(_EV.c.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        if not events:
            return 0, 0
        billers = {e.biller_id for e in events if e.biller_id is not None}
        endpoints = conn.execute(
            select(_E.c.id, _E.c.biller_id, _E.c.event_types).where(_E.c.biller_id.in_(billers))
        ).all()
        rows = [
            {
                "event_pk": event.id,
                "endpoint_id": endpoint.id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for event in events
            for endpoint in endpoints
            if endpoint.biller_id == event.biller_id
            and event_type_matches(endpoint.event_types.split(","), event.event_type)
        ]
        if rows:
            conn.execute(_insert_deliveries(conn).on_conflict_do_nothing(), rows)
        reminded = [e.id for e in events if e.event_type in EVENT_KINDS]
        if reminded:
            full = conn.execute(
                select(
                    _EV.c.id,
                    _EV.c.event_id,
                    _EV.c.event_type,
                    _EV.c.biller_id,
                    _EV.c.payload,
                    _EV.c.created_at,
                )
                .where(_EV.c.id.in_(reminded))
                .order_by(_EV.c.id)
            ).all()
            reminder_rows(conn, full, now)
        conn.execute(
            update(_EV).where(_EV.c.id.in_([e.id for e in events])).values(fanned_out=True)
        )
    log.info("outbox.fanned_out", events=len(events), deliveries=len(rows))
    return len(events), len(rows)


def _insert_deliveries(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(_D)
