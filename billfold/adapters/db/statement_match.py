"""A statement read column by column, matched against the engine's payments in polars.

A big WeChat Pay bill is read into a polars frame (:mod:`billfold.settlement.parsers.columnar`).
Loading it into the staging table only to join it there cost most of a million-line run
(on SQLite, one thread: load, index, two joins ≈ 10 s). Instead the payments of the run's
channel and business date are read out once — while the file is being read, on the run's
own connection from a second thread — and the frame is matched against them here, with
the same predicates as the SQL of :class:`~billfold.adapters.db.recon.SqlRecon`:

* statement → engine: the payment and reversal lines that do not match cleanly, with the
  payment they name. A line may name a payment of another business date (跨日): the
  transaction ids the day's payments do not cover are looked up by id in the database.
* engine → statement: the day's payments holding money that no payment or reversal line
  mentions (短款), in the run's scope;
* the engine's totals of the day, in the run's scope.

Only what the rules judge leaves polars: the unclean lines are rebuilt with
:func:`~.statement_stage.line_from_row`, and the payments they name (and the 短款) are read
by id with the same columns as the SQL path, so the rules see the very same records and the
stored run is the same row for row (a test runs one file both ways).
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Sequence
from datetime import date
from typing import Any

import structlog
from sqlalchemy import Connection, select

from billfold.adapters.db import schema as t
from billfold.adapters.db import sqlite_columns
from billfold.adapters.db.recon import _payment, _payment_columns
from billfold.adapters.db.statement_stage import STAGE_COLUMNS, line_from_row
from billfold.settlement.engine_records import HOLDING, EnginePayment
from billfold.settlement.statement import StatementLine

__all__ = ["FrameMatch", "PaymentsRead", "read_payments"]

log = structlog.get_logger("billfold.recon")
_P = t.payments
#: The payment columns the matching needs, in this order: whether the payment holds money
#: (its status is one of :data:`HOLDING`) and whether it is of the run's business date are
#: read as 1 or 0 (on SQLite every value read is a Python object; a small int is cached).
_COLUMNS = ("id", "txn", "amount_p", "fee_p", "currency_p", "holds", "on_day", "biller_id")
_HOLDS = ", ".join(f"'{status}'" for status in sorted(HOLDING))
_FLAGS = (
    f"CASE WHEN status IN ({_HOLDS}) THEN 1 ELSE 0 END",
    "CASE WHEN business_date = {day} THEN 1 ELSE 0 END",
)
_SQLITE_COLUMNS = (
    "id",
    "channel_txn_id",
    "amount_fen",
    "fee_fen",
    "currency",
    *_FLAGS,
    "biller_id",
)
_SQLITE = (
    f"SELECT {', '.join(_SQLITE_COLUMNS)} FROM payments WHERE channel = :channel AND {{where}}"
)
# PostgreSQL: the rows as CSV text built by the server, a block of 131,072 ids to a value
# (a few MB each; a field holds at most 1 GB), so that the client reads a few values instead
# of a million rows (a million CopyData messages cost the client 2 s of CPU; the text, 0.1 s)
_PG = (
    "SELECT convert_to(string_agg(concat_ws(',', id, "
    "'\"' || replace(channel_txn_id, '\"', '\"\"') || '\"', amount_fen, fee_fen, "
    "'\"' || replace(currency, '\"', '\"\"') || '\"', "
    f"{', '.join(_FLAGS)}, coalesce(biller_id::text, '')), E'\\n'), 'UTF8') "
    "FROM payments WHERE channel = %(channel)s AND {where} GROUP BY id / 131072"
)
_BY_ID = 5000  # ids or transaction ids per IN list (SQLite)
_FETCH = 100_000  # rows fetched at a time (SQLite)
_Row = namedtuple("_Row", STAGE_COLUMNS)  # type: ignore[misc]  # a staged row, from the frame


def _schema() -> dict[str, Any]:
    import polars as pl

    ints = ("id", "amount_p", "fee_p", "holds", "on_day", "biller_id")
    return {name: pl.Int64 if name in ints else pl.String for name in _COLUMNS}


def read_payments(conn: Connection, channel: str, day: date) -> Any:
    """The payments of ``channel`` on business date ``day`` as a polars frame of
    :data:`_COLUMNS`."""
    return _read(conn, channel, day, "business_date = {day}", {})


def _by_txn(conn: Connection, channel: str, day: date, txns: Sequence[str]) -> Any:
    """The payments of ``channel`` with these transaction ids (any business date)."""
    import polars as pl

    if conn.dialect.name == "postgresql":
        return _read(conn, channel, day, "channel_txn_id = ANY(%(txns)s)", {"txns": list(txns)})
    frames = []
    for i in range(0, len(txns), _BY_ID):
        part = txns[i : i + _BY_ID]
        marks = ", ".join(f":v{k}" for k in range(len(part)))
        values = {f"v{k}": v for k, v in enumerate(part)}
        frames.append(_read(conn, channel, day, f"channel_txn_id IN ({marks})", values))
    return pl.concat(frames) if frames else pl.DataFrame(schema=_schema())


def _read(conn: Connection, channel: str, day: date, where: str, params: dict[str, Any]) -> Any:
    import polars as pl

    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        sql = _PG.replace("{where}", where).replace("{day}", "%(day)s")
        # bytes (UTF-8) in binary format: no decoding, no copy, each block read on its own
        frames = [pl.DataFrame(schema=_schema())]
        with raw.cursor() as cursor:
            # one block at a time (single-row mode): little held beside the file's reader
            for (block,) in cursor.stream(
                sql, {"channel": channel, "day": day, **params}, binary=True
            ):
                if block:
                    frames.append(pl.read_csv(block, has_header=False, schema=_schema()))
        return pl.concat(frames, rechunk=True)
    sql = _SQLITE.replace("{where}", where).replace("{day}", ":day")
    cursor = raw.cursor()
    frames = [pl.DataFrame(schema=_schema())]
    try:
        cursor.execute(sql, {"channel": channel, "day": day.isoformat(), **params})
        while rows := cursor.fetchmany(_FETCH):  # a block at a time: few Python objects held
            frames.append(pl.DataFrame(rows, schema=_schema(), orient="row"))
    finally:
        cursor.close()
    return pl.concat(frames, rechunk=True)


class PaymentsRead:
    """:func:`read_payments` while the file is read.

    On PostgreSQL on a thread of its own, on the run's connection, which nothing else uses
    until :meth:`join` returns: the server builds the rows while the client waits with the
    GIL released, so the read costs the file's reader nothing.

    On SQLite, with the ``fast`` extra's ADBC driver, by a child process that reads the
    columns as Arrow (:mod:`.sqlite_columns`), when it sees what the run's transaction sees
    (a file, the write lock held since the transaction began, nothing changed in it yet).
    Otherwise — or if the child fails — by :meth:`frame`, after the file, on the run's
    connection: there every value fetched is a Python object made under the GIL, which
    would starve polars' reader of it (measured: the file read 6 s → 15 s of wall).

    The read is made in the run's transaction before its slot is locked; on PostgreSQL (read
    committed) a payment confirmed after it is not seen by the run, just as one confirmed
    after the SQL path's join is not."""

    def __init__(self, conn: Connection, channel: str, day: date) -> None:
        self._args = (conn, channel, day)
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._child: sqlite_columns.ChildRead | None = None
        if conn.dialect.name == "postgresql":
            self._thread = threading.Thread(target=self._run, name="recon-payments", daemon=True)
            self._thread.start()
        elif sqlite_columns.available() and (file := sqlite_columns.snapshot_file(conn)):
            literal = sqlite_columns.quote(day.isoformat())
            columns = [sql.replace("{day}", literal) for sql in _SQLITE_COLUMNS]
            where = f"channel = {sqlite_columns.quote(channel)} AND business_date = {literal}"
            try:
                self._child = sqlite_columns.ChildRead(file, "payments", columns, where, _COLUMNS)
            except OSError as exc:  # no interpreter to start: read on the connection
                log.warning("payments read on the connection", reason=str(exc))

    def _run(self) -> None:
        try:
            self._result = read_payments(*self._args)
        except BaseException as exc:  # handed to the caller by frame()
            self._error = exc

    def join(self) -> None:
        """Wait for the thread, if there is one: then the connection is free again."""
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        """Wait for the thread and stop the child, if there are: when the file is not read
        column by column after all, or its read failed."""
        self.join()
        if self._child is not None:
            self._child.close()
            self._child = None

    def frame(self) -> Any:
        """The payments (read now on SQLite without the child); after :meth:`join`."""
        import polars as pl

        if self._child is not None:
            child, self._child = self._child, None
            try:
                read = child.frame()
                return pl.DataFrame(schema=_schema()) if read is None else read.cast(_schema())
            except sqlite_columns.ChildReadError as exc:
                log.warning("payments read on the connection", reason=str(exc))
        if self._thread is None:
            return read_payments(*self._args)
        if self._error is not None:
            raise self._error
        return self._result


class FrameMatch:
    """The staged statement as a frame (:func:`~.statement_stage.frame_rows`) and the day's
    payments (:func:`read_payments`), matched with the predicates of the SQL path."""

    def __init__(self, conn: Connection, rows: Any, day_payments: Any, day: date) -> None:
        import polars as pl

        self.conn = conn
        self.rows = rows
        self.day = day
        self.day_payments = day_payments
        self.p_lines = rows.filter(pl.col("grp") == "P")
        #: whether a payment or reversal line names each of the day's payments (a boolean
        #: series over them), once :meth:`payment_exceptions` has joined them
        self._named: Any = None

    def payment_exceptions(
        self, channel: str, check_fees: bool, source_file: str
    ) -> list[tuple[StatementLine, EnginePayment | None]]:
        """Payment and reversal lines that do not match cleanly, with the payment named
        (:meth:`SqlRecon.payment_exceptions <.recon.SqlRecon.payment_exceptions>`).

        The join with the day's payments (:func:`_day_join`) keeps only the line's ``seq``,
        the payment's id and row and whether the line is unclean: a million joined rows of
        every compared column are never held. Which payments it reaches is kept for
        :meth:`engine_only_payments` (a line names each of them)."""
        import polars as pl

        keys = self.p_lines.select(
            "seq", "txn", "type", "status", "amount_fen", "fee_fen", "currency"
        )
        repeated = pl.col("seq").is_in(self._repeated().implode())
        unclean = _unclean(check_fees, repeated).fill_null(True).alias("unclean")
        payments = self.day_payments.drop("biller_id").with_row_index("row")
        day = _day_join(keys, payments, unclean)
        reached = day.get_column("row").drop_nulls()
        # a bit per payment (not a row number per line) is all that is kept for 短款
        self._named = pl.repeat(False, payments.height, dtype=pl.Boolean, eager=True)
        self._named = self._named.scatter(reached, True)
        del reached
        found = day.filter(pl.col("unclean")).select("seq", "id")
        del day
        unknown = keys.join(found.filter(pl.col("id").is_null()), on="seq", how="semi")
        others = unknown.get_column("txn").unique().sort().to_list()
        if others:  # lines naming no payment of the day: of another day (跨日), or none
            elsewhere = _by_txn(self.conn, channel, self.day, others).drop("biller_id")
            if elsewhere.height:
                named = unknown.join(elsewhere, on="txn", how="left").filter(
                    _unclean(check_fees, repeated).fill_null(True)
                )
                found = pl.concat(
                    [found.filter(pl.col("id").is_not_null()), named.select(found.columns)]
                )
        lines = (
            self.p_lines.filter(pl.col("seq").is_in(found.get_column("seq").implode()))
            .join(found, on="seq", how="inner")
            .sort("seq")
        )
        ids = [int(i) for i in lines.get_column("id").drop_nulls().unique().to_list()]
        named_by_id = {p.id: p for p in _payments_by_id(self.conn, ids)}
        return [
            (
                line_from_row(_Row(*row), channel, source_file),
                named_by_id.get(pid) if pid else None,
            )
            for row, pid in zip(
                lines.select(STAGE_COLUMNS).iter_rows(), lines.get_column("id"), strict=True
            )
        ]

    def paying_billers(self) -> list[int]:
        """The billers with a payment among the day's payments, as
        :meth:`SqlRecon.channel_billers <.recon.SqlRecon.channel_billers>` finds them."""
        billers = self.day_payments.get_column("biller_id").drop_nulls().unique()
        return [int(b) for b in billers.to_list()]

    def _repeated(self) -> Any:
        """The ``seq`` of every payment or reversal line whose transaction id is listed more
        than once: first the lines whose id's 64-bit hash is repeated (the hashes sorted,
        each equal to the one before it taken: cheaper than grouping the texts, or the
        hashes), then, among those few, the texts themselves, so that a collision of hashes
        is never taken for a repeat."""
        import polars as pl

        hashes = self.p_lines.get_column("txn").hash()
        ordered = hashes.sort()
        twice = ordered.filter(ordered == ordered.shift(1))
        maybe = self.p_lines.filter(hashes.is_in(twice.implode()))
        return maybe.filter(pl.col("txn").is_duplicated()).get_column("seq")

    def engine_only_payments(self, channel: str, merchant_id: str) -> list[EnginePayment]:
        """The day's payments holding money that no payment or reversal line mentions."""
        if self._named is None:
            held = self._held(channel, merchant_id)
            missing = held.join(self.p_lines.select("txn"), on="txn", how="anti")
        else:  # the payments payment_exceptions' join reached: no second join of the texts
            missing = self._held(channel, merchant_id, ~self._named)
        ids = sorted(int(i) for i in missing.get_column("id").to_list())
        return sorted(_payments_by_id(self.conn, ids), key=lambda p: p.id)

    def engine_totals(self, channel: str, merchant_id: str) -> tuple[int, int]:
        held = self._held(channel, merchant_id)
        return held.height, int(held.get_column("amount_p").sum() or 0)

    def refund_lines(self, channel: str, source_file: str) -> list[StatementLine]:
        import polars as pl

        refunds = self.rows.filter(pl.col("grp") == "R").sort("seq")
        return [line_from_row(_Row(*row), channel, source_file) for row in refunds.iter_rows()]

    def _held(self, channel: str, merchant_id: str, keep: Any = None) -> Any:
        """The day's payments holding money (an amount above 0), in the run's scope (and,
        with ``keep``, a boolean series over the day's payments, among those it keeps)."""
        import polars as pl

        holding = (pl.col("holds") == 1) & (pl.col("amount_p") > 0)
        held = self.day_payments.filter(holding if keep is None else holding & keep)
        if merchant_id:
            cc = t.channel_configs.c
            billers = self.conn.execute(
                select(cc.biller_id).where(cc.channel == channel, cc.merchant_id == merchant_id)
            ).scalars()
            held = held.filter(pl.col("biller_id").is_in([int(b) for b in billers]))
        return held


def _key() -> Any:
    """The join key of :func:`_day_join`: the transaction id's 64-bit hash."""
    import polars as pl

    return pl.col("txn").hash()


def _day_join(keys: Any, payments: Any, unclean: Any) -> Any:
    """The payment and reversal lines (``keys``) left-joined with the day's payments on the
    transaction id: ``seq``, the payment's ``id`` and ``row``, and ``unclean``.

    Joined by the ids' 64-bit hashes (:func:`_key`), which is 4× cheaper than by their texts
    (a million × a million: 0.07 s against 0.30 s). It is the join by the texts whenever no
    line met a payment with another id: a line always meets its own payment (same text, same
    hash), and each payment's id is unique in the channel, so it can meet no other unless two
    ids share a hash. If any does — a collision — the join is made again by the texts."""
    import polars as pl

    columns = ("seq", "id", "row", unclean)
    # a payment met whose id is another (or none: its hash is a null's)
    other = pl.col("row").is_not_null() & pl.col("txn_p").ne_missing(pl.col("txn"))
    hashed = (
        keys.lazy()
        .with_columns(_key().alias("key"))
        .join(payments.lazy().with_columns(_key().alias("key")), on="key", how="left", suffix="_p")
        .select(*columns, other.alias("other"))
        .collect()
    )
    if not hashed.get_column("other").any():
        return hashed.drop("other")
    log.warning("two transaction ids share a hash: joined by the texts")
    return keys.lazy().join(payments.lazy(), on="txn", how="left").select(*columns).collect()


def _unclean(check_fees: bool, repeated: Any) -> Any:
    """Whether a line joined with the payment it names does not match cleanly: the SQL
    path's predicates (null where a value compared is null: taken as unclean)."""
    import polars as pl

    unclean = (
        pl.col("id").is_null()
        | (pl.col("type") != "PAYMENT")
        | (pl.col("status") != "SUCCESS")
        | (pl.col("amount_p") != pl.col("amount_fen"))
        | (pl.col("currency_p") != pl.col("currency"))
        | (pl.col("holds") == 0)
        | (pl.col("on_day") == 0)
        | repeated
    )
    return unclean | (pl.col("fee_p") != pl.col("fee_fen")) if check_fees else unclean


def _payments_by_id(conn: Connection, ids: Sequence[int]) -> list[EnginePayment]:
    """The payments with these ids, read as the SQL path reads them."""
    found: list[EnginePayment] = []
    for i in range(0, len(ids), _BY_ID):
        q = select(*_payment_columns()).where(_P.c.id.in_(ids[i : i + _BY_ID]))
        found.extend(p for p in (_payment(row) for row in conn.execute(q)) if p is not None)
    return found
