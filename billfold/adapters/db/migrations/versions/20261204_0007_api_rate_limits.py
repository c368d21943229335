"""api rate limits shared by every worker

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

One token bucket per API key (tokens in thousandths, refill time in Unix microseconds), taken
from with a conditional UPDATE by every API worker on the database.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_rate_limits",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("tokens_milli", sa.BigInteger(), nullable=False),
        sa.Column("refilled_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_rate_limits")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_rate_limits_key_id")),
    )


def downgrade() -> None:
    op.drop_table("api_rate_limits")
