"""The back office's lists in SQL: one repository per list, every filter — the tenant's
first — a WHERE clause, every page a keyset (sort key, id) seek.

:class:`SqlLists` is the unit of work's ``lists``: ``fetch(query)`` hands the query to the
list's repository (:mod:`.bills`, :mod:`.money`, :mod:`.records`).
"""

from __future__ import annotations

from sqlalchemy import Connection

from billfold.adapters.db.listing.bills import SqlBillList, SqlChaseList
from billfold.adapters.db.listing.keyset import Fetched, ListRepository
from billfold.adapters.db.listing.money import (
    SqlOrderList,
    SqlPaymentList,
    SqlRefundList,
    SqlSuspenseList,
)
from billfold.adapters.db.listing.records import SqlAuditList, SqlDeliveryList, SqlEventList
from billfold.collection.listing import ListQuery
from billfold.errors import InvariantViolated

__all__ = ["SqlLists"]

_REPOSITORIES: dict[str, type[ListRepository]] = {
    "bills": SqlBillList,
    "chase": SqlChaseList,
    "orders": SqlOrderList,
    "payments": SqlPaymentList,
    "refunds": SqlRefundList,
    "suspense": SqlSuspenseList,
    "audit": SqlAuditList,
    "outbox_events": SqlEventList,
    "deliveries": SqlDeliveryList,
}


class SqlLists:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fetch(self, query: ListQuery) -> Fetched:
        """Up to ``query.limit`` rows, and the position of the last one when more follow."""
        repository = _REPOSITORIES.get(query.spec.name)
        if repository is None:
            raise InvariantViolated(f"no repository for the list {query.spec.name!r}")
        return repository(self.conn).fetch(query)
