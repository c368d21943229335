"""escrow in the double-entry journal

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06

Every presale escrow entry becomes a balanced journal entry on its project's accounts
(``escrow:<bureau code>``, ``escrow_buyers:<bureau code>``, ``escrow_held:<bureau code>``);
``escrow_entries`` keeps the numbering and references and points at its journal entry
(``journal_entry_id``, unique), and loses ``amount_fen``: the money is in the journal only.

Existing rows are moved: one journal entry per row, memo ``escrow <bureau> #<seq> <kind>
<channel>/<ref>``, dated when the money moved. Going down puts the amounts back into
``amount_fen`` and leaves the journal entries (the journal is append-only); going up again
links them by their memo instead of posting them twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INDEX = "ix_escrow_entries_journal_entry_id"

_entries = sa.table(
    "escrow_entries",
    sa.column("id", ID),
    sa.column("project_pk", ID),
    sa.column("seq", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("channel", sa.String),
    sa.column("ref", sa.String),
    sa.column("payment_id", ID),
    sa.column("contract_no", sa.String),
    sa.column("amount_fen", sa.BigInteger),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("journal_entry_id", ID),
)
_projects = sa.table("presale_projects", sa.column("id", ID), sa.column("bureau_code", sa.String))
_contracts = sa.table(
    "presale_contracts", sa.column("contract_no", sa.String), sa.column("bill_id", ID)
)
_journal = sa.table(
    "journal_entries",
    sa.column("id", ID),
    sa.column("kind", sa.String),
    sa.column("memo", sa.String),
    sa.column("payment_id", ID),
    sa.column("refund_id", ID),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_postings = sa.table(
    "journal_postings",
    sa.column("entry_id", ID),
    sa.column("account", sa.String),
    sa.column("amount_fen", sa.BigInteger),
    sa.column("bill_id", ID),
)

#: (debit, credit) account prefix per kind, as billfold.settlement.escrow books them (frozen
#: here: a migration must not change when the code does).
_SIDES = {
    "payment": ("escrow", "escrow_buyers"),
    "reversal": ("escrow_buyers", "escrow"),
    "refund": ("escrow_buyers", "escrow"),
    "release": ("escrow_buyers", "escrow"),
    "held": ("escrow", "escrow_held"),
    "assign": ("escrow_held", "escrow_buyers"),
}


def _rows(conn: sa.Connection) -> list[sa.Row[object]]:
    query = (
        sa.select(
            _entries.c.id,
            _entries.c.seq,
            _entries.c.kind,
            _entries.c.channel,
            _entries.c.ref,
            _entries.c.payment_id,
            _entries.c.amount_fen,
            _entries.c.occurred_at,
            _projects.c.bureau_code,
            _contracts.c.bill_id,
        )
        .select_from(
            _entries.join(_projects, _projects.c.id == _entries.c.project_pk).outerjoin(
                _contracts, _contracts.c.contract_no == _entries.c.contract_no
            )
        )
        .order_by(_entries.c.project_pk, _entries.c.seq)
    )
    return list(conn.execute(query))


def _post(conn: sa.Connection, row: sa.Row[object], memo: str) -> int:
    debit, credit = _SIDES[str(row.kind)]
    amount = int(row.amount_fen)
    head = {
        "kind": f"escrow_{row.kind}",
        "memo": memo,
        "payment_id": row.payment_id,
        "refund_id": None,
        "created_at": row.occurred_at,
    }
    entry_id = int(
        conn.execute(_journal.insert().values(head).returning(_journal.c.id)).scalar_one()
    )
    conn.execute(
        _postings.insert(),
        [
            {
                "entry_id": entry_id,
                "account": f"{debit}:{row.bureau_code}",
                "amount_fen": amount,
                "bill_id": row.bill_id if debit == "escrow_buyers" else None,
            },
            {
                "entry_id": entry_id,
                "account": f"{credit}:{row.bureau_code}",
                "amount_fen": -amount,
                "bill_id": row.bill_id if credit == "escrow_buyers" else None,
            },
        ],
    )
    return entry_id


def upgrade() -> None:
    op.add_column("escrow_entries", sa.Column("journal_entry_id", ID, nullable=True))
    conn = op.get_bind()
    for row in _rows(conn):
        memo = f"escrow {row.bureau_code} #{row.seq:08d} {row.kind} {row.channel}/{row.ref}"
        found = conn.execute(
            sa.select(sa.func.max(_journal.c.id)).where(_journal.c.memo == memo)
        ).scalar()
        entry_id = int(found) if found is not None else _post(conn, row, memo)
        conn.execute(
            _entries.update().where(_entries.c.id == row.id).values(journal_entry_id=entry_id)
        )
    op.create_index(INDEX, "escrow_entries", ["journal_entry_id"], unique=True)
    op.drop_column("escrow_entries", "amount_fen")


def downgrade() -> None:
    op.add_column(
        "escrow_entries",
        sa.Column("amount_fen", sa.BigInteger(), nullable=False, server_default="0"),
    )
    conn = op.get_bind()
    amounts = (
        sa.select(_postings.c.entry_id, sa.func.sum(_postings.c.amount_fen).label("fen"))
        .where(_postings.c.amount_fen > 0)
        .group_by(_postings.c.entry_id)
    )
    for entry_id, fen in conn.execute(amounts):
        conn.execute(
            _entries.update()
            .where(_entries.c.journal_entry_id == entry_id)
            .values(amount_fen=int(fen))
        )
    op.drop_index(INDEX, table_name="escrow_entries")
    op.drop_column("escrow_entries", "journal_entry_id")
