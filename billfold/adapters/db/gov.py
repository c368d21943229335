"""Government offices' fee catalogues and payment receipts in the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from billfold.adapters.db.orders import _insert
from billfold.adapters.db.schema import gov as g
from billfold.merchants.fee_catalogue import FeeItem

__all__ = ["SqlGov"]

_F, _R = g.gov_fee_items, g.gov_receipts


class SqlGov:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- the fee catalogue ---------------------------------------------------------------
    def fee_items(self, biller_id: int) -> list[FeeItem]:
        rows = self.conn.execute(
            select(_F)
            .where(_F.c.biller_id == biller_id)
            .order_by(_F.c.item_code, _F.c.effective_from)
        )
        return [FeeItem(r.item_code, r.name, int(r.amount_fen), r.effective_from) for r in rows]

    def add_fee_item(self, biller_id: int, item: FeeItem, now: datetime) -> bool:
        """Insert the entry; ``False`` when one for the same item and date is there already."""
        stmt = (
            _insert(self.conn, _F)
            .values(
                biller_id=biller_id,
                item_code=item.item_code,
                name=item.name,
                amount_fen=item.amount_fen,
                effective_from=item.effective_from,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
        return bool(self.conn.execute(stmt).rowcount)

    # -- receipts ------------------------------------------------------------------------
    def add_receipt(
        self, receipt_no: str, payment_id: int, biller_id: int, body: str, now: datetime
    ) -> bool:
        stmt = (
            _insert(self.conn, _R)
            .values(
                receipt_no=receipt_no,
                payment_id=payment_id,
                biller_id=biller_id,
                issued_at=now,
                body=body,
            )
            .on_conflict_do_nothing()
        )
        return bool(self.conn.execute(stmt).rowcount)

    def receipt_body(
        self, *, payment_id: int | None = None, receipt_no: str | None = None
    ) -> str | None:
        query = select(_R.c.body)
        if payment_id is not None:
            query = query.where(_R.c.payment_id == payment_id)
        if receipt_no is not None:
            query = query.where(_R.c.receipt_no == receipt_no)
        body = self.conn.execute(query).scalar()
        return None if body is None else str(body)

    def receipts(self, biller_id: int) -> list[str]:
        query = select(_R.c.body).where(_R.c.biller_id == biller_id).order_by(_R.c.id)
        return [str(body) for body in self.conn.execute(query).scalars()]
