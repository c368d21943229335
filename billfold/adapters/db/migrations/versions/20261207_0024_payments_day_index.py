"""payments: the reconciliation's index leads with ``business_date`` instead of ``channel``

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

A confirmation first looks its payment up by ``(channel, channel_txn_id)``, the unique key.
The index on ``(channel, business_date)`` shared that lookup's first column, and
PostgreSQL's generic plan for the prepared lookup, made while ``payments`` was small or
never analysed (a new installation, a benchmark), chose it: it is narrower, and with no
statistics both indexes promise one row. The plan is kept until the table is analysed, so
every confirmation read every payment of its channel — 0.41 ms a lookup at 3,000
payments as pg_stat_statements timed it, growing with each one (docs/performance.md).
The reconciliation and the settlement ask for one channel *and* one business date, which
``(business_date, channel)`` serves the same; the lookup is then left one index that
starts with ``channel``, the unique one. Downgrading restores the old order.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_payments_business_date_channel", "payments", ["business_date", "channel"])
    op.drop_index("ix_payments_channel_business_date", table_name="payments")


def downgrade() -> None:
    op.create_index("ix_payments_channel_business_date", "payments", ["channel", "business_date"])
    op.drop_index("ix_payments_business_date_channel", table_name="payments")
