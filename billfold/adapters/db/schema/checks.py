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

from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import CheckConstraint

# the tables the rules name, whichever order the schema package imports its modules in
from billfold.adapters.db.schema import (  # noqa: F401
    access,
    api,
    chain,
    gov,
    jobs,
    mandates,
    metadata,
    pos,
    presale,
    queues,
    settlement,
)
from billfold.channels.pos_batch import BatchStatus as PosBatchStatus
from billfold.channels.pos_batch import PosKind, TerminalStatus
from billfold.collection.bill import BillKind, StoredStatus
from billfold.collection.import_mode import ImportMode
from billfold.collection.mandate import DebitStatus, MandateStatus
from billfold.collection.order import OrderStatus
from billfold.collection.payer import IdentifierKind
from billfold.collection.payment import PaymentStatus
from billfold.collection.refund import RefundKind, RefundStatus
from billfold.collection.refund_transfer import TransferReason
from billfold.merchants.biller import BillerKind, BillerStatus, LookupCheck, SubUnitKind
from billfold.merchants.fees import FeeKind
from billfold.merchants.roles import Role
from billfold.settlement.banking import MatchStatus
from billfold.settlement.batch import BatchStatus, ItemKind
from billfold.settlement.complaint import (
    OPEN_STATES,
    Answer,
    ComplaintKind,
    ComplaintSource,
    ComplaintStatus,
)
from billfold.settlement.discrepancy import Action, Code, DiscrepancyStatus
from billfold.settlement.escrow import EntryKind
from billfold.settlement.run import RunKind, RunStatus
from billfold.settlement.splits import Remainder

__all__ = ["CHECKS", "ENUM_COLUMNS", "one_of"]


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


#: Statuses of a row that no domain enum names: the outbox's deliveries and bureau pushes.
DELIVERY_STATUSES = ("pending", "delivered", "dead")
PUSH_STATUSES = ("pending", "acked", "dead")
#: How a worker runs (``billfold worker``): procrastinate's queue, or the one-process loop.
WORKER_MODES = ("procrastinate", "single-machine")

#: (table, column) -> the values it may hold (NULL stays allowed where the column is nullable).
ENUM_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("billers", "kind"): _values(BillerKind),
    ("billers", "status"): _values(BillerStatus),
    ("billers", "lookup_check"): _values(LookupCheck),
    ("sub_units", "kind"): _values(SubUnitKind),
    ("fee_rules", "kind"): _values(FeeKind),
    ("payers", "id_kind"): _values(IdentifierKind),
    ("bills", "kind"): _values(BillKind),
    ("bills", "status"): _values(StoredStatus),
    ("orders", "status"): _values(OrderStatus),
    ("payments", "status"): _values(PaymentStatus),
    ("refunds", "status"): _values(RefundStatus),
    ("refunds", "kind"): _values(RefundKind),
    ("outbox_deliveries", "status"): DELIVERY_STATUSES,
    ("import_batches", "mode"): _values(ImportMode),
    ("mandates", "status"): _values(MandateStatus),
    ("mandate_debits", "status"): _values(DebitStatus),
    ("pos_terminals", "status"): _values(TerminalStatus),
    ("pos_batches", "status"): _values(PosBatchStatus),
    ("pos_messages", "kind"): _values(PosKind),
    ("escrow_entries", "kind"): _values(EntryKind),
    ("bureau_pushes", "status"): PUSH_STATUSES,
    ("recon_runs", "kind"): _values(RunKind),
    ("recon_runs", "status"): _values(RunStatus),
    ("recon_discrepancies", "code"): _values(Code),
    ("recon_discrepancies", "status"): _values(DiscrepancyStatus),
    ("recon_discrepancies", "action"): _values(Action),
    ("recon_discrepancies", "auto_action"): _values(Action),
    ("bank_settlements", "status"): _values(MatchStatus),
    ("settlement_profiles", "remainder_rule"): _values(Remainder),
    ("settlement_batches", "status"): _values(BatchStatus),
    ("settlement_items", "kind"): _values(ItemKind),
    # the tables of migrations 0012-0018 (their rules come with migration 0019)
    ("refund_transfers", "reason_code"): _values(TransferReason),
    ("complaints", "kind"): _values(ComplaintKind),
    ("complaints", "status"): _values(ComplaintStatus),
    ("complaints", "source"): _values(ComplaintSource),
    ("complaints", "answer"): _values(Answer),
    ("complaint_tats", "kind"): _values(ComplaintKind),
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


_CLOSED = tuple(s.value for s in ComplaintStatus if s not in OPEN_STATES)


#: table -> (constraint name, SQL) for every rule on amounts and counts.
_AMOUNTS: dict[str, tuple[tuple[str, str], ...]] = {
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
    "api_keys": (("roles_known", roles_known("roles", _values(Role))),),
    "backoffice_users": (("roles_known", roles_known("roles", _values(Role))),),
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
    "complaints": (
        ("reopened_not_negative", "reopened >= 0"),
        (
            "closed_when_done",
            f"({one_of('status', _CLOSED)} AND closed_at IS NOT NULL) "
            f"OR (NOT ({one_of('status', _CLOSED)}) AND closed_at IS NULL)",
        ),
    ),
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


def _checks() -> dict[str, tuple[tuple[str, str], ...]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for (table, column), values in ENUM_COLUMNS.items():
        found.setdefault(table, []).append((f"{column}_known", one_of(column, values)))
    for table, rules in _AMOUNTS.items():
        found.setdefault(table, []).extend(rules)
    return {table: tuple(rules) for table, rules in sorted(found.items())}


#: table -> ((name without the ``ck_<table>_`` prefix, SQL), ...): every CHECK of the schema.
CHECKS = _checks()

for _table, _rules in CHECKS.items():
    for _name, _sql in _rules:
        metadata.tables[_table].append_constraint(CheckConstraint(_sql, name=_name))
