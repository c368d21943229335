"""payer reminders: settings per biller, opt-outs, WeChat openids and the reminders sent

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06

``reminder_settings`` (one row per biller: channel, templates, days before the due date,
quiet hours, credentials as references), ``reminder_opt_outs`` (a phone number or openid that
asked for no more reminders from a biller), ``payer_openids`` (a payer's WeChat openid) and
``reminders``: at most one of a kind per bill per business day (unique). New tables only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
# frozen copies of the codes (billfold.collection.reminder) as this migration knew them
KINDS = "'issued', 'due_soon', 'overdue', 'paid'"
CHANNELS = "'sms', 'wechat'"
STATUSES = "'pending', 'sent', 'dead', 'skipped'"
HHMM = "length({c}) = 5 AND substr({c}, 3, 1) = ':'"


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "reminder_settings",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("biller_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("templates", sa.Text(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("overdue_every_days", sa.Integer(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=False),
        sa.Column("quiet_end", sa.String(length=5), nullable=False),
        sa.Column("sign_name", sa.String(length=64), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            f"channel IN ({CHANNELS})", name=op.f("ck_reminder_settings_channel_known")
        ),
        sa.CheckConstraint(
            "days_before >= 0 AND days_before <= 60",
            name=op.f("ck_reminder_settings_days_before_range"),
        ),
        sa.CheckConstraint(
            "overdue_every_days >= 1 AND overdue_every_days <= 60",
            name=op.f("ck_reminder_settings_overdue_every_range"),
        ),
        sa.CheckConstraint(
            HHMM.format(c="quiet_start") + " AND " + HHMM.format(c="quiet_end"),
            name=op.f("ck_reminder_settings_quiet_hours_hhmm"),
        ),
        _fk("reminder_settings", "biller_id", "billers"),
        _pk("reminder_settings"),
        sa.UniqueConstraint("biller_id", name=op.f("uq_reminder_settings_biller_id")),
    )
    op.create_table(
        "reminder_opt_outs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("biller_id", ID, nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("address <> ''", name=op.f("ck_reminder_opt_outs_address_given")),
        _fk("reminder_opt_outs", "biller_id", "billers"),
        _pk("reminder_opt_outs"),
        sa.UniqueConstraint(
            "biller_id", "address", name=op.f("uq_reminder_opt_outs_biller_id_address")
        ),
    )
    op.create_table(
        "payer_openids",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("payer_id", ID, nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("openid <> ''", name=op.f("ck_payer_openids_openid_given")),
        _fk("payer_openids", "payer_id", "payers"),
        _pk("payer_openids"),
        sa.UniqueConstraint("payer_id", name=op.f("uq_payer_openids_payer_id")),
    )
    _reminders()


def _reminders() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("biller_id", ID, nullable=False),
        sa.Column("bill_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("provider_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_reminders_kind_known")),
        sa.CheckConstraint(f"channel IN ({CHANNELS})", name=op.f("ck_reminders_channel_known")),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_reminders_status_known")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_reminders_attempts_not_negative")),
        sa.CheckConstraint(
            "(status = 'sent' AND sent_at IS NOT NULL) OR (status <> 'sent' AND sent_at IS NULL)",
            name=op.f("ck_reminders_sent_at_when_sent"),
        ),
        _fk("reminders", "biller_id", "billers"),
        _fk("reminders", "bill_id", "bills"),
        _pk("reminders"),
        sa.UniqueConstraint("bill_id", "kind", "day", name=op.f("uq_reminders_bill_id_kind_day")),
    )
    op.create_index(
        op.f("ix_reminders_status_next_attempt_at"), "reminders", ["status", "next_attempt_at"]
    )
    op.create_index(
        op.f("ix_reminders_biller_id_created_at"), "reminders", ["biller_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reminders_biller_id_created_at"), table_name="reminders")
    op.drop_index(op.f("ix_reminders_status_next_attempt_at"), table_name="reminders")
    for table in ("reminders", "payer_openids", "reminder_opt_outs", "reminder_settings"):
        op.drop_table(table)
