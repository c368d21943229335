"""Running the confirm path's writes without SQLAlchemy's per-statement machinery.

A payment confirmation is a dozen small statements, and on SQLite SQLAlchemy's per-call
work (parameter processing, execution context, events) costs more than the database does.
For the confirm path's fixed statements, a statement is compiled once per dialect from its
Core definition, then executed on the driver's own cursor — inside the transaction the unit
of work began — with values converted here exactly as SQLAlchemy's types would convert them
(UTC datetimes, dates, booleans); :func:`as_utc` and :func:`as_date` convert stored values back.

Why a second way to run SQL (STYLE 16): SQLAlchemy's own statement cache
(``compiled_cache``) is keyed by a cache key it generates from the statement's structure on
*every* execution, and then sets up an execution context and processes parameters per call;
for the confirm path's twelve small statements that work cost more than SQLite's, and halved
billfold's rate (docs/performance.md). The schema and the statements stay SQLAlchemy Core;
only their execution skips the per-call machinery.

Safe by construction: a compiled form is filed under the statement's ``id()`` *together
with a weak reference to the statement*, and is used only while that reference still points
at the statement being run. When the statement is freed its entries go with it (the weak
reference's callback), so a statement built per call — later placed at the same address —
is compiled afresh rather than handed another statement's SQL. Module-level statements (the
confirm path's) compile once per dialect and stay cached; a per-call statement is correct,
only not faster than ``conn.execute``.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, event
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.sql import ClauseElement, sqltypes

from billfold.clock import ensure_utc

__all__ = [
    "STATEMENT_HOOKS",
    "DriverResult",
    "as_date",
    "as_utc",
    "cached_statements",
    "check_later",
    "checks_pending",
    "close_pipeline",
    "insert_rows",
    "open_pipeline",
    "pipeline_of",
    "run_read",
    "run_sql",
    "run_write",
    "send_read",
]

#: (SQL, positional parameter names or ``None`` for named, constants, SQLite: the positions
#: whose values may need converting)
_Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any], tuple[int, ...]]


class _Entry:
    """The compiled forms of one live statement, per (dialect, parameter names)."""

    __slots__ = ("forms", "statement")

    def __init__(self, statement: weakref.ref[ClauseElement]) -> None:
        self.statement = statement
        self.forms: dict[tuple[str, tuple[str, ...]], _Compiled] = {}


_CACHE: dict[int, _Entry] = {}


def _forget(address: int, ref: weakref.ref[ClauseElement]) -> None:
    entry = _CACHE.get(address)
    if entry is not None and entry.statement is ref:  # not a newer statement's entry
        del _CACHE[address]


def _entry(statement: ClauseElement) -> _Entry:
    address = id(statement)
    entry = _CACHE.get(address)
    if entry is None or entry.statement() is not statement:
        ref = weakref.ref(statement, lambda dead: _forget(address, dead))
        entry = _CACHE[address] = _Entry(ref)
    return entry


def cached_statements() -> int:
    """How many statements have compiled forms cached (they are all alive)."""
    return len(_CACHE)


def _compiled(conn: Connection, statement: ClauseElement, keys: tuple[str, ...]) -> _Compiled:
    forms = _entry(statement).forms
    found = forms.get((conn.dialect.name, keys))
    if found is None:
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys))
        positions = getattr(compiled, "positiontup", None)
        order = tuple(positions) if positions is not None else None
        # values written into the statement itself (e.g. an IN list) are bind parameters too
        constants = {k: v for k, v in compiled.params.items() if k not in keys}
        convert_at: tuple[int, ...] = ()
        if order is not None:
            binds: dict[str, Any] = getattr(compiled, "binds", {})
            convert_at = tuple(
                n for n, name in enumerate(order) if not _taken_as_is(binds.get(name))
            )
        found = forms[(conn.dialect.name, keys)] = (compiled.string, order, constants, convert_at)
    return found


#: Column types whose values SQLite's driver takes as they are (ints, text): a parameter of
#: one of these types is not looked at (exact types: a TypeDecorator may convert).
_PLAIN_TYPES = frozenset(
    {sqltypes.Integer, sqltypes.BigInteger, sqltypes.SmallInteger, sqltypes.String,
     sqltypes.Text, sqltypes.Unicode, sqltypes.UnicodeText, sqltypes.Float}
)  # fmt: skip


def _taken_as_is(bind: Any) -> bool:
    return bind is not None and type(bind.type) in _PLAIN_TYPES


#: Values SQLite takes as they are (most of the confirm path's): no conversion to look for.
_AS_THEY_ARE = frozenset({str, int, float, type(None), bytes})


#: Timestamps as stored text, by value: a unit of work binds the same few instants (its
#: ``now``, the payment's time) again and again. Emptied when it grows past a few hundred.
_STAMPS: dict[datetime, str] = {}


def _sqlite_value(value: Any) -> Any:
    if type(value) in _AS_THEY_ARE:
        return value
    if isinstance(value, datetime):
        found = _STAMPS.get(value)
        if found is None:
            if len(_STAMPS) >= 256:
                _STAMPS.clear()
            found = _STAMPS[value] = ensure_utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")
        return found
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


#: Observers of the statements the fast path sends, ``hook(sql, executemany)`` — it bypasses
#: SQLAlchemy's events, so the benchmark (and anyone tracing) registers here.
STATEMENT_HOOKS: list[Callable[[str, bool], None]] = []

_ROW_TYPES: dict[tuple[str, ...], Any] = {}

#: The row type of each statement the fast path has run (``None``: it returns no rows), by
#: its SQL: psycopg builds a column object per field each time ``cursor.description`` is read
#: — for the confirm path's wide reads that cost more than fetching the rows — so it is read
#: once per statement. The statements are the fast path's compiled ones: a bounded set.
_SHAPES: dict[str, Any] = {}
_UNSEEN = object()


class DriverResult:
    """The little of a result the fast path needs, read straight off the driver's cursor.

    In a pipeline (:func:`open_pipeline`) the statement has only been queued: the result
    is fetched — with everything queued before it, in one round trip — when first read."""

    def __init__(
        self, rowcount: int, rows: list[Any], pending: tuple[Any, _Pipeline, str] | None = None
    ) -> None:
        self._rowcount = rowcount
        self._rows = rows
        self._pending = pending  # (cursor, pipeline, sql) until the result is fetched

    def _settle(self) -> None:
        if self._pending is not None:
            cursor, pipeline, sql = self._pending
            if pipeline.open and cursor.pgresult is None:  # not received yet
                pipeline.sync()
            self._pending = None
            self._rowcount, self._rows = _collect(cursor, sql)

    @property
    def rowcount(self) -> int:
        self._settle()
        return self._rowcount

    @property
    def rows(self) -> list[Any]:
        self._settle()
        return self._rows

    def scalar_one_or_none(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        if len(self.rows) != 1:
            raise RuntimeError(f"expected one row, got {len(self.rows)}")
        return self.rows[0][0]


def _row_type(cursor: Any) -> Any:
    """The namedtuple type for the cursor's result, ``None`` when it returns no rows."""
    description = cursor.description
    if description is None:
        return None
    names = tuple(d[0] for d in description)
    found = _ROW_TYPES.get(names)
    if found is None:
        found = _ROW_TYPES[names] = namedtuple("Row", names, rename=True)
    return found


def _collect(cursor: Any, sql: str) -> tuple[int, list[Any]]:
    try:
        row_type = _SHAPES.get(sql, _UNSEEN)
        if row_type is _UNSEEN:
            row_type = _SHAPES[sql] = _row_type(cursor)
        rows: list[Any] = []
        if row_type is not None:
            rows = [row_type._make(r) for r in cursor.fetchall()]
        return cursor.rowcount, rows
    finally:
        cursor.close()


class _Pipeline:
    """A PostgreSQL connection in pipeline mode (psycopg): statements are queued and sent
    together; the round trip happens when a result is read (:meth:`sync`), and the checks
    deferred to it (:func:`check_later`) run right after."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self._context = driver.pipeline()
        self._handle = self._context.__enter__()
        self.checks: list[Callable[[], None]] = []
        self.open = True

    def sync(self) -> None:
        self._handle.sync()
        checks, self.checks = self.checks, []
        for check in checks:
            check()

    def close(self, *, discard: bool = False) -> None:
        """Leave pipeline mode, receiving what is still queued (one last round trip). With
        ``discard`` (the transaction is being abandoned) errors and checks are dropped."""
        if not self.open:
            return
        self.open = False
        _PIPELINES.pop(id(self.driver), None)
        checks, self.checks = self.checks, []
        if not discard:
            self._context.__exit__(None, None, None)
            for check in checks:
                check()
            return
        # psycopg logs what leaving raises instead of our error; the connection may be gone:
        # the transaction is rolled back, or lost, either way
        with contextlib.suppress(Exception):
            self._context.__exit__(_Abandoned, _Abandoned(), None)


class _Abandoned(Exception):
    """The transaction is being rolled back: what leaving its pipeline raises is moot."""


#: The open pipelines, by the id of their driver connection (one at a time per connection).
_PIPELINES: dict[int, _Pipeline] = {}


def _driver(conn: Connection) -> Any:
    return conn.connection.driver_connection


@functools.cache
def _pipelines_supported() -> bool:
    """psycopg's libpq has pipeline mode (libpq 14 or later); statement by statement if not."""
    import psycopg

    return bool(psycopg.Pipeline.is_supported())


def open_pipeline(conn: Connection) -> _Pipeline | None:
    """PostgreSQL: put the connection's fast-path statements in a pipeline until
    :func:`close_pipeline` (or until a statement goes through SQLAlchemy, which closes it
    first: see :func:`_leave_pipeline`). Elsewhere nothing happens (``None``)."""
    if conn.dialect.name != "postgresql" or not _pipelines_supported():
        return None
    driver = _driver(conn)
    found = _PIPELINES.get(id(driver))
    if found is None:
        found = _PIPELINES[id(driver)] = _Pipeline(driver)
    return found


def pipeline_of(conn: Connection) -> _Pipeline | None:
    if not _PIPELINES:
        return None
    return _PIPELINES.get(id(_driver(conn)))


def close_pipeline(conn: Connection, *, discard: bool = False) -> None:
    """Leave the connection's pipeline, if it has one (what is queued is sent and
    received; with ``discard`` errors and pending checks are dropped)."""
    if not _PIPELINES:
        return
    pipeline = _PIPELINES.get(id(_driver(conn)))
    if pipeline is not None:
        pipeline.close(discard=discard)


def check_later(conn: Connection, check: Callable[[], None]) -> None:
    """Run ``check`` (which reads a queued statement's result and raises if it is wrong)
    when the pipeline next synchronizes — at the latest before the transaction commits —
    or at once when there is no pipeline."""
    pipeline = pipeline_of(conn)
    if pipeline is None:
        check()
    else:
        pipeline.checks.append(check)


def checks_pending(conn: Connection) -> bool:
    pipeline = pipeline_of(conn)
    return pipeline is not None and bool(pipeline.checks)


@event.listens_for(SqlEngine, "before_cursor_execute")
def _leave_pipeline(conn: Connection, *_args: Any) -> None:
    """A statement SQLAlchemy runs reads its result at once: the pipeline (if any) is
    closed first, and the rest of the transaction runs statement by statement."""
    if _PIPELINES:
        close_pipeline(conn)


def _execute(conn: Connection, sql: str, values: Any, many: bool) -> DriverResult:
    for hook in STATEMENT_HOOKS:
        hook(sql, many)
    # the driver's own connection, inside the transaction SQLAlchemy began on it
    driver = _driver(conn)
    cursor = driver.cursor()
    pipeline = _PIPELINES.get(id(driver)) if _PIPELINES else None
    if pipeline is not None:  # queued: fetched when first read
        try:
            if many:
                cursor.executemany(sql, values)
            else:
                cursor.execute(sql, values)
        except BaseException:
            cursor.close()
            raise
        return DriverResult(-1, [], (cursor, pipeline, sql))
    if many:
        try:
            cursor.executemany(sql, values)
            return DriverResult(cursor.rowcount, [])
        finally:
            cursor.close()
    cursor.execute(sql, values)
    return DriverResult(*_collect(cursor, sql))


def _prepare(
    conn: Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]
) -> tuple[str, list[Any]]:
    keys = tuple(sorted(rows[0]))
    sql, order, constants, convert_at = _compiled(conn, statement, keys)
    if order is not None:  # positional paramstyle (SQLite): values in the compiled order,
        # those of types SQLite does not take as they are (times, dates, booleans) converted
        convert = _sqlite_value
        prepared: list[Any] = []
        for row in rows:
            values = [row[name] if name in row else constants[name] for name in order]
            for n in convert_at:
                values[n] = convert(values[n])
            prepared.append(values)
    else:  # named paramstyle (psycopg)
        prepared = [{**constants, **row} for row in rows]
    return sql, prepared


def run_write(
    conn: Connection,
    statement: ClauseElement,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> DriverResult:
    """Execute an INSERT/UPDATE with one parameter mapping, or many (executemany). Every
    mapping must have the same keys. Build the statement once (module level): only then is
    its compiled form reused."""
    if isinstance(params, Mapping):
        sql, prepared = _prepare(conn, statement, [params])
        return _execute(conn, sql, prepared[0], many=False)
    sql, prepared = _prepare(conn, statement, list(params))
    return _execute(conn, sql, prepared, many=True)


#: Rows written by one multi-row INSERT at most (more go in several): each row count is a
#: statement of its own to compile, and for the server to prepare.
MULTI_ROW_LIMIT = 16


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (every one with the same keys) into ``table``. On PostgreSQL one
    multi-row ``INSERT … VALUES (…), (…)`` per :data:`MULTI_ROW_LIMIT` rows — in a pipeline
    each statement costs the client and the server a parse-bind-execute of its own, so one
    statement instead of one per row; elsewhere an executemany (SQLite's is one prepared
    statement run per row, as cheap)."""
    if not rows:
        return
    keys = tuple(sorted(rows[0]))
    if conn.dialect.name != "postgresql":
        run_write(conn, _plain_insert(table), rows)
        return
    for start in range(0, len(rows), MULTI_ROW_LIMIT):
        chunk = rows[start : start + MULTI_ROW_LIMIT]
        sql = _multi_row_sql(conn, table, keys, len(chunk))
        values = {f"{key}__{i}": row[key] for i, row in enumerate(chunk) for key in keys}
        _execute(conn, sql, values, many=False)


@functools.cache
def _plain_insert(table: Table) -> ClauseElement:
    return table.insert().inline()


@functools.cache
def _multi_row_insert(table: Table, keys: tuple[str, ...], count: int) -> ClauseElement:
    return table.insert().values(
        [{key: bindparam(f"{key}__{i}") for key in keys} for i in range(count)]
    )


def _multi_row_sql(conn: Connection, table: Table, keys: tuple[str, ...], count: int) -> str:
    statement = _multi_row_insert(table, keys, count)  # cached: compiled once per dialect
    return _compiled(conn, statement, ())[0]


def run_read(conn: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
    """Execute a pre-built SELECT whose parameters are all plain values; rows come back as
    the driver gives them (on SQLite, dates and times as text: see :func:`as_utc`)."""
    return send_read(conn, statement, params).rows


def send_read(
    conn: Connection, statement: ClauseElement, params: Mapping[str, Any]
) -> DriverResult:
    """:func:`run_read`, the rows read when wanted: in a pipeline, reads sent one after
    the other and read afterwards share one round trip."""
    sql, prepared = _prepare(conn, statement, [params])
    return _execute(conn, sql, prepared[0], many=False)


def run_sql(conn: Connection, sql: str) -> DriverResult:
    """A fixed statement without parameters (``COMMIT`` queued in a pipeline)."""
    return _execute(conn, sql, (), many=False)


def as_utc(value: Any) -> datetime | None:
    """A stored timestamp as an aware UTC datetime (SQLite gives text, PostgreSQL datetimes)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return ensure_utc(value)


def as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)
