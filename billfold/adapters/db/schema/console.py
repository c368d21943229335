"""Tables of the web console: its sessions and each back-office user's failed logins.

Defined on the one :data:`billfold.adapters.db.schema.metadata`; migration 0021 creates them.
A session is found by the SHA-256 of the token in its cookie (the token itself is never
stored), carries the CSRF token its forms must send back, and ends by logout, by idle time or
by its absolute limit. Failed logins are counted per user; enough of them lock the user out
for a while.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Table

from billfold.adapters.db.schema.base import TS, Id, _id, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = ["console_lockouts", "console_sessions"]

console_sessions = Table(
    "console_sessions",
    metadata,
    _id(),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("user_id", Id, ForeignKey("backoffice_users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False),
    Column("ended_at", TS),  # logout, or a newer login replacing it
    Column("flash", String(500)),  # a message for the next page, shown once
    CheckConstraint("length(token_sha256) = 64", name="ck_console_sessions_token_hashed"),
    CheckConstraint("length(csrf_token) >= 32", name="ck_console_sessions_csrf_long"),
    CheckConstraint("last_seen_at >= created_at", name="ck_console_sessions_seen_after_start"),
    Index(None, "user_id", "ended_at"),
)

console_lockouts = Table(
    "console_lockouts",
    metadata,
    _id(),
    Column("user_id", Id, ForeignKey("backoffice_users.id"), nullable=False, unique=True),
    Column("failures", Integer, nullable=False),  # failed logins in a row
    Column("last_failure_at", TS, nullable=False),
    Column("locked_until", TS),  # NULL: not locked
    CheckConstraint("failures >= 0", name="ck_console_lockouts_failures_not_negative"),
)

add_checks(console_sessions, console_lockouts)
