"""government fees and presale-fund supervision

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Fee catalogues and payment receipts of government offices; supervised presale projects,
their milestones, buyers' contracts, the escrow ledger and the pushes to the housing bureau.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, autoincrement=True, nullable=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    name = op.f(f"fk_{table}_{column}_{target}")
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=name)


def upgrade() -> None:
    op.create_table(
        "gov_fee_items",
        _id(),
        sa.Column("biller_id", ID, nullable=False),
        sa.Column("item_code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("gov_fee_items", "biller_id", "billers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_fee_items")),
        sa.UniqueConstraint(
            "biller_id",
            "item_code",
            "effective_from",
            name=op.f("uq_gov_fee_items_biller_id_item_code_effective_from"),
        ),
    )
    op.create_table(
        "gov_receipts",
        _id(),
        sa.Column("receipt_no", sa.String(length=32), nullable=False),
        sa.Column("payment_id", ID, nullable=False),
        sa.Column("biller_id", ID, nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _fk("gov_receipts", "payment_id", "payments"),
        _fk("gov_receipts", "biller_id", "billers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_receipts")),
        sa.UniqueConstraint("receipt_no", name=op.f("uq_gov_receipts_receipt_no")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_gov_receipts_payment_id")),
    )
    op.create_table(
        "presale_projects",
        _id(),
        sa.Column("biller_id", ID, nullable=False),
        sa.Column("project_code", sa.String(length=64), nullable=False),
        sa.Column("bureau_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("escrow_bank", sa.String(length=200), nullable=False),
        sa.Column("escrow_account_no", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("presale_projects", "biller_id", "billers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presale_projects")),
        sa.UniqueConstraint("bureau_code", name=op.f("uq_presale_projects_bureau_code")),
        sa.UniqueConstraint(
            "biller_id", "project_code", name=op.f("uq_presale_projects_biller_id_project_code")
        ),
    )
    op.create_table(
        "presale_milestones",
        _id(),
        sa.Column("project_pk", ID, nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("cumulative_bps", sa.Integer(), nullable=False),
        sa.Column("reached_on", sa.Date(), nullable=True),
        _fk("presale_milestones", "project_pk", "presale_projects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presale_milestones")),
        sa.UniqueConstraint(
            "project_pk", "stage", name=op.f("uq_presale_milestones_project_pk_stage")
        ),
    )
    op.create_table(
        "presale_contracts",
        _id(),
        sa.Column("project_pk", ID, nullable=False),
        sa.Column("contract_no", sa.String(length=64), nullable=False),
        sa.Column("unit_no", sa.String(length=64), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("buyer_name", sa.String(length=200), nullable=False),
        sa.Column("bill_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("presale_contracts", "project_pk", "presale_projects"),
        _fk("presale_contracts", "bill_id", "bills"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presale_contracts")),
        sa.UniqueConstraint("contract_no", name=op.f("uq_presale_contracts_contract_no")),
    )
    op.create_table(
        "escrow_entries",
        _id(),
        sa.Column("project_pk", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("payment_id", ID, nullable=True),
        sa.Column("contract_no", sa.String(length=64), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        _fk("escrow_entries", "project_pk", "presale_projects"),
        _fk("escrow_entries", "payment_id", "payments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow_entries")),
        sa.UniqueConstraint("project_pk", "seq", name=op.f("uq_escrow_entries_project_pk_seq")),
        sa.UniqueConstraint(
            "kind", "channel", "ref", name=op.f("uq_escrow_entries_kind_channel_ref")
        ),
    )
    op.create_table(
        "bureau_pushes",
        _id(),
        sa.Column("entry_pk", ID, nullable=False),
        sa.Column("project_pk", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("push_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("receipt_no", sa.String(length=64), nullable=True),
        sa.Column("acked_at", TS, nullable=True),
        _fk("bureau_pushes", "entry_pk", "escrow_entries"),
        _fk("bureau_pushes", "project_pk", "presale_projects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bureau_pushes")),
        sa.UniqueConstraint("entry_pk", name=op.f("uq_bureau_pushes_entry_pk")),
        sa.UniqueConstraint("push_id", name=op.f("uq_bureau_pushes_push_id")),
    )
    op.create_index(
        op.f("ix_bureau_pushes_project_pk_status_seq"),
        "bureau_pushes",
        ["project_pk", "status", "seq"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_bureau_pushes_project_pk_status_seq"), table_name="bureau_pushes")
    for table in (
        "bureau_pushes",
        "escrow_entries",
        "presale_contracts",
        "presale_milestones",
        "presale_projects",
        "gov_receipts",
        "gov_fee_items",
    ):
        op.drop_table(table)
