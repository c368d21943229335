"""pos and mandates

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

The POS channel (terminals, batches, terminal messages) and auto-debit (mandates and
their debits).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pos_terminals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("terminal_id", sa.String(length=16), nullable=False),
        sa.Column(
            "biller_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sub_unit", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_pos_terminals_biller_id_billers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pos_terminals")),
        sa.UniqueConstraint("terminal_id", name=op.f("uq_pos_terminals_terminal_id")),
    )
    op.create_table(
        "mandates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("mandate_no", sa.String(length=32), nullable=False),
        sa.Column(
            "biller_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("payer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_masked", sa.String(length=40), nullable=False),
        sa.Column("agreement_no", sa.String(length=64), nullable=True),
        sa.Column("per_debit_limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("monthly_limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_mandates_biller_id_billers")
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["payers.id"], name=op.f("fk_mandates_payer_id_payers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandates")),
        sa.UniqueConstraint("mandate_no", name=op.f("uq_mandates_mandate_no")),
    )
    with op.batch_alter_table("mandates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mandates_biller_id_payer_id"), ["biller_id", "payer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mandates_status"), ["status"], unique=False)

    op.create_table(
        "pos_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "terminal_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("batch_no", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agreed", sa.Boolean(), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["terminal_pk"],
            ["pos_terminals.id"],
            name=op.f("fk_pos_batches_terminal_pk_pos_terminals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pos_batches")),
        sa.UniqueConstraint(
            "terminal_pk", "batch_no", name=op.f("uq_pos_batches_terminal_pk_batch_no")
        ),
    )
    op.create_table(
        "pos_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "terminal_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("batch_no", sa.String(length=6), nullable=False),
        sa.Column("trace_no", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("original_txn", sa.String(length=64), nullable=True),
        sa.Column("order_no", sa.String(length=64), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("card_masked", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("refund_no", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["terminal_pk"],
            ["pos_terminals.id"],
            name=op.f("fk_pos_messages_terminal_pk_pos_terminals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pos_messages")),
        sa.UniqueConstraint(
            "terminal_pk",
            "batch_no",
            "trace_no",
            "kind",
            name=op.f("uq_pos_messages_terminal_pk_batch_no_trace_no_kind"),
        ),
    )
    op.create_table(
        "mandate_debits",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("debit_no", sa.String(length=32), nullable=False),
        sa.Column(
            "mandate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("bill_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("noticed_fen", sa.BigInteger(), nullable=False),
        sa.Column("noticed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=True),
        sa.Column("bank_txn_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("debited_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bills.id"], name=op.f("fk_mandate_debits_bill_id_bills")
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"], ["mandates.id"], name=op.f("fk_mandate_debits_mandate_id_mandates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandate_debits")),
        sa.UniqueConstraint("debit_no", name=op.f("uq_mandate_debits_debit_no")),
        sa.UniqueConstraint(
            "mandate_id", "bill_id", name=op.f("uq_mandate_debits_mandate_id_bill_id")
        ),
    )
    with op.batch_alter_table("mandate_debits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mandate_debits_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("mandate_debits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mandate_debits_status_next_attempt_at"))

    op.drop_table("mandate_debits")
    op.drop_table("pos_messages")
    op.drop_table("pos_batches")
    with op.batch_alter_table("mandates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mandates_status"))
        batch_op.drop_index(batch_op.f("ix_mandates_biller_id_payer_id"))

    op.drop_table("mandates")
    op.drop_table("pos_terminals")
