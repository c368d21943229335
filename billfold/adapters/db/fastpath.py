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

import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement

from billfold.clock import ensure_utc

__all__ = [
    "STATEMENT_HOOKS",
    "DriverResult",
    "as_date",
    "as_utc",
    "cached_statements",
    "run_read",
    "run_write",
]

_Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any]]


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
        found = forms[(conn.dialect.name, keys)] = (compiled.string, order, constants)
    return found


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return ensure_utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


#: Observers of the statements the fast path sends, ``hook(sql, executemany)`` — it bypasses
#: SQLAlchemy's events, so the benchmark (and anyone tracing) registers here.
STATEMENT_HOOKS: list[Callable[[str, bool], None]] = []

_ROW_TYPES: dict[tuple[str, ...], Any] = {}


class DriverResult:
    """The little of a result the fast path needs, read straight off the driver's cursor."""

    def __init__(self, rowcount: int, rows: list[Any]) -> None:
        self.rowcount = rowcount
        self.rows = rows

    def scalar_one_or_none(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        if len(self.rows) != 1:
            raise RuntimeError(f"expected one row, got {len(self.rows)}")
        return self.rows[0][0]


def _execute(conn: Connection, sql: str, values: Any, many: bool) -> DriverResult:
    for hook in STATEMENT_HOOKS:
        hook(sql, many)
    # the driver's own connection, inside the transaction SQLAlchemy began on it
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, values)
            return DriverResult(cursor.rowcount, [])
        cursor.execute(sql, values)
        rows: list[Any] = []
        if cursor.description is not None:
            names = tuple(d[0] for d in cursor.description)
            row_type: Any = _ROW_TYPES.get(names)
            if row_type is None:
                row_type = _ROW_TYPES[names] = namedtuple("Row", names, rename=True)
            rows = [row_type._make(r) for r in cursor.fetchall()]
        return DriverResult(cursor.rowcount, rows)
    finally:
        cursor.close()


def _prepare(
    conn: Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]
) -> tuple[str, list[Any]]:
    keys = tuple(sorted(rows[0]))
    sql, order, constants = _compiled(conn, statement, keys)
    if order is not None:  # positional paramstyle (SQLite): values in the compiled order
        prepared: list[Any] = [
            tuple(_sqlite_value(row[name] if name in row else constants[name]) for name in order)
            for row in rows
        ]
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


def run_read(conn: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
    """Execute a pre-built SELECT whose parameters are all plain values; rows come back as
    the driver gives them (on SQLite, dates and times as text: see :func:`as_utc`)."""
    sql, prepared = _prepare(conn, statement, [params])
    return _execute(conn, sql, prepared[0], many=False).rows


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
