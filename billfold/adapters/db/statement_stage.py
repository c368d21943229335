"""Bulk loading of a statement into the run's staging table.

The staging table is a temporary table of the run's own transaction: PostgreSQL drops it
at commit, SQLite when the run drops it (or the connection closes). Lines go in with the
database's bulk path — ``COPY ... FROM STDIN`` through psycopg's ``cursor.copy`` on
PostgreSQL, ``executemany`` in chunks on SQLite — and the index on the join key is built
after the load, which is far cheaper than keeping it up to date row by row.

``grp`` sorts lines for matching: ``P`` payments and reversals (matched to engine payments
by channel transaction id), ``R`` refunds (matched to engine refunds), ``O`` the rest
(fees, the channel's own payouts: counted, not matched).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection

from billfold.settlement.statement import Direction, LineStatus, LineType, StatementLine

__all__ = [
    "STAGE",
    "STAGE_COLUMNS",
    "StageWriter",
    "create_stage",
    "drop_stage",
    "index_stage",
    "line_from_row",
    "load_stage",
    "stage_rows",
]

STAGE = "recon_stage"
STAGE_COLUMNS = (
    "seq",
    "grp",
    "txn",
    "type",
    "status",
    "direction",
    "amount_fen",
    "fee_fen",
    "currency",
    "order_no",
    "refund_id",
    "occurred_at",
    "source_line",
    "merchant_id",
    "counterparty",
)
CHUNK = 20_000


def _ddl(postgresql: bool) -> str:
    big = "BIGINT" if postgresql else "INTEGER"
    tail = " ON COMMIT DROP" if postgresql else ""
    # SQLite: the rowid itself, free. PostgreSQL: no key — seq is unique by construction and
    # a primary key index kept up to date through a million-row COPY would cost seconds.
    seq = "BIGINT NOT NULL" if postgresql else "INTEGER NOT NULL PRIMARY KEY"
    return (
        f"CREATE TEMPORARY TABLE {STAGE} ("
        f"seq {seq}, grp CHAR(1) NOT NULL, txn VARCHAR(64) NOT NULL, "
        "type VARCHAR(12) NOT NULL, status VARCHAR(8) NOT NULL, direction VARCHAR(8) NOT NULL, "
        f"amount_fen {big} NOT NULL, fee_fen {big} NOT NULL, currency CHAR(3) NOT NULL, "
        "order_no VARCHAR(64), refund_id VARCHAR(64), occurred_at VARCHAR(40) NOT NULL, "
        "source_line INTEGER NOT NULL, merchant_id VARCHAR(64), counterparty VARCHAR(128))"
        f"{tail}"
    )


def create_stage(conn: Connection) -> None:
    """Create an empty staging table in the connection's current transaction."""
    postgresql = conn.dialect.name == "postgresql"
    if not postgresql:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{STAGE}")
    conn.exec_driver_sql(_ddl(postgresql))


def drop_stage(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
    else:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{STAGE}")


def stage_rows(
    lines: Iterable[StatementLine], *, first_seq: int = 1, line_offset: int = 0
) -> Iterator[tuple[Any, ...]]:
    """The staging rows of ``lines``: ``seq`` counts from ``first_seq``; ``line_offset`` is
    added to each line's number (a part of a file parsed on its own)."""
    payment, reversal, refund = LineType.PAYMENT, LineType.REVERSAL, LineType.REFUND
    when: datetime | None = None
    stamp = ""
    for seq, line in enumerate(lines, start=first_seq):
        kind = line.type
        if line.occurred_at is not when:  # parsers hand out one object per distinct time
            when = line.occurred_at
            stamp = when.isoformat()
        yield (
            seq,
            "P" if kind is payment or kind is reversal else "R" if kind is refund else "O",
            line.channel_txn_id[:64],
            str(kind),
            str(line.status),
            str(line.direction) if line.direction else "CREDIT",
            line.amount_fen,
            line.fee_fen,
            line.currency,
            line.order_no[:64] if line.order_no else None,
            line.refund_id[:64] if line.refund_id else None,
            stamp,
            line.source_line + line_offset,
            line.merchant_id[:64] if line.merchant_id else None,
            line.counterparty[:128] if line.counterparty else None,
        )


class StageWriter:
    """Writes staging rows with the database's bulk path, batch by batch."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.count = 0
        self._raw: Any = conn.connection.driver_connection
        self._cursor: Any = None
        self._session: Any = None
        self._copy: Any = None

    def __enter__(self) -> StageWriter:
        columns = ", ".join(STAGE_COLUMNS)
        self._cursor = self._raw.cursor()
        if self.conn.dialect.name == "postgresql":
            self._session = self._cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN")
            self._copy = self._session.__enter__()
        else:
            marks = ", ".join("?" for _ in STAGE_COLUMNS)
            self._sql = f"INSERT INTO temp.{STAGE} ({columns}) VALUES ({marks})"
        return self

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if self._copy is not None:
            for row in rows:
                self._copy.write_row(row)
        else:
            self._cursor.executemany(self._sql, rows)
        self.count += len(rows)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self._copy is not None:
                self._session.__exit__(exc_type, exc, tb)
        finally:
            self._cursor.close()


def load_stage(conn: Connection, lines: Iterable[StatementLine]) -> int:
    """Load ``lines`` (streamed) into the staging table; returns how many were loaded."""
    rows = stage_rows(lines)
    with StageWriter(conn) as writer:
        while chunk := list(islice(rows, CHUNK)):
            writer.write(chunk)
    return writer.count


def index_stage(conn: Connection) -> None:
    """Index the join key once the lines are in, and let the planner see the table."""
    conn.exec_driver_sql(f"CREATE INDEX ix_{STAGE}_grp_txn ON {STAGE} (grp, txn)")
    conn.exec_driver_sql(f"ANALYZE {STAGE}")


def line_from_row(row: Any, channel: str, source_file: str) -> StatementLine:
    """Rebuild a :class:`StatementLine` from a staged row (for the few the rules judge)."""
    return StatementLine(
        channel=channel,
        channel_txn_id=row.txn,
        amount_fen=int(row.amount_fen),
        occurred_at=datetime.fromisoformat(row.occurred_at),
        type=LineType(row.type),
        source_file=source_file,
        source_line=int(row.source_line),
        order_no=row.order_no,
        fee_fen=int(row.fee_fen),
        currency=row.currency,
        status=LineStatus(row.status),
        direction=Direction(row.direction),
        merchant_id=row.merchant_id,
        refund_id=row.refund_id,
        counterparty=row.counterparty,
    )
