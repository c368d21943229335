"""The SQL unit of work: one connection, one transaction, every repository on it.

``with uow: ...; uow.commit()`` — leaving the block without commit rolls back.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from billfold.adapters.sql.billers import SqlBillers, SqlPayers
from billfold.adapters.sql.bills import SqlBills
from billfold.adapters.sql.channels import SqlChannels
from billfold.adapters.sql.ledger import SqlAudit, SqlJournal, SqlOutbox
from billfold.adapters.sql.orders import SqlOrders, SqlPayments, SqlRefunds


class SqlUnitOfWork:
    billers: SqlBillers
    payers: SqlPayers
    bills: SqlBills
    orders: SqlOrders
    payments: SqlPayments
    refunds: SqlRefunds
    journal: SqlJournal
    outbox: SqlOutbox
    audit: SqlAudit
    channels: SqlChannels

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside its 'with' block")
        return self._conn

    def __enter__(self) -> Self:
        conn = self.engine.connect()
        conn.begin()
        self._conn = conn
        self.billers = SqlBillers(conn)
        self.payers = SqlPayers(conn)
        self.bills = SqlBills(conn)
        self.orders = SqlOrders(conn)
        self.payments = SqlPayments(conn)
        self.refunds = SqlRefunds(conn)
        self.journal = SqlJournal(conn)
        self.outbox = SqlOutbox(conn)
        self.audit = SqlAudit(conn)
        self.channels = SqlChannels(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        self._conn = None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()

    def commit(self) -> None:
        self.outbox.flush()
        self.conn.commit()

    def rollback(self) -> None:
        self.outbox.discard()
        self.conn.rollback()
