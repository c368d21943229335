"""CHECK constraints on the tables added by migrations 0012-0018

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

Migration 0011 put the database's rules on the tables it knew; this one adds them to what
came after (``ck_<table>_<name>``): the states and kinds of complaints, their time limits
and the reason of a bank-transfer refund, listed from their domain enums; a transfer's
payee, approval, filing and confirmation written whole or not at all; the roles of API keys
and back-office users only known role names; ``billers.lookup_check`` a known check; the
journal's chain heads and seals counting from zero with SHA-256 hex hashes; a worker's
heartbeat mode known; approvals' kinds and makers, and request ids, never empty.

SQLite cannot add a constraint to a table: each table is rebuilt (Alembic's batch mode,
data kept), with foreign keys off meanwhile (``billfold.adapters.db.migrate``). A trigger
that names a rebuilt table (the journal's chain triggers update ``journal_chains``) is
dropped first and created again, as it was, after the rebuilds.

A row that already breaks one of the new rules stops the upgrade before anything changes,
with a message naming the table, the rule and the row: a person must look at it.

The rules are a frozen copy of what ``billfold/adapters/db/schema/checks.py`` added at this
revision (a test compares 0011's and this copy, together, with the schema).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa
from alembic import op

from billfold.errors import InvariantViolated

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: table -> ((name without the ``ck_<table>_`` prefix, SQL), ...)
CHECKS: dict[str, tuple[tuple[str, str], ...]] = {
    "api_keys": (
        (
            "roles_known",
            "roles <> '' AND replace(replace(replace(replace(replace(',' || replace(roles, "
            "',', ',,') || ',', ',bursar,', ''), ',reconciler,', ''), ',supervisor,', ''), "
            "',admin,', ''), ',viewer,', '') = ''",
        ),
    ),
    "approval_policies": (
        (
            "kind_given",
            "kind <> ''",
        ),
    ),
    "backoffice_users": (
        (
            "roles_known",
            "roles <> '' AND replace(replace(replace(replace(replace(',' || replace(roles, "
            "',', ',,') || ',', ',bursar,', ''), ',reconciler,', ''), ',supervisor,', ''), "
            "',admin,', ''), ',viewer,', '') = ''",
        ),
    ),
    "billers": (
        (
            "lookup_check_known",
            "lookup_check IN ('none', 'name_last_char', 'name')",
        ),
    ),
    "complaint_tats": (
        (
            "kind_known",
            "kind IN ('paid_not_credited', 'charged_twice', 'wrong_amount', 'other')",
        ),
    ),
    "complaints": (
        (
            "kind_known",
            "kind IN ('paid_not_credited', 'charged_twice', 'wrong_amount', 'other')",
        ),
        (
            "status_known",
            "status IN ('open', 'assigned', 'resolved', 'rejected', 'reopened')",
        ),
        (
            "source_known",
            "source IN ('payer', 'clerk')",
        ),
        (
            "answer_known",
            "answer IN ('credited_on_requery', 'already_credited', 'held_for_review', "
            "'not_paid_at_channel', 'duplicate_refund_queued', 'duplicate_needs_refund', "
            "'no_duplicate_found')",
        ),
        (
            "reopened_not_negative",
            "reopened >= 0",
        ),
        (
            "closed_when_done",
            "(status IN ('resolved', 'rejected') AND closed_at IS NOT NULL) OR (NOT (status "
            "IN ('resolved', 'rejected')) AND closed_at IS NULL)",
        ),
    ),
    "journal_chains": (
        (
            "seq_not_negative",
            "seq >= 0",
        ),
        (
            "chain_given",
            "chain <> ''",
        ),
        (
            "last_hash_hex",
            "length(last_hash) = 64 AND ltrim(last_hash, '0123456789abcdef') = ''",
        ),
    ),
    "journal_seals": (
        (
            "counts_not_negative",
            "entry_count >= 0 AND last_seq >= 0",
        ),
        (
            "last_hash_hex",
            "length(last_hash) = 64 AND ltrim(last_hash, '0123456789abcdef') = ''",
        ),
        (
            "digest_hex",
            "length(digest) = 64 AND ltrim(digest, '0123456789abcdef') = ''",
        ),
    ),
    "pending_approvals": (
        (
            "kind_given",
            "kind <> ''",
        ),
        (
            "maker_given",
            "maker <> ''",
        ),
    ),
    "recon_discrepancies": (
        (
            "resolution_request_id_given",
            "resolution_request_id IS NULL OR resolution_request_id <> ''",
        ),
    ),
    "refund_transfers": (
        (
            "reason_code_known",
            "reason_code IN ('window_closed', 'card_cancelled', 'account_closed', 'other')",
        ),
        (
            "payee_whole",
            "(payee_name IS NULL AND account_no IS NULL AND bank_name IS NULL AND "
            "recorded_by IS NULL AND recorded_at IS NULL) OR (payee_name IS NOT NULL AND "
            "account_no IS NOT NULL AND bank_name IS NOT NULL AND recorded_by IS NOT NULL "
            "AND recorded_at IS NOT NULL)",
        ),
        (
            "account_digits",
            "account_no IS NULL OR (length(account_no) BETWEEN 8 AND 32 AND "
            "ltrim(account_no, '0123456789') = '')",
        ),
        (
            "approved_after_payee",
            "approved_by IS NULL OR recorded_by IS NOT NULL",
        ),
        (
            "approval_whole",
            "(approved_by IS NULL AND approved_at IS NULL) OR (approved_by IS NOT NULL AND "
            "approved_at IS NOT NULL)",
        ),
        (
            "filing_whole",
            "(file_no IS NULL AND filed_at IS NULL) OR (file_no IS NOT NULL AND filed_at IS "
            "NOT NULL)",
        ),
        (
            "confirmation_whole",
            "(confirmed_by IS NULL AND confirmed_at IS NULL) OR (confirmed_by IS NOT NULL "
            "AND confirmed_at IS NOT NULL)",
        ),
    ),
    "waivers": (
        (
            "request_id_given",
            "request_id IS NULL OR request_id <> ''",
        ),
    ),
    "worker_heartbeats": (
        (
            "mode_known",
            "mode IN ('procrastinate', 'single-machine')",
        ),
        (
            "pid_positive",
            "pid > 0",
        ),
    ),
}

#: the column that names a row in the upgrade's message (``id`` where not listed)
KEYS = {"journal_chains": "chain", "worker_heartbeats": "worker"}


def _broken_row(conn: sa.Connection) -> str | None:
    """The first row that breaks a rule about to be added, described; ``None`` if none."""
    for table, rules in CHECKS.items():
        key = KEYS.get(table, "id")
        for name, sql in rules:
            found = conn.exec_driver_sql(
                f"SELECT min({key}) FROM {table} WHERE NOT ({sql})"
            ).scalar()
            if found is not None:
                return f"{table} row {key}={found} breaks ck_{table}_{name} ({sql})"
    return None


def upgrade() -> None:
    conn = op.get_bind()
    broken = _broken_row(conn)
    if broken is not None:
        raise InvariantViolated(
            f"migration 0019 stopped, nothing changed: {broken}; correct the row and upgrade again"
        )
    if conn.dialect.name == "sqlite":
        saved = _drop_triggers_naming(conn, CHECKS)
        for table, rules in CHECKS.items():
            with op.batch_alter_table(table, recreate="always") as batch:
                for name, sql in rules:
                    batch.create_check_constraint(op.f(f"ck_{table}_{name}"), sql)
        for sql in saved:
            conn.exec_driver_sql(sql)
        return
    for table, rules in CHECKS.items():
        for name, sql in rules:
            op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, sql)


def _drop_triggers_naming(conn: sa.Connection, tables: Collection[str]) -> list[str]:
    """SQLite: drop every trigger on, or naming, one of ``tables`` (a rebuild drops the
    table, and renaming its copy fails while a trigger names a missing table); their SQL,
    to create them again afterwards."""
    found = conn.exec_driver_sql(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    ).all()
    saved: list[str] = []
    for name, on, sql in found:
        if on in tables or any(table in sql for table in tables):
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            saved.append(str(sql))
    return saved


def downgrade() -> None:
    conn = op.get_bind()
    saved = _drop_triggers_naming(conn, CHECKS) if conn.dialect.name == "sqlite" else []
    for table, rules in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for name, _sql in rules:
                batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
    for sql in saved:
        conn.exec_driver_sql(sql)
