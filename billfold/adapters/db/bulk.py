"""Writing many rows of one table at once: a bill import's payers, bills and items; and
looking many keys up at once (:func:`among`).

A statement (an ``INSERT`` built once, at module level) is compiled once per dialect and
run with ``executemany`` on the driver's own cursor, inside the transaction the unit of
work began. On SQLite the values are converted here as SQLAlchemy's types would store them
(UTC timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff``, dates ISO, booleans 0/1) — only the
columns of those types, looked up once per statement; psycopg adapts Python values itself.

On PostgreSQL the rows that should all be new (an import's bills and items, a
reconciliation's discrepancies) go by ``COPY … FROM STDIN`` instead, falling back to the
executemany when a row collides.

Why a second way to run SQL (STYLE 16): SQLAlchemy's ``executemany`` (and insertmanyvalues)
processes every parameter of every row through its type machinery; for an import of
200,000 bills of 25 columns that cost several times what SQLite spends storing the rows
(docs/bill-import.md). :mod:`billfold.adapters.db.fastpath` does the same for the confirm
path's small statements, converting every value; here only the few columns that need it
are converted, which matters at this volume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ARRAY, Boolean, ColumnElement, Connection, Date, DateTime, any_, bindparam
from sqlalchemy.sql.dml import Insert

from billfold.clock import ensure_utc

__all__ = ["IN_CHUNK", "among", "dialect_insert", "insert_many"]

_Convert = Callable[[Any], Any]
_Compiled = tuple[str, tuple[str, ...], list[tuple[int, _Convert]]]
_COMPILED: dict[tuple[int, str, tuple[str, ...]], _Compiled] = {}


def _timestamp() -> _Convert:
    last: list[Any] = [None, None]  # an import stamps every row with the same instant

    def convert(value: datetime | None) -> str | None:
        if value is None:
            return None
        if value is not last[0]:
            last[0], last[1] = value, ensure_utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")
        text: str = last[1]
        return text

    return convert


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _converter(column_type: Any) -> _Convert | None:
    if isinstance(column_type, DateTime) or isinstance(
        getattr(column_type, "impl", None), DateTime
    ):
        return _timestamp()
    if isinstance(column_type, Date):
        return _day
    if isinstance(column_type, Boolean):
        return _flag
    return None


def _compiled(conn: Connection, statement: Insert, keys: tuple[str, ...]) -> _Compiled:
    """The SQL of ``statement`` for these keys and (SQLite) the order its parameters take
    and which of them to convert.
    Statements are module-level constants: their ``id()`` stays theirs."""
    cache_key = (id(statement), conn.dialect.name, keys)
    found = _COMPILED.get(cache_key)
    if found is None:
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys))
        positions = getattr(compiled, "positiontup", None)
        order = tuple(positions) if positions is not None else keys
        converts: list[tuple[int, _Convert]] = []
        if positions is not None:
            columns = statement.table.c
            for position, name in enumerate(order):
                convert = _converter(columns[name].type)
                if convert is not None:
                    converts.append((position, convert))
        found = _COMPILED[cache_key] = (compiled.string, order, converts)
    return found


def insert_many(
    conn: Connection, statement: Insert, rows: Sequence[Mapping[str, Any]], *, copy: bool = False
) -> None:
    """Run ``statement`` once per row (executemany). Every row has the same keys, each a
    column of the statement's table.

    ``copy``: on PostgreSQL, first try ``COPY … FROM STDIN`` of the rows in a savepoint —
    for rows that are not expected to collide with stored ones (an import's new bills,
    checked just before, and their items). If one does collide (a unique key taken
    meanwhile), the savepoint is rolled back and ``statement`` runs as above (its ON CONFLICT
    clause decides)."""
    if not rows:
        return
    if copy and conn.dialect.name == "postgresql":
        savepoint = conn.begin_nested()
        try:
            _copy(conn, statement, rows)
        except conn.dialect.dbapi.IntegrityError:  # type: ignore[union-attr]
            savepoint.rollback()
        else:
            savepoint.commit()
            return
    keys = tuple(rows[0])
    sql, order, converts = _compiled(conn, statement, keys)
    values: list[Any]
    if conn.dialect.paramstyle == "qmark":  # SQLite: tuples in the compiled order
        values = []
        for row in rows:
            line = [row[name] for name in order]
            for position, convert in converts:
                line[position] = convert(line[position])
            values.append(line)
    else:  # psycopg: named parameters, adapted by the driver
        values = list(rows)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, values)
    finally:
        cursor.close()


def _copy(conn: Connection, statement: Insert, rows: Sequence[Mapping[str, Any]]) -> None:
    """The rows by ``COPY``, each value of a column whose type binds it (a UTC timestamp, a
    boolean) bound as SQLAlchemy would bind it in an ``INSERT``; the others as they are."""
    table = statement.table
    keys = tuple(rows[0])
    binds = [
        (position, bind)
        for position, key in enumerate(keys)
        if (bind := table.c[key].type.bind_processor(conn.dialect)) is not None
    ]
    columns = ", ".join(f'"{key}"' for key in keys)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                line = [row[key] for key in keys]
                for position, bind in binds:
                    line[position] = bind(line[position])
                copy.write_row(line)
    finally:
        cursor.close()


def dialect_insert(dialect: str) -> Callable[..., Any]:
    """``insert`` of ``dialect``, the one with ``ON CONFLICT`` clauses: PostgreSQL's, else
    SQLite's. Its module is imported when first asked for: a process on SQLite never
    imports PostgreSQL's dialect (~0.02 s of CPU on a command's start)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


#: How many values one ``IN (…)`` carries (well under SQLite's 32,766 parameters).
IN_CHUNK = 2000


def among(
    conn: Connection, column: ColumnElement[Any], values: Sequence[Any]
) -> Iterator[ColumnElement[bool]]:
    """Conditions ``column IN values``, to run one statement each, as few as the database
    allows. On PostgreSQL one, ``column = ANY(:values)`` with the values as one array
    parameter: the statement's text is the same whatever the values, so SQLAlchemy compiles
    it once and psycopg prepares it; an ``IN`` of 2,000 parameters is rendered value by
    value on every run, and its text is too long for psycopg's cache of parsed queries
    (an import of 200,000 bills spent seconds on it). Elsewhere ``IN (…)`` of at most
    :data:`IN_CHUNK` values each."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        yield column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
        return
    for start in range(0, len(values), IN_CHUNK):
        yield column.in_(values[start : start + IN_CHUNK])
