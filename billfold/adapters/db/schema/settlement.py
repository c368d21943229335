"""Tables of reconciliation and settlement, on the shared ``metadata`` of the schema.

* ``recon_runs`` — one reconciliation of one statement file: a channel bill for (channel,
  merchant id, business date) or a bank statement (kind ``bank``). A corrected file makes a
  new *revision* of the same slot; the earlier one is marked superseded.
* ``recon_discrepancies`` — what the run found, each with its source (file, line), code
  and message, open until resolved with an action (who, when, why).
* ``bank_settlements`` — the third leg: a bank credit matched to the net a channel's
  statement promised for a business date.
* ``settlement_profiles`` — per biller: settle unreconciled money or not, split rules.
* ``settlement_batches`` / ``settlement_items`` / ``settlement_parts`` — what is paid to
  each biller for a business date, which payments and refunds it covers (each at most
  once), and how the net is split between receiving accounts.

The statement's lines are staged in a temporary table per run (see
:mod:`billfold.adapters.db.statement_stage`), never in a permanent one.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
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
    "bank_settlements",
    "recon_discrepancies",
    "recon_runs",
    "settlement_batches",
    "settlement_items",
    "settlement_parts",
    "settlement_profiles",
]

recon_runs = Table(
    "recon_runs",
    metadata,
    _id(),
    Column("kind", String(8), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("merchant_id", String(64), nullable=False),  # '' = every merchant of the channel
    Column("business_date", Date, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("status", String(12), nullable=False),
    Column("format", String(16), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("check_fees", Boolean, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("quarantined", Integer, nullable=False),
    Column("payment_count", Integer, nullable=False),
    Column("payment_fen", Money(), nullable=False),
    Column("refund_count", Integer, nullable=False),
    Column("refund_fen", Money(), nullable=False),
    Column("fee_fen", Money(), nullable=False),
    Column("net_fen", Money(), nullable=False),
    Column("matched_count", Integer, nullable=False),
    Column("matched_fen", Money(), nullable=False),
    Column("engine_count", Integer, nullable=False),
    Column("engine_fen", Money(), nullable=False),
    Column("discrepancy_count", Integer, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("superseded_at", TS),
    Column("superseded_by", Id),
    UniqueConstraint("kind", "channel", "merchant_id", "business_date", "revision"),
    Index(None, "kind", "status", "business_date"),
)

recon_discrepancies = Table(
    "recon_discrepancies",
    metadata,
    _id(),
    Column("run_id", Id, ForeignKey("recon_runs.id"), nullable=False, index=True),
    Column("code", String(24), nullable=False),
    Column("status", String(12), nullable=False),
    Column("message", String(500), nullable=False),
    Column("source_file", String(255)),
    Column("source_line", Integer),
    Column("channel", String(32), nullable=False),
    Column("channel_txn_id", String(64)),
    Column("order_no", String(64)),
    Column("refund_no", String(64)),
    Column("payment_id", Id, index=True),
    Column("refund_id", Id),
    Column("biller_id", Id),
    Column("line_amount_fen", Money()),
    Column("engine_amount_fen", Money()),
    Column("line_fee_fen", Money()),
    Column("engine_fee_fen", Money()),
    Column("difference_fen", Money(), nullable=False),
    Column("line_status", String(16)),
    Column("engine_status", String(16)),
    Column("currency", String(3), nullable=False),
    Column("occurred_at", TS),
    Column("counterparty", String(128)),
    Column("auto_action", String(16)),
    Column("action", String(16)),
    Column("resolved_by", String(100)),
    Column("resolved_at", TS),
    Column("resolution", String(500)),
    Column("resolution_ref", String(64)),
    # the resolving client's key: the same request again answers this resolution (0017)
    Column("resolution_request_id", String(64)),
    Column("created_at", TS, nullable=False),
    Index(None, "status", "code"),
)

bank_settlements = Table(
    "bank_settlements",
    metadata,
    _id(),
    Column("bank_run_id", Id, ForeignKey("recon_runs.id"), nullable=False, index=True),
    Column("channel_run_id", Id, ForeignKey("recon_runs.id"), index=True),
    Column("channel", String(32)),
    Column("settles_date", Date),
    Column("status", String(16), nullable=False),
    Column("expected_fen", Money()),
    Column("received_fen", Money(), nullable=False),
    Column("fee_fen", Money(), nullable=False),
    Column("bank_ref", String(64), nullable=False),
    Column("source_file", String(255), nullable=False),
    Column("source_line", Integer, nullable=False),
    Column("booked_at", TS, nullable=False),
)

settlement_profiles = Table(
    "settlement_profiles",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False, unique=True),
    Column("settle_unreconciled", Boolean, nullable=False),
    Column("remainder_rule", String(16), nullable=False),
    Column("splits", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
)

settlement_batches = Table(
    "settlement_batches",
    metadata,
    _id(),
    Column("batch_no", String(40), nullable=False, unique=True),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("status", String(12), nullable=False),
    Column("settle_unreconciled", Boolean, nullable=False),
    Column("payment_count", Integer, nullable=False),
    Column("gross_fen", Money(), nullable=False),
    Column("refund_count", Integer, nullable=False),
    Column("refund_fen", Money(), nullable=False),
    Column("fee_fen", Money(), nullable=False),
    Column("net_fen", Money(), nullable=False),
    Column("held_back_count", Integer, nullable=False),
    Column("held_back_fen", Money(), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("approved_by", String(100)),
    Column("approved_at", TS),
    Column("paid_by", String(100)),
    Column("paid_at", TS),
    Column("confirmed_by", String(100)),
    Column("confirmed_at", TS),
    UniqueConstraint("biller_id", "business_date"),
)

settlement_items = Table(
    "settlement_items",
    metadata,
    _id(),
    Column("batch_id", Id, ForeignKey("settlement_batches.id"), nullable=False, index=True),
    Column("kind", String(12), nullable=False),
    Column("ref_id", Id, nullable=False),
    Column("amount_fen", Money(), nullable=False),
    Column("fee_fen", Money(), nullable=False),
    UniqueConstraint("kind", "ref_id"),
)

settlement_parts = Table(
    "settlement_parts",
    metadata,
    _id(),
    Column("batch_id", Id, ForeignKey("settlement_batches.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("account_no", String(64), nullable=False),
    Column("account_name", String(200), nullable=False),
    Column("bank_name", String(200), nullable=False),
    Column("amount_fen", Money(), nullable=False),
    Column("memo", String(100), nullable=False),
)

add_checks(
    recon_runs,
    recon_discrepancies,
    bank_settlements,
    settlement_profiles,
    settlement_batches,
    settlement_items,
    settlement_parts,
)
