"""request ids for waivers and discrepancy resolutions

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

``waivers.request_id``: the client's key for a waiver, unique per bill, so that a retried
waiver (after a lost answer or a crash after the commit) is not applied twice. Waivers made
before have none (NULL, which the unique constraint allows many times).

``recon_discrepancies.resolution_request_id``: the key of the request that resolved a
discrepancy, so that the same request again answers the resolution instead of a refusal.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("waivers") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(
            batch.f("uq_waivers_bill_id_request_id"), ["bill_id", "request_id"]
        )
    # a plain ADD COLUMN: a batch copy would recreate a table others may reference
    op.add_column(
        "recon_discrepancies",
        sa.Column("resolution_request_id", sa.String(length=64), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("recon_discrepancies", "resolution_request_id")
    with op.batch_alter_table("waivers") as batch:
        batch.drop_constraint(batch.f("uq_waivers_bill_id_request_id"), type_="unique")
        batch.drop_column("request_id")
