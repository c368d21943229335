"""reconciliation and settlement

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Reconciliation runs and their discrepancies, bank settlements (the third leg), settlement
profiles, batches, the items each batch covers and the split of its net.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recon_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("check_fees", sa.Boolean(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("payment_count", sa.Integer(), nullable=False),
        sa.Column("payment_fen", sa.BigInteger(), nullable=False),
        sa.Column("refund_count", sa.Integer(), nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("net_fen", sa.BigInteger(), nullable=False),
        sa.Column("matched_count", sa.Integer(), nullable=False),
        sa.Column("matched_fen", sa.BigInteger(), nullable=False),
        sa.Column("engine_count", sa.Integer(), nullable=False),
        sa.Column("engine_fen", sa.BigInteger(), nullable=False),
        sa.Column("discrepancy_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "superseded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_runs")),
        sa.UniqueConstraint(
            "kind",
            "channel",
            "merchant_id",
            "business_date",
            "revision",
            name=op.f("uq_recon_runs_kind_channel_merchant_id_business_date_revision"),
        ),
    )

    with op.batch_alter_table("recon_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recon_runs_kind_status_business_date"),
            ["kind", "status", "business_date"],
            unique=False,
        )

    op.create_table(
        "bank_settlements",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "bank_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "channel_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("settles_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expected_fen", sa.BigInteger(), nullable=True),
        sa.Column("received_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("bank_ref", sa.String(length=64), nullable=False),
        sa.Column("source_file", sa.String(length=255), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_run_id"],
            ["recon_runs.id"],
            name=op.f("fk_bank_settlements_bank_run_id_recon_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["channel_run_id"],
            ["recon_runs.id"],
            name=op.f("fk_bank_settlements_channel_run_id_recon_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_settlements")),
    )

    with op.batch_alter_table("bank_settlements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_settlements_bank_run_id"), ["bank_run_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bank_settlements_channel_run_id"), ["channel_run_id"], unique=False
        )

    op.create_table(
        "recon_discrepancies",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("source_file", sa.String(length=255), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("channel_txn_id", sa.String(length=64), nullable=True),
        sa.Column("order_no", sa.String(length=64), nullable=True),
        sa.Column("refund_no", sa.String(length=64), nullable=True),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("refund_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("biller_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("line_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("engine_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("line_fee_fen", sa.BigInteger(), nullable=True),
        sa.Column("engine_fee_fen", sa.BigInteger(), nullable=True),
        sa.Column("difference_fen", sa.BigInteger(), nullable=False),
        sa.Column("line_status", sa.String(length=16), nullable=True),
        sa.Column("engine_status", sa.String(length=16), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counterparty", sa.String(length=128), nullable=True),
        sa.Column("auto_action", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=500), nullable=True),
        sa.Column("resolution_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["recon_runs.id"], name=op.f("fk_recon_discrepancies_run_id_recon_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_discrepancies")),
    )

    with op.batch_alter_table("recon_discrepancies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recon_discrepancies_payment_id"), ["payment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_recon_discrepancies_run_id"), ["run_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_recon_discrepancies_status_code"), ["status", "code"], unique=False
        )

    op.create_table(
        "settlement_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_no", sa.String(length=40), nullable=False),
        sa.Column(
            "biller_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("settle_unreconciled", sa.Boolean(), nullable=False),
        sa.Column("payment_count", sa.Integer(), nullable=False),
        sa.Column("gross_fen", sa.BigInteger(), nullable=False),
        sa.Column("refund_count", sa.Integer(), nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("net_fen", sa.BigInteger(), nullable=False),
        sa.Column("held_back_count", sa.Integer(), nullable=False),
        sa.Column("held_back_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by", sa.String(length=100), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_settlement_batches_biller_id_billers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_batches")),
        sa.UniqueConstraint("batch_no", name=op.f("uq_settlement_batches_batch_no")),
        sa.UniqueConstraint(
            "biller_id", "business_date", name=op.f("uq_settlement_batches_biller_id_business_date")
        ),
    )

    op.create_table(
        "settlement_profiles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "biller_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("settle_unreconciled", sa.Boolean(), nullable=False),
        sa.Column("remainder_rule", sa.String(length=16), nullable=False),
        sa.Column("splits", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_settlement_profiles_biller_id_billers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_profiles")),
        sa.UniqueConstraint("biller_id", name=op.f("uq_settlement_profiles_biller_id")),
    )

    op.create_table(
        "settlement_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("ref_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["settlement_batches.id"],
            name=op.f("fk_settlement_items_batch_id_settlement_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_items")),
        sa.UniqueConstraint("kind", "ref_id", name=op.f("uq_settlement_items_kind_ref_id")),
    )

    with op.batch_alter_table("settlement_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_settlement_items_batch_id"), ["batch_id"], unique=False
        )

    op.create_table(
        "settlement_parts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account_no", sa.String(length=64), nullable=False),
        sa.Column("account_name", sa.String(length=200), nullable=False),
        sa.Column("bank_name", sa.String(length=200), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["settlement_batches.id"],
            name=op.f("fk_settlement_parts_batch_id_settlement_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_parts")),
    )

    with op.batch_alter_table("settlement_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_settlement_parts_batch_id"), ["batch_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("settlement_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_parts_batch_id"))

    op.drop_table("settlement_parts")

    with op.batch_alter_table("settlement_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_items_batch_id"))

    op.drop_table("settlement_items")

    op.drop_table("settlement_profiles")

    op.drop_table("settlement_batches")

    with op.batch_alter_table("recon_discrepancies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recon_discrepancies_status_code"))
        batch_op.drop_index(batch_op.f("ix_recon_discrepancies_run_id"))
        batch_op.drop_index(batch_op.f("ix_recon_discrepancies_payment_id"))

    op.drop_table("recon_discrepancies")

    with op.batch_alter_table("bank_settlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_settlements_channel_run_id"))
        batch_op.drop_index(batch_op.f("ix_bank_settlements_bank_run_id"))

    op.drop_table("bank_settlements")

    with op.batch_alter_table("recon_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recon_runs_kind_status_business_date"))

    op.drop_table("recon_runs")
