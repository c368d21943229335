"""the database refuses what must never happen

Revision ID: 0011
Revises: 0012
Create Date: 2026-12-06

* CHECK constraints on money columns, counts, statuses and kinds (``ck_<table>_<name>``);
* ``journal_postings.currency`` (NOT NULL; existing postings are CNY, as they were);
* the journal's guard: append-only triggers, postings written before their entry row
  (whose foreign key becomes DEFERRABLE INITIALLY DEFERRED), and the balance check of an
  entry (SQLite: when its row is inserted; PostgreSQL: a deferred constraint trigger).

SQLite cannot add a constraint to a table: each table is rebuilt (Alembic's batch mode,
data kept), with foreign keys off meanwhile (``billfold.adapters.db.migrate``).

A row that already breaks one of the new rules stops the upgrade before anything changes,
with a message naming the table, the rule and the row's id: such a row is a fact a person
must look at, not something a migration may silently repair.

The rules are a frozen copy of ``billfold/adapters/db/schema/checks.py`` and
``journal_guard.py`` as they were at this revision (a test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from billfold.errors import InvariantViolated

revision: str = "0011"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_journal_postings_entry_id_journal_entries"

#: table -> ((name without the ``ck_<table>_`` prefix, SQL), ...)
CHECKS: dict[str, tuple[tuple[str, str], ...]] = {
    "bank_settlements": (("status_known", "status IN ('settled', 'mismatch', 'unexplained')"),),
    "bill_items": (
        (
            "amounts_not_negative",
            "amount_fen >= 0 AND paid_fen >= 0 AND waived_fen >= 0 AND refunded_fen >= 0",
        ),
    ),
    "billers": (
        (
            "kind_known",
            "kind IN ('school', 'utility', 'government', 'property', 'hospital', "
            "'housing_developer', 'market_stall', 'scenic_spot')",
        ),
        ("status_known", "status IN ('active', 'suspended')"),
        (
            "limits_not_negative",
            "single_limit_fen >= 0 AND daily_limit_fen >= 0 AND monthly_limit_fen >= 0",
        ),
    ),
    "bills": (
        ("kind_known", "kind IN ('fixed', 'open', 'fine')"),
        ("status_known", "status IN ('open', 'partially_paid', 'paid', 'cancelled', 'refunded')"),
        (
            "amounts_not_negative",
            "principal_fen >= 0 AND paid_fen >= 0 AND late_fee_paid_fen >= 0 AND min_part_fen >= 0",
        ),
        ("open_range", "open_min_fen >= 0 AND open_max_fen >= open_min_fen"),
        ("paid_within_principal", "kind = 'open' OR paid_fen <= principal_fen"),
    ),
    "bureau_pushes": (
        ("status_known", "status IN ('pending', 'acked', 'dead')"),
        ("attempts_not_negative", "attempts >= 0"),
    ),
    "escrow_entries": (
        ("kind_known", "kind IN ('payment', 'reversal', 'held', 'release', 'refund', 'assign')"),
    ),
    "fee_rules": (
        ("kind_known", "kind IN ('bps', 'fixed')"),
        ("amounts_not_negative", "bps >= 0 AND min_fen >= 0 AND fixed_fen >= 0"),
        ("max_not_below_min", "max_fen >= min_fen"),
    ),
    "gov_fee_items": (("amount_not_negative", "amount_fen >= 0"),),
    "import_batches": (
        ("mode_known", "mode IN ('all-or-nothing', 'valid-lines')"),
        ("counts_not_negative", "created >= 0 AND unchanged >= 0 AND rejected >= 0"),
    ),
    "journal_postings": (
        ("amount_not_zero", "amount_fen <> 0"),
        ("currency_code", "length(currency) = 3 AND upper(currency) = currency"),
    ),
    "mandate_debits": (
        (
            "status_known",
            "status IN ('scheduled', 'submitting', 'retry_wait', 'succeeded', 'failed', "
            "'cancelled')",
        ),
        ("amounts_not_negative", "amount_fen >= 0 AND noticed_fen >= 0 AND attempts >= 0"),
    ),
    "mandates": (
        ("status_known", "status IN ('pending', 'active', 'suspended', 'revoked', 'expired')"),
        ("limits_not_negative", "per_debit_limit_fen >= 0 AND monthly_limit_fen >= 0"),
    ),
    "order_lines": (
        ("amounts_not_negative", "amount_fen >= 0 AND refunded_fen >= 0"),
        ("refunded_within_amount", "refunded_fen <= amount_fen"),
    ),
    "orders": (
        (
            "status_known",
            "status IN ('created', 'paying', 'paid', 'expired', 'cancelled', 'failed', "
            "'partially_refunded', 'refunded', 'reversed')",
        ),
        ("amounts_not_negative", "total_fen >= 0 AND refunded_fen >= 0"),
        ("refunded_within_total", "refunded_fen <= total_fen"),
    ),
    "outbox_deliveries": (
        ("status_known", "status IN ('pending', 'delivered', 'dead')"),
        ("attempts_not_negative", "attempts >= 0"),
    ),
    "payers": (
        (
            "id_kind_known",
            "id_kind IN ('student_no', 'account_no', 'decision_no', 'phone', 'contract_no', "
            "'id_number', 'other')",
        ),
    ),
    "payments": (
        ("status_known", "status IN ('credited', 'held', 'suspense', 'reversed')"),
        ("amounts_not_negative", "amount_fen >= 0 AND fee_fen >= 0 AND refunded_fen >= 0"),
        ("refunded_within_amount", "refunded_fen <= amount_fen"),
    ),
    "pos_batches": (("status_known", "status IN ('open', 'closed')"),),
    "pos_messages": (
        ("kind_known", "kind IN ('sale', 'void', 'refund', 'reversal')"),
        ("amount_not_negative", "amount_fen >= 0"),
    ),
    "pos_terminals": (("status_known", "status IN ('active', 'disabled')"),),
    "presale_contracts": (("total_not_negative", "total_fen >= 0"),),
    "presale_milestones": (("bps_within_whole", "cumulative_bps BETWEEN 0 AND 10000"),),
    "recon_discrepancies": (
        (
            "code_known",
            "code IN ('amount_mismatch', 'status_mismatch', 'channel_only', 'engine_only', "
            "'duplicate_line', 'fee_mismatch', 'cross_day', 'unreadable_line', "
            "'settlement_mismatch', 'unexplained_credit')",
        ),
        ("status_known", "status IN ('open', 'resolved', 'superseded')"),
        (
            "action_known",
            "action IN ('credit', 'refund', 'reverse', 'complete_refund', 'write_off', 'accept')",
        ),
        (
            "auto_action_known",
            "auto_action IN ('credit', 'refund', 'reverse', 'complete_refund', 'write_off', "
            "'accept')",
        ),
    ),
    "recon_runs": (
        ("kind_known", "kind IN ('channel', 'bank')"),
        ("status_known", "status IN ('current', 'superseded')"),
        (
            "counts_not_negative",
            "line_count >= 0 AND quarantined >= 0 AND payment_count >= 0 AND refund_count "
            ">= 0 AND matched_count >= 0 AND engine_count >= 0 AND discrepancy_count >= 0",
        ),
    ),
    "refunds": (
        (
            "status_known",
            "status IN ('pending', 'succeeded', 'failed', 'cancelled', 'needs_transfer', "
            "'in_transfer')",
        ),
        ("kind_known", "kind IN ('credited', 'suspense')"),
        ("amount_positive", "amount_fen > 0"),
        ("fee_not_negative", "fee_fen >= 0"),
    ),
    "settlement_batches": (
        ("status_known", "status IN ('draft', 'approved', 'paid', 'confirmed')"),
        (
            "amounts_not_negative",
            "payment_count >= 0 AND gross_fen >= 0 AND refund_count >= 0 AND refund_fen >= "
            "0 AND held_back_count >= 0 AND held_back_fen >= 0",
        ),
    ),
    "settlement_items": (("kind_known", "kind IN ('payment', 'refund', 'reversal')"),),
    "settlement_profiles": (
        ("remainder_rule_known", "remainder_rule IN ('rest', 'largest', 'first', 'last')"),
    ),
    "sub_units": (
        (
            "kind_known",
            "kind IN ('campus', 'grade', 'class', 'district', 'office', 'project', 'other')",
        ),
    ),
    "waivers": (("amount_positive", "amount_fen > 0"),),
}

SQLITE_GUARD: tuple[str, ...] = (
    "CREATE TRIGGER journal_entries_no_update BEFORE UPDATE ON journal_entries BEGIN SELECT "
    "RAISE(ABORT, 'journal_entries is append-only: UPDATE refused; post a reversing entry "
    "instead'); END",
    "CREATE TRIGGER journal_entries_no_delete BEFORE DELETE ON journal_entries BEGIN SELECT "
    "RAISE(ABORT, 'journal_entries is append-only: DELETE refused; post a reversing entry "
    "instead'); END",
    "CREATE TRIGGER journal_postings_no_update BEFORE UPDATE ON journal_postings BEGIN "
    "SELECT RAISE(ABORT, 'journal_postings is append-only: UPDATE refused; post a reversing "
    "entry instead'); END",
    "CREATE TRIGGER journal_postings_no_delete BEFORE DELETE ON journal_postings BEGIN "
    "SELECT RAISE(ABORT, 'journal_postings is append-only: DELETE refused; post a reversing "
    "entry instead'); END",
    "CREATE TRIGGER journal_postings_entry_open BEFORE INSERT ON journal_postings WHEN "
    "EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) BEGIN SELECT "
    "RAISE(ABORT, 'journal_postings: the entry is written already; its postings cannot "
    "change'); END",
    "CREATE TRIGGER journal_entries_balanced BEFORE INSERT ON journal_entries WHEN (SELECT "
    "count(*) FROM journal_postings WHERE entry_id = NEW.id) < 2 OR EXISTS (SELECT 1 FROM "
    "journal_postings WHERE entry_id = NEW.id GROUP BY currency HAVING sum(amount_fen) <> "
    "0) BEGIN SELECT RAISE(ABORT, 'journal_entries: an entry needs two or more postings, "
    "written before it, that sum to zero in each currency'); END",
)

POSTGRESQL_GUARD: tuple[str, ...] = (
    "CREATE FUNCTION billfold_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION '% is append-only: % refused; post a reversing entry instead', "
    "TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation'; END $$",
    "CREATE FUNCTION billfold_journal_entry_open() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN IF EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) THEN RAISE "
    "EXCEPTION 'journal_postings: entry % is written already; its postings cannot change', "
    "NEW.entry_id USING ERRCODE = 'integrity_constraint_violation'; END IF; RETURN NEW; END "
    "$$",
    "CREATE FUNCTION billfold_journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ DECLARE n bigint; odd text; BEGIN SELECT sum(g.c), string_agg(g.s || ' fen ' || "
    "g.currency, ', ') FILTER (WHERE g.s <> 0) INTO n, odd FROM (SELECT currency, count(*) "
    "AS c, sum(amount_fen) AS s FROM journal_postings WHERE entry_id = NEW.id GROUP BY "
    "currency) AS g; IF coalesce(n, 0) < 2 OR odd IS NOT NULL THEN RAISE EXCEPTION "
    "'journal_entries: entry % does not balance (% postings; sums %)', NEW.id, coalesce(n, "
    "0), coalesce(odd, 'zero') USING ERRCODE = 'check_violation'; END IF; RETURN NULL; END "
    "$$",
    "CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries "
    "FOR EACH ROW EXECUTE FUNCTION billfold_journal_append_only()",
    "CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries FOR EACH "
    "STATEMENT EXECUTE FUNCTION billfold_journal_append_only()",
    "CREATE TRIGGER journal_postings_append_only BEFORE UPDATE OR DELETE ON "
    "journal_postings FOR EACH ROW EXECUTE FUNCTION billfold_journal_append_only()",
    "CREATE TRIGGER journal_postings_no_truncate BEFORE TRUNCATE ON journal_postings FOR "
    "EACH STATEMENT EXECUTE FUNCTION billfold_journal_append_only()",
    "CREATE TRIGGER journal_postings_entry_open BEFORE INSERT ON journal_postings FOR EACH "
    "ROW EXECUTE FUNCTION billfold_journal_entry_open()",
    "CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "
    "billfold_journal_entry_balanced()",
)

_DROP_SQLITE = [sql.split()[2] for sql in SQLITE_GUARD]
_DROP_PG_TRIGGERS = [
    ("journal_entries_append_only", "journal_entries"),
    ("journal_entries_no_truncate", "journal_entries"),
    ("journal_postings_append_only", "journal_postings"),
    ("journal_postings_no_truncate", "journal_postings"),
    ("journal_postings_entry_open", "journal_postings"),
    ("journal_entries_balanced", "journal_entries"),
]
_DROP_PG_FUNCTIONS = [
    "billfold_journal_append_only",
    "billfold_journal_entry_open",
    "billfold_journal_entry_balanced",
]


def _broken_row(conn: sa.Connection) -> str | None:
    """The first row that breaks a rule about to be added, described; ``None`` if none."""
    for table, rules in CHECKS.items():
        for name, sql in rules:
            if name == "currency_code":  # the column comes with this migration
                continue
            found = conn.exec_driver_sql(f"SELECT min(id) FROM {table} WHERE NOT ({sql})").scalar()
            if found is not None:
                return f"{table} row id={found} breaks ck_{table}_{name} ({sql})"
    orphan = conn.exec_driver_sql(
        "SELECT min(p.id) FROM journal_postings p "
        "LEFT JOIN journal_entries e ON e.id = p.entry_id WHERE e.id IS NULL"
    ).scalar()
    if orphan is not None:
        return f"journal_postings row id={orphan} belongs to no journal entry"
    unbalanced = conn.exec_driver_sql(
        "SELECT e.id FROM journal_entries e LEFT JOIN journal_postings p ON p.entry_id = e.id "
        "GROUP BY e.id HAVING count(p.id) < 2 OR coalesce(sum(p.amount_fen), 0) <> 0 "
        "ORDER BY e.id LIMIT 1"
    ).scalar()
    if unbalanced is not None:
        return (
            f"journal_entries row id={unbalanced} does not balance "
            "(fewer than two postings, or they do not sum to zero)"
        )
    return None


def upgrade() -> None:
    conn = op.get_bind()
    broken = _broken_row(conn)
    if broken is not None:
        raise InvariantViolated(
            f"migration 0011 stopped, nothing changed: {broken}; correct the row (for the "
            "journal: with a reversing entry) and upgrade again"
        )
    if conn.dialect.name == "sqlite":
        _upgrade_sqlite(conn)
    else:
        _upgrade_postgresql(conn)


def _upgrade_sqlite(conn: sa.Connection) -> None:
    with op.batch_alter_table("journal_postings") as batch:  # ALTER TABLE ADD COLUMN
        batch.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default="CNY"))
    for table, rules in CHECKS.items():
        with op.batch_alter_table(table, recreate="always") as batch:
            if table == "journal_postings":
                batch.alter_column(
                    "currency",
                    existing_type=sa.String(3),
                    existing_nullable=False,
                    server_default=None,
                )
                batch.drop_constraint(FK, type_="foreignkey")
                batch.create_foreign_key(
                    FK,
                    "journal_entries",
                    ["entry_id"],
                    ["id"],
                    deferrable=True,
                    initially="DEFERRED",
                )
            for name, sql in rules:
                batch.create_check_constraint(op.f(f"ck_{table}_{name}"), sql)
    for sql in SQLITE_GUARD:  # after the rebuilds: dropping a table drops its triggers
        conn.exec_driver_sql(sql)


def _upgrade_postgresql(conn: sa.Connection) -> None:
    op.add_column(
        "journal_postings",
        sa.Column("currency", sa.String(3), nullable=False, server_default="CNY"),
    )
    op.alter_column("journal_postings", "currency", server_default=None)
    op.drop_constraint(FK, "journal_postings", type_="foreignkey")
    op.create_foreign_key(
        FK,
        "journal_postings",
        "journal_entries",
        ["entry_id"],
        ["id"],
        deferrable=True,
        initially="DEFERRED",
    )
    for table, rules in CHECKS.items():
        for name, sql in rules:
            op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, sql)
    for sql in POSTGRESQL_GUARD:  # psycopg reads "%%" as the RAISE placeholder "%"
        conn.exec_driver_sql(sql.replace("%", "%%"))


def downgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        for name in _DROP_SQLITE:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name, table in _DROP_PG_TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for name in _DROP_PG_FUNCTIONS:
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
    for table, rules in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for name, _sql in rules:
                batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
    with op.batch_alter_table("journal_postings") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.create_foreign_key(FK, "journal_entries", ["entry_id"], ["id"])
        batch.drop_column("currency")
