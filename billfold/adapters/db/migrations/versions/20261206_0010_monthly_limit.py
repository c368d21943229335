"""a monthly limit per biller

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

``billers.monthly_limit_fen``: what a biller may have ordered in one calendar month of
business dates (NULL: no limit), held under concurrency like the daily limit.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("billers") as batch:
        batch.add_column(sa.Column("monthly_limit_fen", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35 has it): a batch copy would drop and recreate
    # `billers`, which rows in other tables reference
    op.drop_column("billers", "monthly_limit_fen")
