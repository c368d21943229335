"""Tables of presale-fund supervision (预售资金监管): supervised projects, their construction
milestones, buyers' contracts, the escrow ledger and the pushes to the housing bureau.

Defined on the one :data:`billfold.adapters.db.schema.metadata`; migration 0006 creates them.
Every table reaches ``billers`` through its foreign keys. Since migration 0009 the book's
amounts live only in the journal: an ``escrow_entries`` row numbers and references one
journal entry (``journal_entry_id``, unique), whose postings carry the money.
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
    Text,
    UniqueConstraint,
)

from billfold.adapters.db.schema.base import TS, Id, Money, _id, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = [
    "bureau_pushes",
    "escrow_entries",
    "presale_contracts",
    "presale_milestones",
    "presale_projects",
]

presale_projects = Table(
    "presale_projects",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("project_code", String(64), nullable=False),  # the developer's sub-unit code
    Column("bureau_code", String(64), nullable=False, unique=True),  # 监管项目编号
    Column("name", String(200), nullable=False),
    Column("escrow_bank", String(200), nullable=False),
    Column("escrow_account_no", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("biller_id", "project_code"),
)

presale_milestones = Table(
    "presale_milestones",
    metadata,
    _id(),
    Column("project_pk", Id, ForeignKey("presale_projects.id"), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Column("cumulative_bps", Integer, nullable=False),
    Column("reached_on", Date),
    UniqueConstraint("project_pk", "stage"),
)

presale_contracts = Table(
    "presale_contracts",
    metadata,
    _id(),
    Column("project_pk", Id, ForeignKey("presale_projects.id"), nullable=False),
    Column("contract_no", String(64), nullable=False, unique=True),
    Column("unit_no", String(64), nullable=False),
    Column("total_fen", Money(), nullable=False),
    Column("buyer_name", String(200), nullable=False),
    Column("bill_id", Id, ForeignKey("bills.id"), nullable=False),
    Column("created_at", TS, nullable=False),
)

escrow_entries = Table(
    "escrow_entries",
    metadata,
    _id(),
    Column("project_pk", Id, ForeignKey("presale_projects.id"), nullable=False),
    Column("seq", Integer, nullable=False),  # per project, from 1, no gaps
    Column("kind", String(16), nullable=False),  # payment reversal held release refund assign
    Column("channel", String(32), nullable=False),
    Column("ref", String(64), nullable=False),  # channel transaction id, or release request id
    Column("payment_id", Id, ForeignKey("payments.id")),
    Column("contract_no", String(64)),
    # the journal entry holding the money (nullable only because SQLite cannot add a NOT
    # NULL column to a table with rows; every entry booked has it)
    Column("journal_entry_id", Id, index=True, unique=True),
    Column("business_date", Date, nullable=False),
    Column("occurred_at", TS, nullable=False),
    Column("note", String(300), nullable=False),
    UniqueConstraint("project_pk", "seq"),
    UniqueConstraint("kind", "channel", "ref"),
)

bureau_pushes = Table(
    "bureau_pushes",
    metadata,
    _id(),
    Column("entry_pk", Id, ForeignKey("escrow_entries.id"), nullable=False, unique=True),
    Column("project_pk", Id, ForeignKey("presale_projects.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("push_id", String(64), nullable=False, unique=True),  # the bureau dedupes on it
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending, acked, dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TS, nullable=False),
    Column("last_error", String(300)),
    Column("receipt_no", String(64)),
    Column("acked_at", TS),
    Index(None, "project_pk", "status", "seq"),
)

add_checks(presale_projects, presale_milestones, presale_contracts, escrow_entries, bureau_pushes)
