"""the web console's sessions and failed logins

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-06

``console_sessions``: one row per login to the web console, found by the SHA-256 of the
cookie's token, with the CSRF token of its forms, its start, its last request and its end.
``console_lockouts``: failed logins in a row per back-office user, and until when the user
is locked out. New tables: nothing to move; downgrading drops them (every session ends).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("flash", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "length(token_sha256) = 64", name=op.f("ck_console_sessions_token_hashed")
        ),
        sa.CheckConstraint("length(csrf_token) >= 32", name=op.f("ck_console_sessions_csrf_long")),
        sa.CheckConstraint(
            "last_seen_at >= created_at", name=op.f("ck_console_sessions_seen_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["backoffice_users.id"],
            name=op.f("fk_console_sessions_user_id_backoffice_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_console_sessions_token_sha256")),
    )
    op.create_index(
        op.f("ix_console_sessions_user_id_ended_at"), "console_sessions", ["user_id", "ended_at"]
    )
    op.create_table(
        "console_lockouts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", TS, nullable=False),
        sa.Column("locked_until", TS, nullable=True),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_console_lockouts_failures_not_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["backoffice_users.id"],
            name=op.f("fk_console_lockouts_user_id_backoffice_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_lockouts")),
        sa.UniqueConstraint("user_id", name=op.f("uq_console_lockouts_user_id")),
    )


def downgrade() -> None:
    op.drop_table("console_lockouts")
    op.drop_index(op.f("ix_console_sessions_user_id_ended_at"), table_name="console_sessions")
    op.drop_table("console_sessions")
