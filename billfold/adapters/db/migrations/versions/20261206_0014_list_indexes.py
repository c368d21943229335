"""indexes for the back office's lists

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-06

The lists page by keyset (sort key, id) within a biller, and the suspense desk reads
payments by status: indexes so that a page is a short index range scan, not a sort of the
whole table. Only indexes: an existing database with data upgrades in place.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("bills", ["biller_id", "created_at", "id"]),
    ("bills", ["biller_id", "status", "due_date"]),
    ("orders", ["biller_id", "created_at", "id"]),
    ("payments", ["biller_id", "received_at", "id"]),
    ("payments", ["status", "received_at"]),
    ("audit_log", ["at", "id"]),
    ("audit_log", ["target_type", "target_id"]),
    ("outbox_events", ["biller_id", "created_at"]),
]


def _name(table: str, columns: list[str]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    for table, columns in INDEXES:
        op.create_index(_name(table, columns), table, columns)


def downgrade() -> None:
    for table, columns in reversed(INDEXES):
        op.drop_index(_name(table, columns), table_name=table)
