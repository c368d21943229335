"""a journal billers can verify: hash chains per biller and daily seals

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-06

Every journal entry gets its place in a hash chain (``chain``, ``chain_seq``,
``business_date``, ``prev_hash``, ``hash``; billfold.collection.chain), a head row per chain
(``journal_chains``) and a table of daily seals (``journal_seals``).

Existing entries are chained in the order they were written (by id): an entry belongs to
the biller of its first ``payable:<code>`` posting, else the presale project's biller of its
first escrow posting, else its payment's biller, else the system chain ``@system``; its
business date is the date it was written in its biller's timezone (never before its
chain's previous entry). The canonical form (version 1) is frozen here: a migration must
not change when the code does.

The journal is append-only (the database refuses UPDATE of ``journal_entries`` once the
append-only triggers exist): the one-time backfill suspends them — on PostgreSQL with
``DISABLE TRIGGER USER``, on SQLite by dropping the table's triggers and recreating them
from their stored SQL — inside this migration's transaction.

SQLite cannot add NOT NULL columns without a default, nor rebuild ``journal_entries``
while its postings point at it: there the columns are added with placeholder defaults
(which no chained row keeps). On SQLite two triggers keep the chain: one refuses an entry
that does not continue its chain's head (number and previous hash), one moves the head to
each entry written — on SQLite a statement from Python costs more than a trigger inside it.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS = "0" * 64
SYSTEM = "@system"
DEFAULT_TZ = "Asia/Shanghai"
UNIQUE = "uq_journal_entries_chain_chain_seq"
BY_DATE = "ix_journal_entries_chain_business_date"
SQLITE_GUARD = "journal_entries_chained"
SQLITE_HEAD = "journal_chains_follow"
TABLES = ("journal_entries", "journal_postings")
PAGE = 2000

_COLUMNS = (
    ("chain", sa.String(40), "''"),
    ("chain_seq", sa.BigInteger(), "0"),
    ("business_date", sa.Date(), "'1970-01-01'"),
    ("prev_hash", sa.String(64), "''"),
    ("hash", sa.String(64), "''"),
)


def _create_tables() -> None:
    op.create_table(
        "journal_chains",
        sa.Column("chain", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=True),
        sa.Column("sealed_through", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_journal_chains")),
    )
    op.create_table(
        "journal_seals",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("chain", sa.String(40), nullable=False),
        sa.Column("biller_id", ID, nullable=True),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("totals", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=True),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["biller_id"], ["billers.id"], name=op.f("fk_journal_seals_biller_id_billers")
        ),
        sa.ForeignKeyConstraint(
            ["chain"],
            ["journal_chains.chain"],
            name=op.f("fk_journal_seals_chain_journal_chains"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_seals")),
        sa.UniqueConstraint(
            "chain", "business_date", name=op.f("uq_journal_seals_chain_business_date")
        ),
    )


# -- the frozen canonical form, version 1 (billfold.collection.chain) ---------------------------
def _hash(content: dict[str, Any]) -> str:
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _instant(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def _utc(value: Any) -> datetime:
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- which chain an existing entry belongs to -------------------------------------------------
class _Owners:
    def __init__(self, conn: sa.Connection) -> None:
        self.zones: dict[str, str] = {
            str(code): str(tz)
            for code, tz in conn.execute(sa.text("SELECT code, timezone FROM billers"))
        }
        self.by_project: dict[str, str] = {
            str(bureau): str(code)
            for bureau, code in conn.execute(
                sa.text(
                    "SELECT p.bureau_code, b.code FROM presale_projects p "
                    "JOIN billers b ON b.id = p.biller_id"
                )
            )
        }
        self.by_payment: dict[int, str] = {
            int(pid): str(code)
            for pid, code in conn.execute(
                sa.text("SELECT p.id, b.code FROM payments p JOIN billers b ON b.id = p.biller_id")
            )
        }

    def chain(self, accounts: list[str], payment_id: int | None) -> str:
        for account in accounts:
            if account.startswith("payable:"):
                return account.split(":", 1)[1]
        for account in accounts:
            if account.startswith(("escrow:", "escrow_buyers:", "escrow_held:")):
                found = self.by_project.get(account.split(":", 1)[1])
                if found is not None:
                    return found
        if payment_id is not None and payment_id in self.by_payment:
            return self.by_payment[payment_id]
        return SYSTEM

    def zone(self, chain: str) -> ZoneInfo:
        return ZoneInfo(self.zones.get(chain, DEFAULT_TZ))


def _pages(conn: sa.Connection, currency: bool) -> Iterator[list[tuple[Any, list[Any]]]]:
    """Existing entries in id order, a page at a time, each with its postings in order."""
    money = "currency" if currency else "'CNY'"
    last = 0
    while True:
        heads = list(
            conn.execute(
                sa.text(
                    "SELECT id, kind, memo, payment_id, refund_id, created_at "
                    "FROM journal_entries WHERE id > :last ORDER BY id LIMIT :n"
                ),
                {"last": last, "n": PAGE},
            )
        )
        if not heads:
            return
        last = int(heads[-1].id)
        postings: dict[int, list[Any]] = defaultdict(list)
        rows = conn.execute(
            sa.text(
                f"SELECT entry_id, account, amount_fen, {money} AS currency, bill_id "
                "FROM journal_postings WHERE entry_id BETWEEN :a AND :b ORDER BY id"
            ),
            {"a": int(heads[0].id), "b": last},
        )
        for row in rows:
            postings[int(row.entry_id)].append(row)
        yield [(head, postings[int(head.id)]) for head in heads]


def _backfill(conn: sa.Connection) -> None:
    owners = _Owners(conn)
    currency = "currency" in {c["name"] for c in sa.inspect(conn).get_columns("journal_postings")}
    heads: dict[str, list[Any]] = {code: [0, GENESIS, None] for code in owners.zones}
    heads[SYSTEM] = [0, GENESIS, None]
    update = sa.text(
        "UPDATE journal_entries SET chain = :chain, chain_seq = :seq, "
        "business_date = :day, prev_hash = :prev, hash = :hash WHERE id = :id"
    )
    for page in _pages(conn, currency):
        changes = []
        for head, postings in page:
            chain = owners.chain([p.account for p in postings], head.payment_id)
            state = heads.setdefault(chain, [0, GENESIS, None])
            day = _utc(head.created_at).astimezone(owners.zone(chain)).date()
            if state[2] is not None and state[2] > day:
                day = state[2]
            content = {
                "v": 1,
                "chain": chain,
                "seq": state[0] + 1,
                "id": int(head.id),
                "prev_hash": state[1],
                "kind": head.kind,
                "memo": head.memo,
                "payment_id": head.payment_id,
                "refund_id": head.refund_id,
                "business_date": day.isoformat(),
                "occurred_at": _instant(head.created_at),
                "postings": [
                    {
                        "account": p.account,
                        "amount_fen": int(p.amount_fen),
                        "currency": p.currency,
                        "bill_id": None if p.bill_id is None else int(p.bill_id),
                    }
                    for p in postings
                ],
            }
            digest = _hash(content)
            changes.append(
                {
                    "id": int(head.id),
                    "chain": chain,
                    "seq": state[0] + 1,
                    "day": day,
                    "prev": state[1],
                    "hash": digest,
                }
            )
            state[0], state[1], state[2] = state[0] + 1, digest, day
        conn.execute(update, changes)
    rows = [
        {"chain": chain, "seq": seq, "last_hash": last, "last_date": day}
        for chain, (seq, last, day) in sorted(heads.items())
    ]
    conn.execute(
        sa.text(
            "INSERT INTO journal_chains (chain, seq, last_hash, last_date, sealed_through) "
            "VALUES (:chain, :seq, :last_hash, :last_date, NULL)"
        ),
        rows,
    )


# -- suspending the journal's own triggers for the backfill -----------------------------------
def _suspend_triggers(conn: sa.Connection) -> list[str]:
    if conn.dialect.name == "postgresql":
        op.execute("ALTER TABLE journal_entries DISABLE TRIGGER USER")
        return []
    found = conn.execute(
        sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'journal_entries'"
        )
    ).all()
    for name, _sql in found:
        op.execute(f'DROP TRIGGER "{name}"')
    return [str(sql) for _name, sql in found]


def _resume_triggers(conn: sa.Connection, saved: list[str]) -> None:
    if conn.dialect.name == "postgresql":
        op.execute("ALTER TABLE journal_entries ENABLE TRIGGER USER")
        return
    for sql in saved:
        op.execute(sql)


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    _create_tables()
    for name, kind, default in _COLUMNS:
        extra: dict[str, Any] = (
            {"nullable": False, "server_default": sa.text(default)} if sqlite else {}
        )
        op.add_column("journal_entries", sa.Column(name, kind, **extra))
    saved = _suspend_triggers(conn)
    _backfill(conn)
    _resume_triggers(conn, saved)
    if not sqlite:
        for name, _kind, _default in _COLUMNS:
            op.alter_column("journal_entries", name, nullable=False)
    op.create_index(UNIQUE, "journal_entries", ["chain", "chain_seq"], unique=True)
    op.create_index(BY_DATE, "journal_entries", ["chain", "business_date"])
    if sqlite:
        op.execute(
            f"CREATE TRIGGER {SQLITE_GUARD} BEFORE INSERT ON journal_entries "
            "WHEN length(NEW.hash) != 64 OR NOT EXISTS (SELECT 1 FROM journal_chains h "
            "WHERE h.chain = NEW.chain AND h.seq = NEW.chain_seq - 1 "
            "AND h.last_hash = NEW.prev_hash) "
            "BEGIN SELECT RAISE(ABORT, 'a journal entry must continue its chain'); END"
        )
        op.execute(
            f"CREATE TRIGGER {SQLITE_HEAD} AFTER INSERT ON journal_entries BEGIN "
            "UPDATE journal_chains SET seq = NEW.chain_seq, last_hash = NEW.hash, "
            "last_date = NEW.business_date WHERE chain = NEW.chain; END"
        )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {SQLITE_HEAD}")
        op.execute(f"DROP TRIGGER IF EXISTS {SQLITE_GUARD}")
    op.drop_index(BY_DATE, table_name="journal_entries")
    op.drop_index(UNIQUE, table_name="journal_entries")
    for name, _kind, _default in reversed(_COLUMNS):
        # a plain DROP COLUMN (SQLite >= 3.35): a batch copy would rebuild the journal
        op.execute(f'ALTER TABLE journal_entries DROP COLUMN "{name}"')
    op.drop_table("journal_seals")
    op.drop_table("journal_chains")
