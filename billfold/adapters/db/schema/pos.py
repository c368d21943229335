"""Tables of the POS channel: terminals, their batches, and every terminal message.

Defined on the one :data:`billfold.adapters.db.schema.metadata`; migration 0003 creates them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, ForeignKey, String, Table, Text, UniqueConstraint

from billfold.adapters.db.schema.base import TS, Id, Money, _id, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = ["pos_batches", "pos_messages", "pos_terminals"]

pos_terminals = Table(
    "pos_terminals",
    metadata,
    _id(),
    Column("terminal_id", String(16), nullable=False, unique=True),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("sub_unit", String(64)),  # the supervised project a presale POS is bound to
    Column("status", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

pos_batches = Table(
    "pos_batches",
    metadata,
    _id(),
    Column("terminal_pk", Id, ForeignKey("pos_terminals.id"), nullable=False),
    Column("batch_no", String(6), nullable=False),
    Column("status", String(8), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("opened_at", TS, nullable=False),
    Column("closed_at", TS),
    Column("agreed", Boolean),
    Column("report", Text),  # the close's comparison (both sides' totals, differing traces)
    UniqueConstraint("terminal_pk", "batch_no"),
)

pos_messages = Table(
    "pos_messages",
    metadata,
    _id(),
    Column("terminal_pk", Id, ForeignKey("pos_terminals.id"), nullable=False),
    Column("batch_no", String(6), nullable=False),
    Column("trace_no", String(6), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("original_txn", String(64)),
    Column("order_no", String(64)),
    Column("amount_fen", Money(), nullable=False),
    Column("card_masked", String(32)),
    Column("outcome", String(32), nullable=False),
    Column("message", String(300), nullable=False),
    Column("payment_id", Id),
    Column("refund_no", String(32)),
    Column("received_at", TS, nullable=False),
    UniqueConstraint("terminal_pk", "batch_no", "trace_no", "kind"),
)

add_checks(pos_terminals, pos_batches, pos_messages)
