"""Tables of the back office's queues: refunds paid back by bank transfer and complaints.

Defined on the one :data:`billfold.adapters.db.schema.metadata`; migration 0016 creates them.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from billfold.adapters.db.schema.base import TS, Id, _id, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = ["complaint_tats", "complaints", "refund_transfers"]

refund_transfers = Table(
    "refund_transfers",
    metadata,
    _id(),
    Column("refund_id", Id, ForeignKey("refunds.id"), nullable=False, unique=True),
    Column("reason_code", String(32), nullable=False),  # why the channel could not pay it
    Column("channel_message", String(200), nullable=False),
    Column("payee_name", String(100)),
    Column("account_no", String(40)),
    Column("bank_name", String(100)),
    Column("recorded_by", String(100)),
    Column("recorded_at", TS),
    Column("approved_by", String(100)),
    Column("approved_at", TS),
    Column("file_no", String(32), index=True),
    Column("filed_at", TS),
    Column("confirmed_by", String(100)),
    Column("confirmed_at", TS),
    Column("confirm_reason", String(200)),
    Column("statement_ref", String(64)),
    Column("created_at", TS, nullable=False),
    # the checker is never the maker, and nothing goes into a file unapproved
    CheckConstraint(
        "approved_by IS NULL OR approved_by <> recorded_by",
        name="ck_refund_transfers_checker_not_maker",
    ),
    CheckConstraint(
        "file_no IS NULL OR approved_by IS NOT NULL", name="ck_refund_transfers_filed_only_approved"
    ),
)

complaints = Table(
    "complaints",
    metadata,
    _id(),
    Column("complaint_no", String(32), nullable=False, unique=True),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("source", String(16), nullable=False),  # payer | clerk
    Column("bill_id", Id, ForeignKey("bills.id")),
    Column("order_id", Id, ForeignKey("orders.id")),
    Column("payment_id", Id, ForeignKey("payments.id")),
    Column("channel_ref", String(64), nullable=False),
    Column("description", String(500), nullable=False),
    Column("opened_by", String(100), nullable=False),
    Column("assigned_to", String(100)),
    Column("answer", String(32)),  # what the engine found when it looked by itself
    Column("resolution", String(500)),
    Column("refund_no", String(32)),
    Column("due_at", TS, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("closed_at", TS),
    Column("reopened", Integer, nullable=False),
    Index(None, "status", "due_at"),
    Index(None, "biller_id", "status"),
    Index(None, "bill_id"),
    CheckConstraint(
        "bill_id IS NOT NULL OR order_id IS NOT NULL OR payment_id IS NOT NULL",
        name="ck_complaints_against_something",
    ),
)

complaint_tats = Table(
    "complaint_tats",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("hours", Integer, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("biller_id", "kind"),
    CheckConstraint("hours > 0", name="ck_complaint_tats_positive_hours"),
)

add_checks(refund_transfers, complaints, complaint_tats)
