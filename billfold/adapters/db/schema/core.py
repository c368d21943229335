"""The core tables: billers, payers, bills, orders, payments, refunds, the journal, the outbox,
the audit log, imports and channels — what every unit of work's repositories read and write."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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

billers = Table(
    "billers",
    metadata,
    _id(),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("settlement_bank", String(200)),
    Column("settlement_account_name", String(200)),
    Column("settlement_account_no", String(64)),
    Column("single_limit_fen", Money()),
    Column("daily_limit_fen", Money()),
    Column("monthly_limit_fen", Money()),
    # what the public pages ask besides the identifier (merchants.biller.LookupCheck)
    Column("lookup_check", String(16), nullable=False, server_default="none"),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

sub_units = Table(
    "sub_units",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("parent_code", String(64)),
    UniqueConstraint("biller_id", "code"),
)

fee_rules = Table(
    "fee_rules",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("bps", Integer, nullable=False),
    Column("min_fen", Money(), nullable=False),
    Column("max_fen", Money()),
    Column("fixed_fen", Money(), nullable=False),
    UniqueConstraint("biller_id", "channel"),
)

payers = Table(
    "payers",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("id_kind", String(16), nullable=False),
    Column("identifier", String(64), nullable=False),
    Column("name", String(200)),
    Column("phone", String(32)),
    Column("id_number", String(32)),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("biller_id", "id_kind", "identifier"),
)

bills = Table(
    "bills",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("bill_no", String(64), nullable=False),
    Column("payer_id", Id, ForeignKey("payers.id"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("due_date", Date),
    Column("late_fee_rule", String(64), nullable=False),
    Column("allow_partial", Boolean, nullable=False),
    Column("min_part_fen", Money(), nullable=False),
    Column("open_min_fen", Money()),
    Column("open_max_fen", Money()),
    Column("decision_no", String(64)),
    Column("sub_unit", String(64)),
    Column("period", String(32)),
    Column("description", String(200)),
    Column("principal_fen", Money(), nullable=False),
    Column("paid_fen", Money(), nullable=False),
    Column("late_fee_paid_fen", Money(), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("cancel_reason", String(200)),
    Column("version", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("biller_id", "bill_no"),
    Index(None, "payer_id"),
    Index(None, "biller_id", "decision_no"),
    Index(None, "biller_id", "created_at", "id"),  # the bills list's pages
    Index(None, "biller_id", "status", "due_date"),  # overdue bills
)

bill_items = Table(
    "bill_items",
    metadata,
    _id(),
    Column("bill_id", Id, ForeignKey("bills.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("code", String(32), nullable=False),
    Column("name", String(100), nullable=False),
    Column("amount_fen", Money(), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("paid_fen", Money(), nullable=False),
    Column("waived_fen", Money(), nullable=False),
    Column("refunded_fen", Money(), nullable=False),
    UniqueConstraint("bill_id", "code"),
)

waivers = Table(
    "waivers",
    metadata,
    _id(),
    Column("bill_id", Id, ForeignKey("bills.id"), nullable=False, index=True),
    Column("item_code", String(32)),
    Column("amount_fen", Money(), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("granted_by", String(100), nullable=False),
    Column("created_at", TS, nullable=False),
    # the client's key: a repeat of the request (after a lost answer) waives nothing more;
    # NULL for waivers made before request ids (migration 0017)
    Column("request_id", String(64)),
    UniqueConstraint("bill_id", "request_id"),
)

orders = Table(
    "orders",
    metadata,
    _id(),
    Column("order_no", String(32), nullable=False, unique=True),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("payer_id", Id, ForeignKey("payers.id")),
    Column("status", String(24), nullable=False),
    Column("total_fen", Money(), nullable=False),
    Column("refunded_fen", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("channel", String(32)),
    Column("idempotency_key", String(64)),
    Column("failure_reason", String(64)),
    Column("payment_id", Id),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("paid_at", TS),
    Column("business_date", Date, nullable=False),
    UniqueConstraint("biller_id", "idempotency_key"),
    Index(None, "biller_id", "business_date", "status"),
    Index(None, "status", "expires_at"),
    Index(None, "biller_id", "created_at", "id"),  # the orders list's pages
)

order_lines = Table(
    "order_lines",
    metadata,
    _id(),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("bill_id", Id, ForeignKey("bills.id"), nullable=False, index=True),
    Column("item_code", String(32), nullable=False),
    Column("amount_fen", Money(), nullable=False),
    Column("refunded_fen", Money(), nullable=False),
)

payments = Table(
    "payments",
    metadata,
    _id(),
    Column("channel", String(32), nullable=False),
    Column("channel_txn_id", String(64), nullable=False),
    Column("order_no", String(64), nullable=False),
    Column("order_id", Id, ForeignKey("orders.id")),
    Column("biller_id", Id, ForeignKey("billers.id")),
    Column("status", String(16), nullable=False),
    Column("reason", String(32)),
    Column("amount_fen", Money(), nullable=False),
    Column("fee_fen", Money(), nullable=False),
    Column("refunded_fen", Money(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("paid_at", TS, nullable=False),
    Column("received_at", TS, nullable=False),
    Column("business_date", Date, nullable=False),
    UniqueConstraint("channel", "channel_txn_id"),
    Index(None, "order_id"),
    # a channel's day (reconciliation, settlement); led by the day, so that the lookup by
    # (channel, channel_txn_id) has no other index to choose (migration 0024)
    Index(None, "business_date", "channel"),
    Index(None, "biller_id", "received_at", "id"),  # the payments list's pages
    Index(None, "status", "received_at"),  # the suspense desk
)

refunds = Table(
    "refunds",
    metadata,
    _id(),
    Column("refund_no", String(32), nullable=False, unique=True),
    Column("payment_id", Id, ForeignKey("payments.id"), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount_fen", Money(), nullable=False),
    Column("fee_fen", Money(), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("channel_refund_id", String(64)),
    Column("created_at", TS, nullable=False),
    Column("completed_at", TS),
    UniqueConstraint("payment_id", "request_id"),
    Index(None, "status"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    _id(),
    Column("kind", String(32), nullable=False),
    Column("memo", String(200), nullable=False),
    Column("payment_id", Id),
    Column("refund_id", Id),
    Column("created_at", TS, nullable=False),
    # the hash chain (billfold.collection.chain), all written with the row, never changed
    Column("chain", String(40), nullable=False),
    Column("chain_seq", BigInteger, nullable=False),
    Column("business_date", Date, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("uq_journal_entries_chain_chain_seq", "chain", "chain_seq", unique=True),
    Index(None, "chain", "business_date"),
)

journal_postings = Table(
    "journal_postings",
    metadata,
    _id(),
    # deferred: a posting is written before its entry row (see schema/journal_guard.py)
    Column(
        "entry_id",
        Id,
        ForeignKey("journal_entries.id", deferrable=True, initially="DEFERRED"),
        nullable=False,
        index=True,
    ),
    # no index on account: nothing looks postings up by it (migration 0023)
    Column("account", String(64), nullable=False),
    Column("amount_fen", Money(), nullable=False),
    Column("bill_id", Id, index=True),
    Column("currency", String(3), nullable=False),
)

outbox_events = Table(
    "outbox_events",
    metadata,
    _id(),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(64), nullable=False),
    Column("biller_id", Id),
    Column("payload", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("fanned_out", Boolean, nullable=False),
    Index(None, "fanned_out", "id"),
    Index(None, "biller_id", "created_at"),  # the events list
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("url", String(500), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("event_types", String(500), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", TS, nullable=False),
)

outbox_deliveries = Table(
    "outbox_deliveries",
    metadata,
    _id(),
    Column("event_pk", Id, ForeignKey("outbox_events.id"), nullable=False),
    Column("endpoint_id", Id, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TS, nullable=False),
    Column("last_error", String(500)),
    Column("delivered_at", TS),
    UniqueConstraint("event_pk", "endpoint_id"),
    Index(None, "status", "next_attempt_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    _id(),
    Column("at", TS, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Index(None, "at", "id"),  # the audit list's pages
    Index(None, "target_type", "target_id"),
)

import_batches = Table(
    "import_batches",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("created", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("imported_at", TS, nullable=False),
)

channel_configs = Table(
    "channel_configs",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("sole", Boolean, nullable=False),
    Column("merchant_id", String(64)),
    Column("app_id", String(64)),
    Column("settings", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("biller_id", "channel"),
)

channel_nonces = Table(
    "channel_nonces",
    metadata,
    _id(),
    Column("channel", String(32), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("seen_at", TS, nullable=False, index=True),
    UniqueConstraint("channel", "nonce"),
)

add_checks(
    billers,
    sub_units,
    fee_rules,
    payers,
    bills,
    bill_items,
    waivers,
    orders,
    order_lines,
    payments,
    refunds,
    journal_entries,
    journal_postings,
    outbox_events,
    webhook_endpoints,
    outbox_deliveries,
    audit_log,
    import_batches,
    channel_configs,
    channel_nonces,
)
