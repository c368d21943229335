"""POS terminals, batches and terminal messages in the database, and a batch as the core's
own payments and refunds record it (keyed by ``terminal:batch:trace``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from billfold.adapters.db import schema as t
from billfold.adapters.db.orders import _insert
from billfold.adapters.db.schema import pos as p
from billfold.channels.pos_batch import (
    APPROVED,
    Batch,
    BatchStatus,
    PosKind,
    PosRecord,
    Terminal,
    TerminalStatus,
)
from billfold.collection.payment import PaymentStatus
from billfold.collection.refund import RefundStatus
from billfold.errors import InvariantViolated

__all__ = ["SqlPos"]

_T, _B, _M = p.pos_terminals, p.pos_batches, p.pos_messages


def _terminal(row: Row[Any]) -> Terminal:
    return Terminal(
        row.id, row.terminal_id, row.biller_id, row.sub_unit, TerminalStatus(row.status)
    )


def _batch(row: Row[Any]) -> Batch:
    return Batch(row.id, row.terminal_pk, row.batch_no, BatchStatus(row.status), row.business_date)


def _record(row: Row[Any]) -> PosRecord:
    return PosRecord(
        kind=PosKind(row.kind),
        trace_no=row.trace_no,
        amount_fen=row.amount_fen,
        outcome=row.outcome,
        message=row.message,
        order_no=row.order_no,
        payment_id=row.payment_id,
        refund_no=row.refund_no,
        original_txn=row.original_txn,
    )


class SqlPos:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._pg = conn.dialect.name == "postgresql"

    # -- terminals ---------------------------------------------------------------------
    def add_terminal(
        self, terminal_id: str, biller_id: int, sub_unit: str | None, now: datetime
    ) -> Terminal:
        self.conn.execute(
            _T.insert().values(
                terminal_id=terminal_id,
                biller_id=biller_id,
                sub_unit=sub_unit,
                status=TerminalStatus.ACTIVE.value,
                created_at=now,
                updated_at=now,
            )
        )
        found = self.terminal(terminal_id)
        if found is None:
            raise InvariantViolated("found is missing")
        return found

    def terminal(self, terminal_id: str) -> Terminal | None:
        row = self.conn.execute(select(_T).where(_T.c.terminal_id == terminal_id)).first()
        return _terminal(row) if row else None

    def terminals(self, biller_id: int | None = None) -> list[Terminal]:
        q = select(_T).order_by(_T.c.terminal_id)
        if biller_id is not None:
            q = q.where(_T.c.biller_id == biller_id)
        return [_terminal(row) for row in self.conn.execute(q)]

    def set_status(self, terminal_pk: int, status: TerminalStatus, now: datetime) -> None:
        self.conn.execute(
            update(_T).where(_T.c.id == terminal_pk).values(status=status.value, updated_at=now)
        )

    # -- batches -----------------------------------------------------------------------
    def batch(self, terminal_pk: int, batch_no: str, *, lock: bool = False) -> Batch | None:
        q = select(_B).where(_B.c.terminal_pk == terminal_pk, _B.c.batch_no == batch_no)
        if lock and self._pg:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return _batch(row) if row else None

    def open_batch(self, terminal_pk: int, batch_no: str, day: date, now: datetime) -> Batch:
        """The batch, opened now if it is new (concurrent first messages open it once)."""
        self.conn.execute(
            _insert(self.conn, _B)
            .values(
                terminal_pk=terminal_pk,
                batch_no=batch_no,
                status=BatchStatus.OPEN.value,
                business_date=day,
                opened_at=now,
            )
            .on_conflict_do_nothing(index_elements=["terminal_pk", "batch_no"])
        )
        found = self.batch(terminal_pk, batch_no)
        if found is None:
            raise InvariantViolated("found is missing")
        return found

    def close_batch(self, batch_id: int, agreed: bool, report: str, now: datetime) -> bool:
        done = self.conn.execute(
            update(_B)
            .where(_B.c.id == batch_id, _B.c.status == BatchStatus.OPEN.value)
            .values(status=BatchStatus.CLOSED.value, closed_at=now, agreed=agreed, report=report)
        ).rowcount
        return bool(done == 1)

    # -- terminal messages -------------------------------------------------------------
    def message(
        self, terminal_pk: int, batch_no: str, trace_no: str, kind: PosKind
    ) -> PosRecord | None:
        row = self.conn.execute(
            select(_M).where(
                _M.c.terminal_pk == terminal_pk,
                _M.c.batch_no == batch_no,
                _M.c.trace_no == trace_no,
                _M.c.kind == kind.value,
            )
        ).first()
        return _record(row) if row else None

    def record(self, values: dict[str, Any]) -> None:
        """Keep a message and its answer; a repeat of the same message keeps the first."""
        self.conn.execute(
            _insert(self.conn, _M)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["terminal_pk", "batch_no", "trace_no", "kind"])
        )

    def void_of(self, terminal_pk: int, batch_no: str, original_txn: str) -> PosRecord | None:
        """The approved void of a sale, if there is one."""
        row = self.conn.execute(
            select(_M).where(
                _M.c.terminal_pk == terminal_pk,
                _M.c.batch_no == batch_no,
                _M.c.kind == PosKind.VOID.value,
                _M.c.original_txn == original_txn,
                _M.c.outcome == APPROVED,
            )
        ).first()
        return _record(row) if row else None

    # -- a batch as the core's records have it ---------------------------------------------
    def batch_sales(self, prefix: str) -> list[tuple[str, bool, int]]:
        """(trace, reversed?, amount) of every payment taken under ``prefix``."""
        q = select(t.payments.c.channel_txn_id, t.payments.c.status, t.payments.c.amount_fen).where(
            t.payments.c.channel == "pos",
            t.payments.c.channel_txn_id.startswith(prefix),
            t.payments.c.amount_fen > 0,  # a reversal marker (the sale never came) is 0
        )
        return [
            (txn.rsplit(":", 1)[1], status == PaymentStatus.REVERSED.value, int(amount))
            for txn, status, amount in self.conn.execute(q)
        ]

    def batch_voids(self, terminal_pk: int, batch_no: str) -> list[tuple[str, str, int]]:
        q = select(_M.c.trace_no, _M.c.original_txn, _M.c.amount_fen).where(
            _M.c.terminal_pk == terminal_pk,
            _M.c.batch_no == batch_no,
            _M.c.kind == PosKind.VOID.value,
            _M.c.outcome == APPROVED,
        )
        return [
            (trace, (original or "").rsplit(":", 1)[-1], int(amount))
            for trace, original, amount in self.conn.execute(q)
        ]

    def batch_refunds(self, prefix: str) -> list[tuple[str, int]]:
        """(trace, amount) of refunds made at the terminal under ``prefix``."""
        q = (
            select(t.refunds.c.request_id, t.refunds.c.amount_fen)
            .join(t.payments, t.payments.c.id == t.refunds.c.payment_id)
            .where(
                t.payments.c.channel == "pos",
                t.refunds.c.request_id.startswith(prefix),
                t.refunds.c.status.in_([RefundStatus.PENDING.value, RefundStatus.SUCCEEDED.value]),
            )
        )
        return [
            (request.rsplit(":", 1)[1], int(amount)) for request, amount in self.conn.execute(q)
        ]
