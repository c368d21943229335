"""The SQL unit of work: one connection, one transaction, every repository on it.

``with uow: ...; uow.commit()`` — leaving the block without commit rolls back. Every
repository is made on its first use in the block, its module imported then: the core ones
(``billers`` … ``channels``), so that a command reading billers imports neither the bills'
nor the journal's repository; and those of the settlement desks, scenario packs and the
journal's chains (``recon``, ``settlement``, ``presale``, ``gov``, ``daybook``,
``mandates``, ``pos``, ``chains``, the back office's ``lists``, the maker-checker's
``approvals``, the bank-transfer refunds' ``refund_transfers``, the complaints desk's
``complaints``, and the settlement desks' statement staging ``statements``, a bill's
``timeline``), so that the confirmation path pays nothing for them.

:meth:`SqlUnitOfWork.savepoint` nests a unit of work in an open one (a ``SAVEPOINT``): a
collection use case run on it commits into the outer transaction, so that moving money and
recording why (a discrepancy resolved) commit, or fail, as one.
"""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy import Connection, Engine, NestedTransaction

from billfold.adapters.db.fastpath import close_pipeline, open_pipeline, pipeline_of, run_sql
from billfold.adapters.db.liveness import ATTEMPT, connection_died

if TYPE_CHECKING:  # the repositories made on first use: imported then
    from billfold.adapters.db.approvals import SqlApprovals
    from billfold.adapters.db.billers import SqlBillers, SqlPayers
    from billfold.adapters.db.bills import SqlBills
    from billfold.adapters.db.channels import SqlChannels
    from billfold.adapters.db.complaints import SqlComplaints
    from billfold.adapters.db.daybook import SqlDaybook
    from billfold.adapters.db.gov import SqlGov
    from billfold.adapters.db.journal_chain import SqlChains
    from billfold.adapters.db.ledger import SqlAudit, SqlJournal, SqlOutbox
    from billfold.adapters.db.listing import SqlLists
    from billfold.adapters.db.mandates import SqlMandates
    from billfold.adapters.db.orders import SqlOrders, SqlPayments, SqlRefunds
    from billfold.adapters.db.pos import SqlPos
    from billfold.adapters.db.presale import SqlPresale
    from billfold.adapters.db.recon import SqlRecon
    from billfold.adapters.db.refund_transfers import SqlRefundTransfers
    from billfold.adapters.db.settlement import SqlSettlement
    from billfold.adapters.db.statement_ingest import SqlStatements
    from billfold.adapters.db.timeline import SqlTimeline
    from billfold.collection.ports import ConfirmationReads


class SqlUnitOfWork:
    _pipelined = True  # PostgreSQL: the confirm path's statements share round trips

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
        return self

    # -- the core repositories, made on first use too (a command reading billers imports
    # neither the bills' nor the journal's repository) ---------------------------------------
    @cached_property
    def billers(self) -> SqlBillers:
        from billfold.adapters.db.billers import SqlBillers

        return SqlBillers(self.conn)

    @cached_property
    def payers(self) -> SqlPayers:
        from billfold.adapters.db.billers import SqlPayers

        return SqlPayers(self.conn)

    @cached_property
    def bills(self) -> SqlBills:
        from billfold.adapters.db.bills import SqlBills

        return SqlBills(self.conn)

    @cached_property
    def orders(self) -> SqlOrders:
        from billfold.adapters.db.orders import SqlOrders

        return SqlOrders(self.conn)

    @cached_property
    def payments(self) -> SqlPayments:
        from billfold.adapters.db.orders import SqlPayments

        return SqlPayments(self.conn)

    @cached_property
    def refunds(self) -> SqlRefunds:
        from billfold.adapters.db.orders import SqlRefunds

        return SqlRefunds(self.conn)

    @cached_property
    def journal(self) -> SqlJournal:
        from billfold.adapters.db.ledger import SqlJournal

        return SqlJournal(self.conn)

    @cached_property
    def outbox(self) -> SqlOutbox:
        from billfold.adapters.db.ledger import SqlOutbox

        return SqlOutbox(self.conn)

    @cached_property
    def audit(self) -> SqlAudit:
        from billfold.adapters.db.ledger import SqlAudit

        return SqlAudit(self.conn)

    @cached_property
    def channels(self) -> SqlChannels:
        from billfold.adapters.db.channels import SqlChannels

        return SqlChannels(self.conn)

    # -- repositories made on first use (cleared when the block closes) ------------------------
    @cached_property
    def recon(self) -> SqlRecon:
        from billfold.adapters.db.recon import SqlRecon

        return SqlRecon(self.conn)

    @cached_property
    def settlement(self) -> SqlSettlement:
        from billfold.adapters.db.settlement import SqlSettlement

        return SqlSettlement(self.conn)

    @cached_property
    def statements(self) -> SqlStatements:
        from billfold.adapters.db.statement_ingest import SqlStatements

        return SqlStatements(self.conn)

    @cached_property
    def presale(self) -> SqlPresale:
        from billfold.adapters.db.presale import SqlPresale

        return SqlPresale(self.conn)

    @cached_property
    def gov(self) -> SqlGov:
        from billfold.adapters.db.gov import SqlGov

        return SqlGov(self.conn)

    @cached_property
    def daybook(self) -> SqlDaybook:
        from billfold.adapters.db.daybook import SqlDaybook

        return SqlDaybook(self.conn)

    @cached_property
    def mandates(self) -> SqlMandates:
        from billfold.adapters.db.mandates import SqlMandates

        return SqlMandates(self.conn)

    @cached_property
    def pos(self) -> SqlPos:
        from billfold.adapters.db.pos import SqlPos

        return SqlPos(self.conn)

    @cached_property
    def lists(self) -> SqlLists:
        from billfold.adapters.db.listing import SqlLists

        return SqlLists(self.conn)

    @cached_property
    def approvals(self) -> SqlApprovals:
        from billfold.adapters.db.approvals import SqlApprovals

        return SqlApprovals(self.conn)

    @cached_property
    def refund_transfers(self) -> SqlRefundTransfers:
        from billfold.adapters.db.refund_transfers import SqlRefundTransfers

        return SqlRefundTransfers(self.conn)

    @cached_property
    def complaints(self) -> SqlComplaints:
        from billfold.adapters.db.complaints import SqlComplaints

        return SqlComplaints(self.conn)

    @cached_property
    def chains(self) -> SqlChains:
        from billfold.adapters.db.journal_chain import SqlChains

        return SqlChains(self.conn)

    @cached_property
    def timeline(self) -> SqlTimeline:
        from billfold.adapters.db.timeline import SqlTimeline

        return SqlTimeline(self.conn)

    def _flush_outbox(self) -> None:
        outbox = self.__dict__.get("outbox")  # none made: no event to write
        if outbox is not None:
            outbox.flush()

    def _discard_outbox(self) -> None:
        outbox = self.__dict__.get("outbox")
        if outbox is not None:
            outbox.discard()

    def _forget_lazy(self) -> None:
        made = self.__dict__
        for name in _LAZY.intersection(made):
            del made[name]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        self._conn = None
        self._forget_lazy()
        if conn is None:
            return
        attempt = ATTEMPT.get()
        if attempt is not None and exc_type is not None and connection_died(conn, exc):
            attempt.dead = True
        try:
            close_pipeline(conn, discard=True)
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()

    def commit(self) -> None:
        self._flush_outbox()
        conn = self.conn
        attempt = ATTEMPT.get()
        if attempt is not None:
            attempt.committing = True
        pipeline = pipeline_of(conn)
        if pipeline is not None:  # the queued writes and COMMIT: one round trip
            if pipeline.checks:  # a queued write's result to check before committing
                pipeline.sync()
            run_sql(conn, "COMMIT")
            pipeline.close()
        conn.commit()

    def rollback(self) -> None:
        self._discard_outbox()
        close_pipeline(self.conn, discard=True)
        self.conn.rollback()

    def confirmation_reads(
        self, channel: str, channel_txn_id: str, order_no: str
    ) -> ConfirmationReads:
        """The payment if ``(channel, channel_txn_id)`` was seen, else the order (locked),
        its biller's fee context and its bills (locked). On PostgreSQL the four reads go
        in one round trip with the transaction's BEGIN (a pipeline, kept until the unit of
        work commits or rolls back: the confirmation's writes share round trips too);
        elsewhere one after the other, the repeat answered after the first."""
        from billfold.collection.ports import ConfirmationReads

        if self._pipelined and open_pipeline(self.conn) is not None:
            found = self.payments.send_find(channel, channel_txn_id)
            order_rows = self.orders.send_by_no(order_no)
            context_rows = self.billers.send_fee_context(order_no, channel)
            bill_rows = self.bills.send_for_order_no(order_no)
            seen = self.payments.record_of(found.rows)  # the round trip
            order = self.orders.from_rows(order_rows.rows)
            context = self.billers.fee_context_of(context_rows.rows, channel)
            bills = self.bills.of_rows(bill_rows.rows) if order is not None else []
            return ConfirmationReads(seen, order, context, bills)
        seen = self.payments.find(channel, channel_txn_id)
        if seen is not None:
            return ConfirmationReads(seen, None, None, [])
        order = self.orders.get_by_no(order_no, lock=True)
        context = self.billers.fee_context(order.biller_id, channel) if order else None
        bills = self.bills.for_order(order.id, lock=True) if order and order.id else []
        return ConfirmationReads(seen, order, context, bills)

    def savepoint(self) -> SqlSavepoint:
        """A unit of work nested in this one's open transaction (see the module docs)."""
        return SqlSavepoint(self)


# the repositories made on first use: every cached property of the unit of work
_LAZY = frozenset(n for n, v in vars(SqlUnitOfWork).items() if isinstance(v, cached_property))


class SqlSavepoint(SqlUnitOfWork):
    """A unit of work inside another's transaction: ``with`` opens a ``SAVEPOINT``,
    :meth:`commit` releases it (the work waits for the outer commit), :meth:`rollback` or
    leaving the block without commit rolls back to it. Its repositories are its own (its
    outbox events are written when it commits, dropped when it rolls back)."""

    _pipelined = False  # statement by statement inside the outer transaction

    def __init__(self, outer: SqlUnitOfWork) -> None:
        super().__init__(outer.engine)
        self._outer = outer
        self._nested: NestedTransaction | None = None

    def __enter__(self) -> Self:
        conn = self._outer.conn
        self._nested = conn.begin_nested()
        self._conn = conn
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        nested, self._nested = self._nested, None
        self._conn = None
        self._forget_lazy()
        if nested is not None and nested.is_active:
            nested.rollback()

    def commit(self) -> None:
        self._flush_outbox()
        if self._nested is not None and self._nested.is_active:
            self._nested.commit()

    def rollback(self) -> None:
        self._discard_outbox()
        if self._nested is not None and self._nested.is_active:
            self._nested.rollback()
