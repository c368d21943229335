"""Tables of auto-debit (签约代扣): mandates and the debits made under them.

Defined on the one :data:`billfold.adapters.db.schema.metadata`; migration 0003 creates them.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from billfold.adapters.db.schema.base import TS, Id, Money, _id, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = ["mandate_debits", "mandates"]

mandates = Table(
    "mandates",
    metadata,
    _id(),
    Column("mandate_no", String(32), nullable=False, unique=True),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("payer_id", Id, ForeignKey("payers.id"), nullable=False),
    Column("account_masked", String(40), nullable=False),  # never the whole account number
    Column("agreement_no", String(64)),  # the bank's reference for the signed agreement
    Column("per_debit_limit_fen", Money(), nullable=False),
    Column("monthly_limit_fen", Money(), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(200)),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index(None, "status"),
    Index(None, "biller_id", "payer_id"),
)

mandate_debits = Table(
    "mandate_debits",
    metadata,
    _id(),
    Column("debit_no", String(32), nullable=False, unique=True),
    Column("mandate_id", Id, ForeignKey("mandates.id"), nullable=False),
    Column("bill_id", Id, ForeignKey("bills.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount_fen", Money(), nullable=False),
    Column("noticed_fen", Money(), nullable=False),
    Column("noticed_at", TS, nullable=False),
    Column("due_at", TS, nullable=False),
    Column("next_attempt_at", TS, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("order_no", String(32)),
    Column("bank_txn_id", String(64)),
    Column("reason", String(300)),
    Column("debited_on", Date),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("mandate_id", "bill_id"),
    Index(None, "status", "next_attempt_at"),
)

add_checks(mandates, mandate_debits)
