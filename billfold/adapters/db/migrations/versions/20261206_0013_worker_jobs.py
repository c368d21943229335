"""background jobs: worker heartbeats, and procrastinate's schema on PostgreSQL

Revision ID: 0013
Revises: 0017
Create Date: 2026-12-06

``worker_heartbeats`` (both databases): one row per ``billfold worker``, its last beat.

On PostgreSQL, the tables, types, functions and triggers of procrastinate (the job queue
``billfold worker`` runs on) are created from the schema procrastinate ships
(``procrastinate.schema.SchemaManager.get_schema()``), unless they already exist. Without
the ``worker`` extra installed that step is skipped with a warning;
``billfold worker --install-schema`` adds it later. SQLite needs none of it: there the
worker runs the duties in one process (docs/jobs.md). Downgrading drops procrastinate's
objects, jobs included.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker", sa.String(length=128), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_worker_heartbeats")),
    )
    op.create_index(
        op.f("ix_worker_heartbeats_beat_at"), "worker_heartbeats", ["beat_at"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        _apply_procrastinate_schema()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _drop_procrastinate_schema()
    op.drop_index(op.f("ix_worker_heartbeats_beat_at"), table_name="worker_heartbeats")
    op.drop_table("worker_heartbeats")


def _apply_procrastinate_schema() -> None:
    from billfold.adapters.jobs.schema import apply_schema

    try:
        apply_schema(op.get_bind())
    except ImportError:
        warnings.warn(
            "procrastinate is not installed: its job tables were not created; install "
            "'billfold[worker]', then run `billfold worker --install-schema` once",
            stacklevel=1,
        )


def _drop_procrastinate_schema() -> None:
    from billfold.adapters.jobs.schema import drop_schema

    drop_schema(op.get_bind())
