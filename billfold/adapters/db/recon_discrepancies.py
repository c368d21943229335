"""Reconciliation discrepancies in the database: stored with their run, read, and closed
with a conditional update (part of :class:`billfold.adapters.db.recon.SqlRecon`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from billfold.adapters.db.bulk import insert_many
from billfold.adapters.db.schema import settlement as st
from billfold.settlement.discrepancy import Action, Code, Discrepancy, DiscrepancyStatus

__all__ = ["SqlDiscrepancies"]


class SqlDiscrepancies:
    conn: Connection
    postgresql: bool

    def insert_discrepancies(
        self, run_id: int, found: Sequence[Discrepancy], now: datetime, resolver: str
    ) -> None:
        rows = [_discrepancy_row(run_id, d, now, resolver) for d in found]
        if self.postgresql:  # by COPY: 1,200 rows in a few ms, not 0.12 s of INSERTs
            insert_many(self.conn, st.recon_discrepancies.insert(), rows, copy=True)
            return
        for i in range(0, len(rows), 5000):
            self.conn.execute(st.recon_discrepancies.insert(), rows[i : i + 5000])

    def discrepancy(self, discrepancy_id: int, *, lock: bool = False) -> Discrepancy | None:
        """One discrepancy; ``lock`` holds its row (PostgreSQL) until the transaction ends."""
        q = select(st.recon_discrepancies).where(st.recon_discrepancies.c.id == discrepancy_id)
        if lock and self.postgresql:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return _discrepancy(row) if row is not None else None

    def discrepancies(
        self,
        *,
        run_id: int | None = None,
        status: DiscrepancyStatus | None = None,
        code: Code | None = None,
        auto_only: bool = False,
        limit: int | None = None,
    ) -> list[Discrepancy]:
        d = st.recon_discrepancies.c
        q = select(st.recon_discrepancies).order_by(d.id)
        if run_id is not None:
            q = q.where(d.run_id == run_id)
        if status is not None:
            q = q.where(d.status == status.value)
        if code is not None:
            q = q.where(d.code == code.value)
        if auto_only:
            q = q.where(d.auto_action.is_not(None))
        if limit is not None:
            q = q.limit(limit)
        return [_discrepancy(row) for row in self.conn.execute(q)]

    def open_engine_only(self, payment_id: int) -> list[Discrepancy]:
        d = st.recon_discrepancies.c
        q = select(st.recon_discrepancies).where(
            d.payment_id == payment_id,
            d.code == Code.ENGINE_ONLY.value,
            d.status == DiscrepancyStatus.OPEN.value,
        )
        return [_discrepancy(row) for row in self.conn.execute(q)]

    def resolve(
        self,
        discrepancy_id: int,
        *,
        action: Action,
        by: str,
        at: datetime,
        reason: str,
        ref: str | None = None,
        payment_id: int | None = None,
        request_id: str | None = None,
    ) -> bool:
        """Close an open discrepancy (conditional: ``False`` if someone else closed it)."""
        d = st.recon_discrepancies.c
        values: dict[str, Any] = {
            "status": DiscrepancyStatus.RESOLVED.value,
            "action": action.value,
            "resolved_by": by[:100],
            "resolved_at": at,
            "resolution": reason[:500],
            "resolution_ref": ref[:64] if ref else None,
            "resolution_request_id": request_id,
        }
        if payment_id is not None:
            values["payment_id"] = payment_id
        done = self.conn.execute(
            update(st.recon_discrepancies)
            .where(d.id == discrepancy_id, d.status == DiscrepancyStatus.OPEN.value)
            .values(**values)
        ).rowcount
        return bool(done == 1)

    def count_open(self, run_id: int) -> int:
        d = st.recon_discrepancies.c
        return int(
            self.conn.execute(
                select(func.count()).where(
                    d.run_id == run_id, d.status == DiscrepancyStatus.OPEN.value
                )
            ).scalar_one()
        )


_FIELDS = (
    "message",
    "channel",
    "source_file",
    "source_line",
    "channel_txn_id",
    "order_no",
    "refund_no",
    "payment_id",
    "refund_id",
    "biller_id",
    "line_amount_fen",
    "engine_amount_fen",
    "line_fee_fen",
    "engine_fee_fen",
    "difference_fen",
    "line_status",
    "engine_status",
    "currency",
    "occurred_at",
    "counterparty",
)
_LIMITS = {
    "message": 500,
    "source_file": 255,
    "channel_txn_id": 64,
    "order_no": 64,
    "refund_no": 64,
    "counterparty": 128,
}


def _discrepancy_row(run_id: int, d: Discrepancy, now: datetime, resolver: str) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(d, name) for name in _FIELDS}
    for name, limit in _LIMITS.items():
        if row[name] is not None:
            row[name] = str(row[name])[:limit]
    row.update(
        run_id=run_id,
        code=d.code.value,
        auto_action=d.auto_action.value if d.auto_action else None,
        status=DiscrepancyStatus.OPEN.value,
        action=None,
        resolved_by=None,
        resolved_at=None,
        resolution=None,
        resolution_ref=None,
        created_at=now,
    )
    if d.closed:
        row.update(
            status=DiscrepancyStatus.RESOLVED.value,
            action=Action.ACCEPT.value,
            resolved_by=resolver,
            resolved_at=now,
            resolution="closed when found: " + d.code.value.replace("_", " "),
        )
    return row


def _discrepancy(row: Any) -> Discrepancy:
    values = {name: getattr(row, name) for name in _FIELDS}
    return Discrepancy(
        code=Code(row.code),
        id=int(row.id),
        run_id=int(row.run_id),
        status=DiscrepancyStatus(row.status),
        auto_action=Action(row.auto_action) if row.auto_action else None,
        action=Action(row.action) if row.action else None,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
        resolution_ref=row.resolution_ref,
        resolution_request_id=row.resolution_request_id,
        **values,
    )
