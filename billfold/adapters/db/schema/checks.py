"""CHECK constraints: what no row may ever hold, refused by the database itself.

Amounts are never negative where the domain has no meaning for it (a refund above what was
paid, a negative fee, a posting of 0.00), and every status or kind column holds only the
values of its domain enum — the lists below are *derived* from those enums, so the schema
cannot drift from the code; migrations 0011 (the tables it knew) and 0019 (the tables added
by 0012-0018) carry frozen copies, and a test compares the schema with the two together
(``tests/integration/adapters/db/test_db_invariants.py``). A new enum value therefore fails
that test until a new migration replaces the constraint (and the test then compares with
that migration's copy).

Each constraint is named ``ck_<table>_<name>`` (the metadata's naming convention), and its
text is plain SQL that SQLite and PostgreSQL read alike. Being named, they are reflected,
so a later batch migration that rebuilds a table on SQLite carries them over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import cache
from importlib import import_module
from typing import Any

from sqlalchemy import CheckConstraint, Table

__all__ = ["add_checks", "enum_columns", "every_check", "one_of", "roles_known", "rules_of"]


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def _named(where: str) -> Any:
    """``"package.module:Name"``: the object, its module imported now."""
    module, _, name = where.partition(":")
    return getattr(import_module(module), name)


#: Statuses of a row that no domain enum names: the outbox's deliveries and bureau pushes.
DELIVERY_STATUSES = ("pending", "delivered", "dead")
PUSH_STATUSES = ("pending", "acked", "dead")
#: How a worker runs (``billfold worker``): procrastinate's queue, or the one-process loop.
WORKER_MODES = ("procrastinate", "single-machine")

#: (table, column) -> the values it may hold (NULL stays allowed where the column is nullable):
#: a tuple, or where the domain enum is (``"module:Enum"``), imported only when the table is
#: built, so that a command builds and imports what its own tables need (``enum_columns``).
_ENUMS: dict[tuple[str, str], str | tuple[str, ...]] = {
    ("billers", "kind"): "billfold.merchants.biller:BillerKind",
    ("billers", "status"): "billfold.merchants.biller:BillerStatus",
    ("billers", "lookup_check"): "billfold.merchants.biller:LookupCheck",
    ("sub_units", "kind"): "billfold.merchants.biller:SubUnitKind",
    ("fee_rules", "kind"): "billfold.merchants.fees:FeeKind",
    ("payers", "id_kind"): "billfold.collection.payer:IdentifierKind",
    ("bills", "kind"): "billfold.collection.bill:BillKind",
    ("bills", "status"): "billfold.collection.bill:StoredStatus",
    ("orders", "status"): "billfold.collection.order:OrderStatus",
    ("payments", "status"): "billfold.collection.payment:PaymentStatus",
    ("refunds", "status"): "billfold.collection.refund:RefundStatus",
    ("refunds", "kind"): "billfold.collection.refund:RefundKind",
    ("outbox_deliveries", "status"): DELIVERY_STATUSES,
    ("import_batches", "mode"): "billfold.collection.import_mode:ImportMode",
    ("mandates", "status"): "billfold.collection.mandate:MandateStatus",
    ("mandate_debits", "status"): "billfold.collection.mandate:DebitStatus",
    ("pos_terminals", "status"): "billfold.channels.pos_batch:TerminalStatus",
    ("pos_batches", "status"): "billfold.channels.pos_batch:BatchStatus",
    ("pos_messages", "kind"): "billfold.channels.pos_batch:PosKind",
    ("escrow_entries", "kind"): "billfold.settlement.escrow:EntryKind",
    ("bureau_pushes", "status"): PUSH_STATUSES,
    ("recon_runs", "kind"): "billfold.settlement.run:RunKind",
    ("recon_runs", "status"): "billfold.settlement.run:RunStatus",
    ("recon_discrepancies", "code"): "billfold.settlement.discrepancy:Code",
    ("recon_discrepancies", "status"): "billfold.settlement.discrepancy:DiscrepancyStatus",
    ("recon_discrepancies", "action"): "billfold.settlement.discrepancy:Action",
    ("recon_discrepancies", "auto_action"): "billfold.settlement.discrepancy:Action",
    ("bank_settlements", "status"): "billfold.settlement.banking:MatchStatus",
    ("settlement_profiles", "remainder_rule"): "billfold.settlement.splits:Remainder",
    ("settlement_batches", "status"): "billfold.settlement.batch:BatchStatus",
    ("settlement_items", "kind"): "billfold.settlement.batch:ItemKind",
    # the tables of migrations 0012-0018 (their rules come with migration 0019)
    ("refund_transfers", "reason_code"): "billfold.collection.refund_transfer:TransferReason",
    ("complaints", "kind"): "billfold.settlement.complaint:ComplaintKind",
    ("complaints", "status"): "billfold.settlement.complaint:ComplaintStatus",
    ("complaints", "source"): "billfold.settlement.complaint:ComplaintSource",
    ("complaints", "answer"): "billfold.settlement.complaint:Answer",
    ("complaint_tats", "kind"): "billfold.settlement.complaint:ComplaintKind",
    ("worker_heartbeats", "mode"): WORKER_MODES,
}


def one_of(column: str, values: Iterable[str]) -> str:
    """``column IN ('a', 'b')`` (the values are codes: no quotes inside)."""
    quoted = ", ".join("'" + str(v) + "'" for v in values)
    return f"{column} IN ({quoted})"


def _nonneg(*columns: str) -> str:
    return " AND ".join(f"{c} >= 0" for c in columns)


def _given(column: str) -> str:
    """A nullable text column holds NULL or something, never ``''``."""
    return f"{column} IS NULL OR {column} <> ''"


def _together(*columns: str) -> str:
    """The columns are all NULL or all set (one fact written at once)."""
    unset = " AND ".join(f"{c} IS NULL" for c in columns)
    isset = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    return f"({unset}) OR ({isset})"


def _hex64(column: str) -> str:
    """A SHA-256 in lower-case hex (``ltrim`` with a set of characters: SQLite and
    PostgreSQL alike)."""
    return f"length({column}) = 64 AND ltrim({column}, '0123456789abcdef') = ''"


def roles_known(column: str, roles: Iterable[str]) -> str:
    """A comma-separated list of known roles, no empty name, no spaces: every ``,`` doubled
    and the list put between commas, each known ``,role,`` removed, nothing may be left."""
    text = f"',' || replace({column}, ',', ',,') || ','"
    for role in roles:
        text = f"replace({text}, ',{role},', '')"
    return f"{column} <> '' AND {text} = ''"


Rules = tuple[tuple[str, str], ...]


def _roles_known() -> Rules:
    roles = _values(_named("billfold.merchants.roles:Role"))
    return (("roles_known", roles_known("roles", roles)),)


def _complaint_rules() -> Rules:
    complaint = import_module("billfold.settlement.complaint")
    closed = one_of(
        "status", (s.value for s in complaint.ComplaintStatus if s not in complaint.OPEN_STATES)
    )
    return (
        ("reopened_not_negative", "reopened >= 0"),
        (
            "closed_when_done",
            f"({closed} AND closed_at IS NOT NULL) OR (NOT ({closed}) AND closed_at IS NULL)",
        ),
    )


#: table -> (constraint name, SQL) for every rule on amounts and counts (or what makes them,
#: where they read a domain enum).
_AMOUNTS: dict[str, Rules | Callable[[], Rules]] = {
    "billers": (
        (
            "limits_not_negative",
            _nonneg("single_limit_fen", "daily_limit_fen", "monthly_limit_fen"),
        ),
    ),
    "fee_rules": (
        ("amounts_not_negative", _nonneg("bps", "min_fen", "fixed_fen")),
        ("max_not_below_min", "max_fen >= min_fen"),
    ),
    "bills": (
        (
            "amounts_not_negative",
            _nonneg("principal_fen", "paid_fen", "late_fee_paid_fen", "min_part_fen"),
        ),
        ("open_range", "open_min_fen >= 0 AND open_max_fen >= open_min_fen"),
        # an open-amount bill takes what the payer chose; any other is never paid above its
        # principal (late fees are counted apart, in late_fee_paid_fen)
        ("paid_within_principal", "kind = 'open' OR paid_fen <= principal_fen"),
    ),
    "bill_items": (
        ("amounts_not_negative", _nonneg("amount_fen", "paid_fen", "waived_fen", "refunded_fen")),
    ),
    "waivers": (
        ("amount_positive", "amount_fen > 0"),
        ("request_id_given", _given("request_id")),  # column of migration 0017
    ),
    "orders": (
        ("amounts_not_negative", _nonneg("total_fen", "refunded_fen")),
        ("refunded_within_total", "refunded_fen <= total_fen"),
    ),
    "order_lines": (
        ("amounts_not_negative", _nonneg("amount_fen", "refunded_fen")),
        ("refunded_within_amount", "refunded_fen <= amount_fen"),
    ),
    "payments": (
        ("amounts_not_negative", _nonneg("amount_fen", "fee_fen", "refunded_fen")),
        ("refunded_within_amount", "refunded_fen <= amount_fen"),
    ),
    "refunds": (
        ("amount_positive", "amount_fen > 0"),
        ("fee_not_negative", "fee_fen >= 0"),
    ),
    "journal_postings": (
        ("amount_not_zero", "amount_fen <> 0"),
        ("currency_code", "length(currency) = 3 AND upper(currency) = currency"),
    ),
    "outbox_deliveries": (("attempts_not_negative", "attempts >= 0"),),
    "import_batches": (("counts_not_negative", _nonneg("created", "unchanged", "rejected")),),
    "mandates": (("limits_not_negative", _nonneg("per_debit_limit_fen", "monthly_limit_fen")),),
    "mandate_debits": (("amounts_not_negative", _nonneg("amount_fen", "noticed_fen", "attempts")),),
    "pos_messages": (("amount_not_negative", "amount_fen >= 0"),),
    "gov_fee_items": (("amount_not_negative", "amount_fen >= 0"),),
    "presale_milestones": (("bps_within_whole", "cumulative_bps BETWEEN 0 AND 10000"),),
    "presale_contracts": (("total_not_negative", "total_fen >= 0"),),
    "bureau_pushes": (("attempts_not_negative", "attempts >= 0"),),
    "recon_runs": (
        (
            "counts_not_negative",
            _nonneg(
                "line_count",
                "quarantined",
                "payment_count",
                "refund_count",
                "matched_count",
                "engine_count",
                "discrepancy_count",
            ),
        ),
    ),
    # the tables of migrations 0012-0018 (their rules come with migration 0019)
    "pending_approvals": (
        ("kind_given", "kind <> ''"),
        ("maker_given", "maker <> ''"),
    ),
    "approval_policies": (("kind_given", "kind <> ''"),),
    "api_keys": _roles_known,
    "backoffice_users": _roles_known,
    "refund_transfers": (
        (
            "payee_whole",
            _together("payee_name", "account_no", "bank_name", "recorded_by", "recorded_at"),
        ),
        (
            "account_digits",
            "account_no IS NULL OR (length(account_no) BETWEEN 8 AND 32 "
            "AND ltrim(account_no, '0123456789') = '')",
        ),
        ("approved_after_payee", "approved_by IS NULL OR recorded_by IS NOT NULL"),
        ("approval_whole", _together("approved_by", "approved_at")),
        ("filing_whole", _together("file_no", "filed_at")),
        ("confirmation_whole", _together("confirmed_by", "confirmed_at")),
    ),
    "complaints": _complaint_rules,
    "journal_chains": (
        ("seq_not_negative", "seq >= 0"),
        ("chain_given", "chain <> ''"),
        ("last_hash_hex", _hex64("last_hash")),
    ),
    "journal_seals": (
        ("counts_not_negative", _nonneg("entry_count", "last_seq")),
        ("last_hash_hex", _hex64("last_hash")),
        ("digest_hex", _hex64("digest")),
    ),
    "worker_heartbeats": (("pid_positive", "pid > 0"),),
    "recon_discrepancies": (
        ("resolution_request_id_given", _given("resolution_request_id")),  # migration 0017
    ),
    # not fee_fen: a batch of refunds alone gives fees back (negative), and so its net
    "settlement_batches": (
        (
            "amounts_not_negative",
            _nonneg(
                "payment_count",
                "gross_fen",
                "refund_count",
                "refund_fen",
                "held_back_count",
                "held_back_fen",
            ),
        ),
    ),
}


@cache
def _enum_values(table: str, column: str) -> tuple[str, ...]:
    values = _ENUMS[table, column]
    return _values(_named(values)) if isinstance(values, str) else values


def rules_of(table: str) -> Rules:
    """The CHECKs of one table: its enum columns' (in ``_ENUMS`` order), then the others."""
    rules = [
        (f"{column}_known", one_of(column, _enum_values(name, column)))
        for name, column in _ENUMS
        if name == table
    ]
    more = _AMOUNTS.get(table, ())
    return (*rules, *(more() if callable(more) else more))


def add_checks(*tables: Table) -> None:
    """Append each table's CHECKs (``ck_<table>_<name>``): called by the module that builds
    the tables, once."""
    for table in tables:
        for name, sql in rules_of(table.name):
            table.append_constraint(CheckConstraint(sql, name=name))


def enum_columns() -> dict[tuple[str, str], tuple[str, ...]]:
    """(table, column) -> the values it may hold, for every enum column of the schema."""
    return {(table, column): _enum_values(table, column) for table, column in _ENUMS}


def every_check() -> dict[str, Rules]:
    """table -> ((name without the ``ck_<table>_`` prefix, SQL), ...): every CHECK of the
    schema, tables in name order."""
    names = {table for table, _ in _ENUMS} | set(_AMOUNTS)
    return {table: rules_of(table) for table in sorted(names)}


def __getattr__(name: str) -> Any:
    # ``CHECKS`` and ``ENUM_COLUMNS``, for the tests that compare them with the migrations:
    # made when asked, so that building one table imports only its own enums
    if name == "CHECKS":
        return every_check()
    if name == "ENUM_COLUMNS":
        return enum_columns()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
