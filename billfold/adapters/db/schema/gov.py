"""Tables of the government-fees pack: each office's fee catalogue and payment receipts.

Defined on the one :data:`billfold.adapters.db.schema.metadata`; migration 0007 creates them.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, ForeignKey, String, Table, Text, UniqueConstraint

from billfold.adapters.db.schema.base import TS, Id, Money, _id, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = ["gov_fee_items", "gov_receipts"]

gov_fee_items = Table(
    "gov_fee_items",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("item_code", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("amount_fen", Money(), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("biller_id", "item_code", "effective_from"),
)

gov_receipts = Table(
    "gov_receipts",
    metadata,
    _id(),
    Column("receipt_no", String(32), nullable=False, unique=True),
    Column("payment_id", Id, ForeignKey("payments.id"), nullable=False, unique=True),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("issued_at", TS, nullable=False),
    Column("body", Text, nullable=False),  # the receipt as JSON, fixed at issue
)

add_checks(gov_fee_items, gov_receipts)
