"""refunds paid back by bank transfer, and complaints with turnaround times

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

``refund_transfers``: a refund the channel refused for good (window closed, card cancelled,
account closed) and how it is paid back instead: the payee's account, who recorded and who
approved it, the transfer file it went out in and how its payment was confirmed.
``complaints`` (投诉/查询) against a bill, order or payment, and ``complaint_tats``: a biller's
own turnaround time per complaint kind. New tables only: existing rows are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    _refund_transfers()
    _complaints()
    op.create_table(
        "complaint_tats",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("biller_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("hours > 0", name="ck_complaint_tats_positive_hours"),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_complaint_tats_biller_id_billers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_tats")),
        sa.UniqueConstraint("biller_id", "kind", name=op.f("uq_complaint_tats_biller_id_kind")),
    )


def _refund_transfers() -> None:
    op.create_table(
        "refund_transfers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("refund_id", ID, nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("channel_message", sa.String(length=200), nullable=False),
        sa.Column("payee_name", sa.String(length=100), nullable=True),
        sa.Column("account_no", sa.String(length=40), nullable=True),
        sa.Column("bank_name", sa.String(length=100), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=True),
        sa.Column("recorded_at", TS, nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", TS, nullable=True),
        sa.Column("file_no", sa.String(length=32), nullable=True),
        sa.Column("filed_at", TS, nullable=True),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("confirmed_at", TS, nullable=True),
        sa.Column("confirm_reason", sa.String(length=200), nullable=True),
        sa.Column("statement_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> recorded_by",
            name="ck_refund_transfers_checker_not_maker",
        ),
        sa.CheckConstraint(
            "file_no IS NULL OR approved_by IS NOT NULL",
            name="ck_refund_transfers_filed_only_approved",
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_refund_transfers_refund_id_refunds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_transfers")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_refund_transfers_refund_id")),
    )
    with op.batch_alter_table("refund_transfers") as batch:
        batch.create_index(batch.f("ix_refund_transfers_file_no"), ["file_no"], unique=False)


def _complaints() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("complaint_no", sa.String(length=32), nullable=False),
        sa.Column("biller_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("bill_id", ID, nullable=True),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("payment_id", ID, nullable=True),
        sa.Column("channel_ref", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.Column("assigned_to", sa.String(length=100), nullable=True),
        sa.Column("answer", sa.String(length=32), nullable=True),
        sa.Column("resolution", sa.String(length=500), nullable=True),
        sa.Column("refund_no", sa.String(length=32), nullable=True),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "bill_id IS NOT NULL OR order_id IS NOT NULL OR payment_id IS NOT NULL",
            name="ck_complaints_against_something",
        ),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_complaints_biller_id_billers")
        ),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bills.id"], name=op.f("fk_complaints_bill_id_bills")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_complaints_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_complaints_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("complaint_no", name=op.f("uq_complaints_complaint_no")),
    )
    with op.batch_alter_table("complaints") as batch:
        batch.create_index(batch.f("ix_complaints_status_due_at"), ["status", "due_at"])
        batch.create_index(batch.f("ix_complaints_biller_id_status"), ["biller_id", "status"])
        batch.create_index(batch.f("ix_complaints_bill_id"), ["bill_id"])


def downgrade() -> None:
    op.drop_table("complaint_tats")
    op.drop_table("complaints")
    op.drop_table("refund_transfers")
