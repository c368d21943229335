"""Looking at webhook deliveries, and giving dead ones another chance.

A delivery is ``pending`` (waiting for its next attempt), ``delivered`` (a 2xx came back) or
``dead`` (every attempt failed). Requeueing a dead delivery makes it ``pending`` and due
now, with a fresh set of attempts; the receiver gets the same event id as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select, update

from billfold.adapters.db import schema as t
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.adapters.outbox.endpoints import in_unit
from billfold.clock import Clock
from billfold.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from billfold.engine import Engine

__all__ = ["STATUSES", "Delivery", "list_dead", "list_deliveries", "requeue_dead"]

STATUSES = ("pending", "delivered", "dead")
_D, _E, _EV, _B = t.outbox_deliveries, t.webhook_endpoints, t.outbox_events, t.billers


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_id: str
    event_type: str
    biller_code: str
    endpoint_id: int
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


def list_deliveries(
    engine_or_uow: Engine | SqlUnitOfWork,
    *,
    status: str | None = None,
    biller_code: str | None = None,
    event_id: str | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """Deliveries, oldest first, filtered by status, biller and event id."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    if limit < 1:
        raise InvalidInput(f"limit: must be at least 1, got {limit}")
    q = _select().order_by(_D.c.id).limit(limit)
    if status is not None:
        q = q.where(_D.c.status == status)
    if biller_code is not None:
        q = q.where(_B.c.code == biller_code)
    if event_id is not None:
        q = q.where(_EV.c.event_id == event_id)
    with in_unit(engine_or_uow, None) as (uow, _):
        return [_delivery(row) for row in uow.conn.execute(q)]


def list_dead(
    engine_or_uow: Engine | SqlUnitOfWork, biller_code: str | None = None, limit: int = 100
) -> list[Delivery]:
    return list_deliveries(engine_or_uow, status="dead", biller_code=biller_code, limit=limit)


def requeue_dead(
    engine_or_uow: Engine | SqlUnitOfWork,
    delivery_id: int,
    *,
    actor: str = "system",
    reason: str = "",
    clock: Clock | None = None,
) -> Delivery:
    """Make dead delivery ``delivery_id`` pending and due now, with its attempts reset."""
    with in_unit(engine_or_uow, clock) as (uow, now):
        changed = uow.conn.execute(
            update(_D)
            .where(_D.c.id == delivery_id, _D.c.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now)
        ).rowcount
        row = uow.conn.execute(_select().where(_D.c.id == delivery_id)).first()
        if row is None:
            raise NotFound(f"webhook delivery {delivery_id} does not exist")
        if not changed:
            raise Conflict(
                f"webhook delivery {delivery_id} is {row.status}, not dead; "
                "only dead deliveries can be requeued"
            )
        uow.audit.append(
            actor=actor,
            action="webhook_delivery.requeued",
            target_type="webhook_delivery",
            target_id=str(delivery_id),
            reason=reason,
            before={"status": "dead", "last_error": row.last_error},
            after={"status": "pending", "event_id": row.event_id},
            now=now,
        )
        return _delivery(row)


def _select() -> Any:
    return (
        select(
            _D,
            _EV.c.event_id,
            _EV.c.event_type,
            _B.c.code.label("biller_code"),
            _E.c.url,
        )
        .join(_EV, _EV.c.id == _D.c.event_pk)
        .join(_E, _E.c.id == _D.c.endpoint_id)
        .join(_B, _B.c.id == _E.c.biller_id)
    )


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=int(row.id),
        event_id=row.event_id,
        event_type=row.event_type,
        biller_code=row.biller_code,
        endpoint_id=int(row.endpoint_id),
        url=row.url,
        status=row.status,
        attempts=int(row.attempts),
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
    )
