"""channel configs and nonces

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "channel_nonces",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_nonces")),
        sa.UniqueConstraint("channel", "nonce", name=op.f("uq_channel_nonces_channel_nonce")),
    )
    with op.batch_alter_table("channel_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_nonces_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "channel_configs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "biller_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("sole", sa.Boolean(), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=True),
        sa.Column("app_id", sa.String(length=64), nullable=True),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_channel_configs_biller_id_billers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_configs")),
        sa.UniqueConstraint(
            "biller_id", "channel", name=op.f("uq_channel_configs_biller_id_channel")
        ),
    )


def downgrade() -> None:

    op.drop_table("channel_configs")
    with op.batch_alter_table("channel_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_nonces_seen_at"))

    op.drop_table("channel_nonces")
