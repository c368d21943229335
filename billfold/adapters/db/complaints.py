"""Complaints and the billers' turnaround times, in the database.

A complaint moves by a conditional UPDATE (``WHERE status = :expected``), so two clerks acting
at once cannot both move it; lists filter by biller, state and due time in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from billfold.adapters.db import schema as t
from billfold.adapters.db.fastpath import as_utc
from billfold.adapters.db.schema import queues as qt
from billfold.errors import InvariantViolated
from billfold.settlement.complaint import (
    OPEN_STATES,
    Answer,
    Complaint,
    ComplaintKind,
    ComplaintSource,
    ComplaintStatus,
)

__all__ = ["SqlComplaints"]

_C = qt.complaints.c
_SELECT = (
    select(
        qt.complaints,
        t.billers.c.code.label("biller_code"),
        t.bills.c.bill_no,
        t.orders.c.order_no,
    )
    .select_from(
        qt.complaints.join(t.billers, t.billers.c.id == _C.biller_id)
        .outerjoin(t.bills, t.bills.c.id == _C.bill_id)
        .outerjoin(t.orders, t.orders.c.id == _C.order_id)
    )
    .order_by(_C.id)
)


def _required(value: Any) -> datetime:
    found = as_utc(value)
    if found is None:
        raise InvariantViolated("a complaint's timestamp is missing")
    return found


def _record(row: Row[Any]) -> Complaint:
    return Complaint(
        id=row.id,
        complaint_no=row.complaint_no,
        biller_id=row.biller_id,
        biller_code=row.biller_code,
        kind=ComplaintKind(row.kind),
        status=ComplaintStatus(row.status),
        source=ComplaintSource(row.source),
        bill_id=row.bill_id,
        bill_no=row.bill_no,
        order_no=row.order_no,
        payment_id=row.payment_id,
        channel_ref=row.channel_ref,
        description=row.description,
        opened_by=row.opened_by,
        assigned_to=row.assigned_to,
        answer=Answer(row.answer) if row.answer else None,
        resolution=row.resolution,
        refund_no=row.refund_no,
        due_at=_required(row.due_at),
        created_at=_required(row.created_at),
        updated_at=_required(row.updated_at),
        closed_at=as_utc(row.closed_at),
        reopened=row.reopened,
    )


class SqlComplaints:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, values: dict[str, Any]) -> int:
        found = self.conn.execute(
            qt.complaints.insert().values(**values).returning(_C.id)
        ).scalar_one()
        return int(found)

    def get(self, complaint_no: str, *, lock: bool = False) -> Complaint | None:
        q = _SELECT.where(_C.complaint_no == complaint_no)
        if lock and self.conn.dialect.name == "postgresql":
            q = q.with_for_update(of=qt.complaints)
        row = self.conn.execute(q).first()
        return _record(row) if row is not None else None

    def transition(
        self,
        complaint_id: int,
        expected: ComplaintStatus,
        new: ComplaintStatus,
        **values: Any,
    ) -> bool:
        done = self.conn.execute(
            update(qt.complaints)
            .where(_C.id == complaint_id, _C.status == expected.value)
            .values(status=new.value, **values)
        ).rowcount
        return bool(done == 1)

    def note(self, complaint_id: int, **values: Any) -> None:
        self.conn.execute(update(qt.complaints).where(_C.id == complaint_id).values(**values))

    def listing(
        self,
        *,
        biller_ids: Sequence[int] | None = None,
        statuses: Sequence[ComplaintStatus] | None = None,
        overdue_at: datetime | None = None,
        bill_id: int | None = None,
        limit: int = 500,
    ) -> list[Complaint]:
        q = _SELECT
        if biller_ids is not None:
            q = q.where(_C.biller_id.in_(list(biller_ids)))
        if statuses is not None:
            q = q.where(_C.status.in_([s.value for s in statuses]))
        if overdue_at is not None:
            q = q.where(_C.status.in_([s.value for s in OPEN_STATES]), _C.due_at < overdue_at)
        if bill_id is not None:
            q = q.where(_C.bill_id == bill_id)
        return [_record(row) for row in self.conn.execute(q.limit(limit))]

    def tat_override(self, biller_id: int, kind: ComplaintKind) -> int | None:
        found = self.conn.execute(
            select(qt.complaint_tats.c.hours).where(
                qt.complaint_tats.c.biller_id == biller_id, qt.complaint_tats.c.kind == kind.value
            )
        ).scalar_one_or_none()
        return int(found) if found is not None else None

    def set_tat(self, biller_id: int, kind: ComplaintKind, hours: int, now: datetime) -> None:
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(qt.complaint_tats).values(
            biller_id=biller_id, kind=kind.value, hours=hours, updated_at=now
        )
        self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["biller_id", "kind"],
                set_={"hours": hours, "updated_at": now},
            )
        )

    def orders_for_bill(self, bill_id: int) -> list[str]:
        q = (
            select(t.orders.c.order_no)
            .join(t.order_lines, t.order_lines.c.order_id == t.orders.c.id)
            .where(t.order_lines.c.bill_id == bill_id)
            .group_by(t.orders.c.id, t.orders.c.order_no)
            .order_by(func.min(t.orders.c.id))
        )
        return [row.order_no for row in self.conn.execute(q)]
