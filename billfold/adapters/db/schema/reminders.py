"""Tables of payer reminders: each biller's settings, opt-outs, WeChat openids, reminders.

Defined on the one :data:`billfold.adapters.db.schema.metadata`; migration 0022 creates them.
``reminders`` holds at most one reminder of a kind per bill per business day: the unique
``(bill_id, kind, day)`` refuses a second, whoever writes it.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from billfold.adapters.db.schema.base import TS, Id, _id, metadata
from billfold.adapters.db.schema.checks import add_checks
from billfold.collection.reminder import ReminderChannel, ReminderKind, ReminderStatus

__all__ = ["payer_openids", "reminder_opt_outs", "reminder_settings", "reminders"]


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


KINDS = tuple(k.value for k in ReminderKind)
CHANNELS = tuple(c.value for c in ReminderChannel)
STATUSES = tuple(s.value for s in ReminderStatus)
_HHMM = "length({c}) = 5 AND substr({c}, 3, 1) = ':'"

reminder_settings = Table(
    "reminder_settings",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),
    Column("templates", Text, nullable=False),  # JSON: kind -> template
    Column("days_before", Integer, nullable=False),
    Column("overdue_every_days", Integer, nullable=False),
    Column("quiet_start", String(5), nullable=False),
    Column("quiet_end", String(5), nullable=False),
    Column("sign_name", String(64), nullable=False),
    Column("credentials", Text, nullable=False),  # JSON: ids and references, never secrets
    Column("active", Boolean, nullable=False),
    Column("updated_at", TS, nullable=False),
    CheckConstraint(_one_of("channel", CHANNELS), name="channel_known"),
    CheckConstraint("days_before >= 0 AND days_before <= 60", name="days_before_range"),
    CheckConstraint(
        "overdue_every_days >= 1 AND overdue_every_days <= 60", name="overdue_every_range"
    ),
    CheckConstraint(
        _HHMM.format(c="quiet_start") + " AND " + _HHMM.format(c="quiet_end"),
        name="quiet_hours_hhmm",
    ),
)

reminder_opt_outs = Table(
    "reminder_opt_outs",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("address", String(64), nullable=False),  # a phone number or a WeChat openid
    Column("source", String(32), nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("biller_id", "address"),
    CheckConstraint("address <> ''", name="address_given"),
)

payer_openids = Table(
    "payer_openids",
    metadata,
    _id(),
    Column("payer_id", Id, ForeignKey("payers.id"), nullable=False, unique=True),
    Column("openid", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    CheckConstraint("openid <> ''", name="openid_given"),
)

reminders = Table(
    "reminders",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("bill_id", Id, ForeignKey("bills.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("day", Date, nullable=False),  # the business day in the biller's timezone
    Column("channel", String(16), nullable=False),
    Column("address", String(64)),  # phone or openid; NULL when the payer has none
    Column("params", Text, nullable=False),  # JSON: the template parameters
    Column("event_id", String(36), nullable=False),  # the outbox event it came from
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TS, nullable=False),
    Column("last_error", String(500)),
    Column("provider_ref", String(64)),  # the provider's id for the message (BizId, msgid)
    Column("created_at", TS, nullable=False),
    Column("sent_at", TS),
    UniqueConstraint("bill_id", "kind", "day"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "biller_id", "created_at"),
    CheckConstraint(_one_of("kind", KINDS), name="kind_known"),
    CheckConstraint(_one_of("channel", CHANNELS), name="channel_known"),
    CheckConstraint(_one_of("status", STATUSES), name="status_known"),
    CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    CheckConstraint(
        "(status = 'sent' AND sent_at IS NOT NULL) OR (status <> 'sent' AND sent_at IS NULL)",
        name="sent_at_when_sent",
    ),
)

add_checks(reminder_settings, reminder_opt_outs, payer_openids, reminders)
