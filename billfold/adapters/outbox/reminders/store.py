"""Reminders in the database: settings, opt-outs, openids, and reminders made from events.

**From event to reminder, exactly once.** Reminder events are outbox events: ``bill.created``
(→ ``issued``), ``bill.paid`` (→ ``paid``), and ``reminder.issued`` (bills imported from a
file, which write no ``bill.created``), ``reminder.due_soon`` / ``reminder.overdue``, written
by the reminder duty or by :func:`~.api.remind_bills` with an event id derived from
(bill, kind, business day), so writing one twice inserts nothing. When the outbox fans an
event out (:mod:`billfold.adapters.outbox.fanout`), :func:`reminder_rows` makes its reminder
in the same transaction; the unique ``(bill_id, kind, day)`` keeps it to one of a kind per
bill per business day, whichever event or worker comes second.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.reminders import (
    payer_openids,
    reminder_opt_outs,
    reminder_settings,
    reminders,
)
from billfold.clock import business_date
from billfold.collection.reminder import (
    ReminderChannel,
    ReminderKind,
    ReminderSettings,
    ReminderStatus,
)
from billfold.money import format_yuan

__all__ = [
    "EVENT_KINDS",
    "Candidate",
    "event_id",
    "insert_reminder_events",
    "is_opted_out",
    "load_settings",
    "reminder_rows",
    "save_settings",
]

#: the outbox events a reminder is made from
EVENT_KINDS: dict[str, ReminderKind] = {
    "bill.created": ReminderKind.ISSUED,
    "bill.paid": ReminderKind.PAID,
    "reminder.issued": ReminderKind.ISSUED,
    "reminder.due_soon": ReminderKind.DUE_SOON,
    "reminder.overdue": ReminderKind.OVERDUE,
}
_NAMESPACE = uuid.UUID("0c7a0f64-5a8e-4d3b-9f57-6b1b2d0e6a21")
_B, _P, _I, _BL, _EV = t.bills, t.payers, t.bill_items, t.billers, t.outbox_events
_S, _R = reminder_settings, reminders


def _insert(conn: Connection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _inserted(conn: Connection, stmt: Any, table: Any) -> bool:
    """Run an ``INSERT ... ON CONFLICT DO NOTHING``; whether it inserted the row (asked with
    RETURNING: psycopg's rowcount for such an insert is -1 either way)."""
    return conn.execute(stmt.returning(table.c.id)).first() is not None


# -- settings ----------------------------------------------------------------------------------


def load_settings(conn: Connection, biller_id: int) -> ReminderSettings | None:
    row = conn.execute(select(_S).where(_S.c.biller_id == biller_id)).first()
    return None if row is None else _settings(row)


def _settings(row: Row[Any]) -> ReminderSettings:
    return ReminderSettings(
        channel=ReminderChannel(row.channel),
        templates=json.loads(row.templates),
        days_before=int(row.days_before),
        overdue_every_days=int(row.overdue_every_days),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        sign_name=row.sign_name,
        credentials=json.loads(row.credentials),
        active=bool(row.active),
    )


def save_settings(
    conn: Connection, biller_id: int, settings: ReminderSettings, now: datetime
) -> None:
    values = {
        "channel": settings.channel.value,
        "templates": json.dumps(settings.templates, ensure_ascii=False, sort_keys=True),
        "days_before": settings.days_before,
        "overdue_every_days": settings.overdue_every_days,
        "quiet_start": settings.quiet_start,
        "quiet_end": settings.quiet_end,
        "sign_name": settings.sign_name,
        "credentials": json.dumps(settings.credentials, sort_keys=True),
        "active": settings.active,
        "updated_at": now,
    }
    stmt = _insert(conn, _S).values(biller_id=biller_id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["biller_id"], set_=values))


def all_settings(conn: Connection) -> list[tuple[int, str, ReminderSettings]]:
    """(biller id, timezone, settings) of every biller with active reminder settings."""
    rows = conn.execute(
        select(_S, _BL.c.timezone)
        .join(_BL, _BL.c.id == _S.c.biller_id)
        .where(_S.c.active.is_(True), _BL.c.status == "active")
        .order_by(_S.c.biller_id)
    ).all()
    return [(int(r.biller_id), r.timezone, _settings(r)) for r in rows]


# -- opt-outs and openids ------------------------------------------------------------------------


def is_opted_out(conn: Connection, biller_id: int, address: str) -> bool:
    o = reminder_opt_outs.c
    found = conn.execute(select(o.id).where(o.biller_id == biller_id, o.address == address)).first()
    return found is not None


def opt_out(conn: Connection, biller_id: int, address: str, source: str, now: datetime) -> bool:
    """Record the opt-out; False when it was recorded before."""
    stmt = _insert(conn, reminder_opt_outs).values(
        biller_id=biller_id, address=address, source=source, created_at=now
    )
    return _inserted(conn, stmt.on_conflict_do_nothing(), reminder_opt_outs)


def opt_in(conn: Connection, biller_id: int, address: str) -> bool:
    o = reminder_opt_outs.c
    gone = conn.execute(
        reminder_opt_outs.delete().where(o.biller_id == biller_id, o.address == address)
    )
    return bool(gone.rowcount)


def bind_openid(conn: Connection, payer_id: int, openid: str, now: datetime) -> None:
    stmt = _insert(conn, payer_openids).values(payer_id=payer_id, openid=openid, created_at=now)
    conn.execute(stmt.on_conflict_do_update(index_elements=["payer_id"], set_={"openid": openid}))


# -- reminder events -----------------------------------------------------------------------------


def event_id(bill_id: int, kind: ReminderKind, day: date) -> str:
    """The event id of a reminder event: the same for the same bill, kind and business day,
    so a second writer (another worker, a clerk's "remind") inserts nothing."""
    return str(uuid.uuid5(_NAMESPACE, f"{bill_id}:{kind.value}:{day.isoformat()}"))


@dataclass(frozen=True, slots=True)
class Candidate:
    bill_id: int
    bill_no: str
    kind: ReminderKind
    day: date


def insert_reminder_events(
    conn: Connection,
    biller_id: int,
    found: Sequence[Candidate],
    now: datetime,
    extra: dict[str, str] | None = None,
) -> set[int]:
    """Write the reminder event of each candidate unless written before; the bill ids whose
    event was written now."""
    written: set[int] = set()
    for c in found:
        ident = event_id(c.bill_id, c.kind, c.day)
        data = {
            "bill_no": c.bill_no,
            "kind": c.kind.value,
            "day": c.day.isoformat(),
            **(extra or {}),
        }
        body = {"id": ident, "type": f"reminder.{c.kind.value}", "created_at": now.isoformat()}
        payload = json.dumps({**body, "data": data}, ensure_ascii=False, sort_keys=True)
        stmt = _insert(conn, _EV).values(
            event_id=ident,
            event_type=f"reminder.{c.kind.value}",
            biller_id=biller_id,
            payload=payload,
            created_at=now,
            fanned_out=False,
        )
        if _inserted(conn, stmt.on_conflict_do_nothing(index_elements=["event_id"]), _EV):
            written.add(c.bill_id)
    return written


def reminded_today(
    conn: Connection, bill_ids: Iterable[int], kind: ReminderKind, day: date
) -> set[int]:
    ids = list(bill_ids)
    if not ids:
        return set()
    rows = conn.execute(
        select(_R.c.bill_id).where(_R.c.bill_id.in_(ids), _R.c.kind == kind.value, _R.c.day == day)
    )
    return {int(r.bill_id) for r in rows}


# -- fan-out: events to reminders ---------------------------------------------------------------


def reminder_rows(conn: Connection, events: Sequence[Any], now: datetime) -> int:
    """Make the reminders of the fanned-out ``events`` (rows with ``id``, ``event_id``,
    ``event_type``, ``biller_id``, ``payload``, ``created_at``); returns how many were new.
    A biller without active settings, or without a template for the kind, gets none."""
    made = 0
    wanted = [e for e in events if e.event_type in EVENT_KINDS and e.biller_id is not None]
    settings: dict[int, tuple[str, str, ReminderSettings] | None] = {}
    for event in wanted:
        biller_id = int(event.biller_id)
        if biller_id not in settings:
            settings[biller_id] = _biller_settings(conn, biller_id)
        found = settings[biller_id]
        kind = EVENT_KINDS[event.event_type]
        if found is None or found[2].template(kind) is None:
            continue
        zone, name, config = found
        data = json.loads(event.payload).get("data", {})
        row = _bill(conn, biller_id, str(data.get("bill_no", "")), config.channel)
        if row is None:
            continue
        day = (
            date.fromisoformat(data["day"])
            if "day" in data
            else business_date(event.created_at, zone)
        )
        params = _params(row, kind, day, name, data)
        address = row.openid if config.channel is ReminderChannel.WECHAT else row.phone
        status = ReminderStatus.PENDING if address else ReminderStatus.SKIPPED
        stmt = _insert(conn, _R).values(
            biller_id=biller_id,
            bill_id=row.id,
            kind=kind.value,
            day=day,
            channel=config.channel.value,
            address=address or None,
            params=json.dumps(params, ensure_ascii=False, sort_keys=True),
            event_id=event.event_id,
            status=status.value,
            attempts=0,
            next_attempt_at=now,
            last_error=None if address else f"the payer has no {_address_word(config)}",
            created_at=now,
        )
        made += _inserted(conn, stmt.on_conflict_do_nothing(), _R)
    return made


def _address_word(config: ReminderSettings) -> str:
    return "WeChat openid" if config.channel is ReminderChannel.WECHAT else "phone number"


def _biller_settings(conn: Connection, biller_id: int) -> tuple[str, str, ReminderSettings] | None:
    row = conn.execute(
        select(_S, _BL.c.timezone, _BL.c.name.label("biller_name"))
        .join(_BL, _BL.c.id == _S.c.biller_id)
        .where(_S.c.biller_id == biller_id, _S.c.active.is_(True))
    ).first()
    return None if row is None else (row.timezone, row.biller_name, _settings(row))


def _bill(conn: Connection, biller_id: int, bill_no: str, channel: ReminderChannel) -> Any:
    owed = (
        select(
            func.coalesce(
                func.sum(_I.c.amount_fen - _I.c.paid_fen - _I.c.waived_fen - _I.c.refunded_fen), 0
            )
        )
        .where(_I.c.bill_id == _B.c.id)
        .scalar_subquery()
    )
    return conn.execute(
        select(
            _B.c.id,
            _B.c.bill_no,
            _B.c.due_date,
            _P.c.phone,
            payer_openids.c.openid,
            owed.label("owed_fen"),
        )
        .join(_P, _P.c.id == _B.c.payer_id)
        .outerjoin(payer_openids, payer_openids.c.payer_id == _P.c.id)
        .where(and_(_B.c.biller_id == biller_id, _B.c.bill_no == bill_no))
    ).first()


def _params(
    row: Any, kind: ReminderKind, day: date, biller_name: str, data: dict[str, Any]
) -> dict[str, str]:
    amount = int(data["amount_fen"]) if kind is ReminderKind.PAID else int(row.owed_fen)
    due: date | None = row.due_date
    params = {
        "biller": biller_name,
        "bill_no": row.bill_no,
        "amount": format_yuan(amount),
        "due_date": due.isoformat() if due else "",
    }
    if due is not None and kind is ReminderKind.DUE_SOON:
        params["days"] = str((due - day).days)
    elif due is not None and kind is ReminderKind.OVERDUE:
        params["days"] = str((day - due).days)
    return params
