"""roles, back-office users and maker-checker approvals

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

API keys carry roles instead of a read/write scope. Existing keys keep what they could do:

| key | roles |
|---|---|
| back office (every biller), write | admin, bursar, reconciler, supervisor |
| back office, read | viewer |
| one biller's, write | bursar, reconciler (on that biller) |
| one biller's, read | viewer (on that biller) |

A rotated key's previous secret keeps working until ``previous_valid_until``. New tables:
``backoffice_users`` (argon2 password hashes), ``pending_approvals`` (what a maker proposed
and a checker decided) and ``approval_policies`` (per biller, which actions need a checker).
Going down gives each key back a scope: ``write`` if it held any role but viewer.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

_keys = sa.table(
    "api_keys",
    sa.column("biller_id", ID),
    sa.column("scope", sa.String),
    sa.column("roles", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("roles", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("previous_secret_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("previous_valid_until", TS, nullable=True))
    office = _keys.c.biller_id.is_(None)
    write = _keys.c.scope == "write"
    for where, roles in (
        (office & write, "bursar,reconciler,supervisor,admin"),
        (~office & write, "bursar,reconciler"),
        (_keys.c.scope != "write", "viewer"),
    ):
        op.execute(_keys.update().where(where).values(roles=roles))
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("roles", existing_type=sa.String(length=100), nullable=False)
        batch.drop_column("scope")
        batch.create_check_constraint("ck_api_keys_roles_given", "roles <> ''")
    _create_tables()


def _create_tables() -> None:
    op.create_table(
        "backoffice_users",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("roles", sa.String(length=100), nullable=False),
        sa.Column("biller_id", ID, nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS, nullable=True),
        sa.CheckConstraint("roles <> ''", name="ck_backoffice_users_roles_given"),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_backoffice_users_biller_id_billers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backoffice_users")),
        sa.UniqueConstraint("username", name=op.f("uq_backoffice_users_username")),
    )
    op.create_table(
        "pending_approvals",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("biller_id", ID, nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("maker", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("checker", sa.String(length=100), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('proposed', 'approved', 'rejected')",
            name="ck_pending_approvals_state_known",
        ),
        sa.CheckConstraint(
            "(state = 'proposed' AND checker IS NULL AND decided_at IS NULL)"
            " OR (state <> 'proposed' AND checker IS NOT NULL AND decided_at IS NOT NULL)",
            name="ck_pending_approvals_decided_by_someone",
        ),
        sa.CheckConstraint(
            "checker IS NULL OR checker <> maker", name="ck_pending_approvals_four_eyes"
        ),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_pending_approvals_biller_id_billers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_approvals")),
    )
    op.create_index(
        op.f("ix_pending_approvals_state_created_at"),
        "pending_approvals",
        ["state", "created_at"],
    )
    op.create_table(
        "approval_policies",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("biller_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("threshold_fen", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "threshold_fen IS NULL OR threshold_fen >= 0",
            name="ck_approval_policies_threshold_not_negative",
        ),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_approval_policies_biller_id_billers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_policies")),
        sa.UniqueConstraint("biller_id", "kind", name=op.f("uq_approval_policies_biller_id_kind")),
    )


def downgrade() -> None:
    op.drop_table("approval_policies")
    op.drop_index(op.f("ix_pending_approvals_state_created_at"), table_name="pending_approvals")
    op.drop_table("pending_approvals")
    op.drop_table("backoffice_users")
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=8), nullable=True))
    op.execute(_keys.update().where(_keys.c.roles == "viewer").values(scope="read"))
    op.execute(_keys.update().where(_keys.c.roles != "viewer").values(scope="write"))
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("scope", existing_type=sa.String(length=8), nullable=False)
        batch.drop_constraint("ck_api_keys_roles_given", type_="check")
        batch.drop_column("previous_valid_until")
        batch.drop_column("previous_secret_sha256")
        batch.drop_column("roles")
