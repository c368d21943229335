"""Bulk loading of a statement into the run's staging table.

The staging table is a temporary table of the run's own transaction: PostgreSQL drops it
at commit, SQLite when the run drops it (or the connection closes). Lines go in with the
database's bulk path — ``COPY ... FROM STDIN`` through psycopg's ``cursor.copy`` on
PostgreSQL, ``executemany`` in chunks on SQLite — and on SQLite the index on the join key
is built after the load, which is far cheaper than keeping it up to date row by row
(PostgreSQL hashes the table instead: :func:`index_stage`).

``grp`` sorts lines for matching: ``P`` payments and reversals (matched to engine payments
by channel transaction id), ``R`` refunds (matched to engine refunds), ``O`` the rest
(fees, the channel's own payouts: counted, not matched).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection

from billfold.settlement.parsers.columnar import COLUMNS
from billfold.settlement.statement import Direction, LineStatus, LineType, StatementLine
from billfold.settlement.totals import MERCHANTS, StageSummary

__all__ = [
    "STAGE",
    "STAGE_COLUMNS",
    "StageWriter",
    "create_stage",
    "drop_stage",
    "frame_summary",
    "index_stage",
    "line_from_row",
    "load_frame",
    "load_stage",
    "stage_rows",
    "table_summary",
]

STAGE = "recon_stage"
STAGE_COLUMNS = ("seq", "grp", *COLUMNS)  # a line's values, as the columnar reader names them
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


def frame_rows(frame: Any) -> Any:
    """A :mod:`~billfold.settlement.parsers.columnar` frame as staging rows (a polars
    ``DataFrame`` with the columns of :data:`STAGE_COLUMNS`): the same values
    :func:`stage_rows` gives for the same lines, ``seq`` counting from 1."""
    import polars as pl

    kind = pl.col("type")
    return frame.select(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("seq"),
        pl.when(kind.is_in(["PAYMENT", "REVERSAL"]))
        .then(pl.lit("P"))
        .when(kind == "REFUND")
        .then(pl.lit("R"))
        .otherwise(pl.lit("O"))
        .alias("grp"),
        _cut(frame, "txn", 64),
        "type",
        "status",
        "direction",
        "amount_fen",
        "fee_fen",
        "currency",
        _cut(frame, "order_no", 64),
        _cut(frame, "refund_id", 64),
        "occurred_at",
        "source_line",
        _cut(frame, "merchant_id", 64),
        _cut(frame, "counterparty", 128),
    )


def _cut(frame: Any, name: str, width: int) -> Any:
    """Column ``name`` cut to ``width`` characters — the column itself (no copy) when no
    value is longer, as is almost always so."""
    import polars as pl

    column = pl.col(name)
    longest = frame.select(column.str.len_chars().max()).item()
    return column.str.slice(0, width) if longest is not None and longest > width else column


def load_frame(conn: Connection, frame: Any) -> StageSummary:
    """Load a columnar statement (see :func:`frame_rows`) with the database's bulk path:
    the frame written as CSV into ``COPY`` on PostgreSQL (a null is an unquoted empty
    value, a text always quoted, so an empty text stays empty), ``executemany`` over its
    rows on SQLite. Returns the summary of what was loaded (:func:`frame_summary`)."""
    rows = frame_rows(frame)
    columns = ", ".join(STAGE_COLUMNS)
    raw: Any = conn.connection.driver_connection
    cursor = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            sql = f"COPY {STAGE} ({columns}) FROM STDIN (FORMAT csv)"
            with cursor.copy(sql) as copy:
                for start in range(0, rows.height, CHUNK * 5):
                    part = rows.slice(start, CHUNK * 5)
                    copy.write(part.write_csv(include_header=False, quote_style="non_numeric"))
        else:
            for start in range(0, rows.height, CHUNK * 5):
                _insert_sqlite(cursor, rows.slice(start, CHUNK * 5))
    finally:
        cursor.close()
    return frame_summary(rows)


_LITERAL = re.compile(r"[A-Za-z0-9_+\-:. ]*")


def _insert_sqlite(cursor: Any, part: Any) -> None:
    """``executemany`` over the rows of ``part``. A column holding one value in every row
    (the type, the status, the currency, most often the merchant) is written into the
    statement as a literal instead of being bound once per row — only ``NULL``, an integer
    or a text of letters, digits and ``_+-:. ``, which needs no escaping."""
    constant: dict[str, str] = {}
    if part.height > 1:
        for name, distinct in zip(part.columns, part.select(_n_unique()).row(0), strict=True):
            if distinct != 1:
                continue
            value = part.item(0, name)
            if value is None:
                constant[name] = "NULL"
            elif isinstance(value, int):
                constant[name] = str(int(value))
            elif isinstance(value, str) and _LITERAL.fullmatch(value):
                constant[name] = f"'{value}'"
    bound = [name for name in STAGE_COLUMNS if name not in constant]
    values = ", ".join(constant.get(name, "?") for name in STAGE_COLUMNS)
    sql = f"INSERT INTO temp.{STAGE} ({', '.join(STAGE_COLUMNS)}) VALUES ({values})"
    cursor.executemany(sql, zip(*(part.get_column(name).to_list() for name in bound), strict=True))


def _n_unique() -> Any:
    import polars as pl

    return pl.all().n_unique()


def frame_summary(frame: Any) -> StageSummary:
    """The summary of staging rows held as a frame (:func:`frame_rows`): the same groups,
    sums and merchant ids :func:`table_summary` finds once they are loaded, without a pass
    over the table."""
    import polars as pl

    # grouped as categories: grouping the texts themselves held ~95 MB more for a million
    # lines, on top of the run's peak
    keys = ("type", "status", "direction")
    groups = (
        frame.select(pl.col(*keys).cast(pl.Categorical), "amount_fen", "fee_fen")
        .group_by(*keys)
        .agg(pl.len(), pl.col("amount_fen").sum(), pl.col("fee_fen").sum())
        .iter_rows()
    )
    merchants = frame.get_column("merchant_id").drop_nulls().unique(maintain_order=True)
    return StageSummary(
        [(str(a), str(b), str(c), int(n), int(m or 0), int(f or 0)) for a, b, c, n, m, f in groups],
        [str(m) for m in merchants.head(MERCHANTS).to_list()],
    )


def table_summary(conn: Connection) -> StageSummary:
    """The summary of the staged statement, from the staging table."""
    groups = conn.exec_driver_sql(
        f"SELECT type, status, direction, COUNT(*), COALESCE(SUM(amount_fen), 0), "
        f"COALESCE(SUM(fee_fen), 0) FROM {STAGE} GROUP BY type, status, direction"
    )
    merchants = conn.exec_driver_sql(
        f"SELECT DISTINCT merchant_id FROM {STAGE} WHERE merchant_id IS NOT NULL LIMIT {MERCHANTS}"
    )
    return StageSummary(
        [(str(a), str(b), str(c), int(n), int(m), int(f)) for a, b, c, n, m, f in groups],
        [str(m) for (m,) in merchants],
    )


def index_stage(conn: Connection) -> None:
    """Index the join key once the lines are in (SQLite), and let the planner see the table.

    PostgreSQL gets no index: with the run's ``work_mem`` (see
    :data:`~.statement_ingest.RUN_SETTINGS`) every matching query hashes the staged lines
    (and the payments) instead, and never reads the index; building it for a million lines
    cost more server time than any of the queries. SQLite has no hash join: the index is
    what its anti-join probes and what its ``GROUP BY txn`` walks in order."""
    if conn.dialect.name != "postgresql":
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
