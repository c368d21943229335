"""Keyset pages: order by (sort key, id), start strictly after the cursor's position, fetch
one row more than the page to know whether another page follows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Protocol

from sqlalchemy import Connection, Select, and_, false, or_
from sqlalchemy.sql.elements import ColumnElement

from billfold.clock import DEFAULT_TZ, end_of_business_day, start_of_business_day
from billfold.collection.listing import ListQuery

__all__ = ["Fetched", "ListRepository", "day_range", "keyset_fetch"]

#: The rows of a page (codes, not labels) and the position of its last row if more follow.
Fetched = tuple[list[dict[str, Any]], tuple[Any, int] | None]
Where = Callable[[Any], ColumnElement[bool]]


class ListRepository(Protocol):
    def __init__(self, conn: Connection) -> None: ...

    def fetch(self, query: ListQuery) -> Fetched: ...


def keyset_fetch(
    conn: Connection,
    query: ListQuery,
    stmt: Select[Any],
    *,
    wheres: Mapping[str, Where],
    sorts: Mapping[str, ColumnElement[Any]],
    row_id: ColumnElement[int],
    tenant: ColumnElement[Any] | None,
) -> tuple[list[Any], tuple[Any, int] | None]:
    """Run ``stmt`` with the query's filters (each a WHERE built by ``wheres[name]``), the
    tenant (``tenant == query.biller_id``; no tenant column means nothing for a biller), and
    the keyset page. Rows carry ``_k`` and ``_i`` (their sort key and id)."""
    key = sorts[query.sort_key]
    stmt = stmt.add_columns(key.label("_k"), row_id.label("_i"))
    if query.biller_id is not None:
        stmt = stmt.where(tenant == query.biller_id if tenant is not None else false())
    for name, value in query.filters.items():
        build = wheres.get(name)
        if build is not None:
            stmt = stmt.where(build(value))
    if query.after is not None:
        after_key, after_id = query.after
        if query.descending:
            stmt = stmt.where(or_(key < after_key, and_(key == after_key, row_id < after_id)))
        else:
            stmt = stmt.where(or_(key > after_key, and_(key == after_key, row_id > after_id)))
    order = (key.desc(), row_id.desc()) if query.descending else (key.asc(), row_id.asc())
    rows = conn.execute(stmt.order_by(*order).limit(query.limit + 1)).all()
    if len(rows) <= query.limit:
        return list(rows), None
    page = list(rows[: query.limit])
    return page, (page[-1]._k, int(page[-1]._i))


def day_range(column: ColumnElement[Any], first: date | None, last: date | None) -> Any:
    """``column`` (a UTC time) within business days ``first``..``last`` (Asia/Shanghai)."""
    parts = []
    if first is not None:
        parts.append(column >= start_of_business_day(first, DEFAULT_TZ))
    if last is not None:
        parts.append(column < end_of_business_day(last, DEFAULT_TZ))
    return and_(*parts)
