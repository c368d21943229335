"""Running the confirm path's writes without SQLAlchemy's per-statement machinery.

A payment confirmation is a dozen small statements, and on SQLite SQLAlchemy's per-call
work (parameter processing, execution context, events) costs more than the database does.
For the writes — whose parameters billfold builds itself — a statement is compiled once per
dialect with its column keys, and then sent through ``exec_driver_sql`` with values converted
here exactly as SQLAlchemy's types would convert them (UTC datetimes, dates, booleans).
Reads keep going through Core, which turns stored values back into Python ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import ClauseElement

from billfold.clock import ensure_utc

__all__ = ["as_date", "as_utc", "run_read", "run_write"]

_Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any]]
_CACHE: dict[tuple[int, str, tuple[str, ...]], _Compiled] = {}


def _compiled(conn: Connection, statement: ClauseElement, keys: tuple[str, ...]) -> _Compiled:
    cache_key = (id(statement), conn.dialect.name, keys)
    found = _CACHE.get(cache_key)
    if found is None:
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys))
        positions = getattr(compiled, "positiontup", None)
        order = tuple(positions) if positions is not None else None
        # values written into the statement itself (e.g. an IN list) are bind parameters too
        constants = {k: v for k, v in compiled.params.items() if k not in keys}
        found = (compiled.string, order, constants)
        _CACHE[cache_key] = found
    return found


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return ensure_utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def run_write(
    conn: Connection,
    statement: ClauseElement,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> CursorResult[Any]:
    """Execute a pre-built INSERT/UPDATE (module-level, so its identity is stable) with one
    parameter mapping, or many (executemany). Every mapping must have the same keys."""
    rows = [params] if isinstance(params, Mapping) else list(params)
    keys = tuple(sorted(rows[0]))
    sql, order, constants = _compiled(conn, statement, keys)
    sqlite = conn.dialect.name == "sqlite"
    if order is not None:  # positional paramstyle (SQLite): values in the compiled order
        prepared: list[Any] = [
            tuple(
                _sqlite_value(row[name] if name in row else constants[name])
                if sqlite
                else (row[name] if name in row else constants[name])
                for name in order
            )
            for row in rows
        ]
    else:  # named paramstyle (psycopg)
        prepared = [{**constants, **row} for row in rows]
    if isinstance(params, Mapping):
        return conn.exec_driver_sql(sql, prepared[0])
    return conn.exec_driver_sql(sql, prepared)


def run_read(conn: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
    """Execute a pre-built SELECT whose parameters are all plain values; rows come back as
    the driver gives them (on SQLite, dates and times as text: see :func:`as_utc`)."""
    keys = tuple(sorted(params))
    sql, order, constants = _compiled(conn, statement, keys)
    if order is not None:
        values: Any = tuple(
            _sqlite_value(params[name] if name in params else constants[name]) for name in order
        )
    else:
        values = {**constants, **params}
    return list(conn.exec_driver_sql(sql, values).all())


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
