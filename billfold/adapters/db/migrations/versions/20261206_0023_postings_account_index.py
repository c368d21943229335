"""journal postings: drop the index on ``account``, which no query reads by

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06

No statement looks postings up by account: the trial balance and the bills' balances
aggregate the whole table (the latter by ``bill_id``, which has its own index), a chain's
postings are read by ``entry_id``. Yet every confirmation wrote it three times (clearing,
payable, fee income: three leaf pages apart), about an eighth of the pages a confirmation
dirties on SQLite (docs/performance.md). Downgrading creates it again.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_journal_postings_account", table_name="journal_postings")


def downgrade() -> None:
    op.create_index("ix_journal_postings_account", "journal_postings", ["account"])
