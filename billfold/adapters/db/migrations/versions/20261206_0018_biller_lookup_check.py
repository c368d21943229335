"""what the payer pages ask besides the identifier

Revision ID: 0018
Revises: 0011
Create Date: 2026-12-06

``billers.lookup_check``: ``none`` (every existing biller, as before), ``name_last_char`` or
``name`` — the second factor the public lookup asks of a payer before it lists bills.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("billers") as batch:
        batch.add_column(
            sa.Column("lookup_check", sa.String(16), nullable=False, server_default="none")
        )


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35 has it), as 0010 does: a batch copy would drop and
    # recreate `billers`, which rows in other tables reference
    op.drop_column("billers", "lookup_check")
