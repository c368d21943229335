"""The money lists: orders, payments, refunds, and the suspense desk (payments held for
review or in suspense, each with why, its latest refund and the actions left)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, exists, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.fastpath import as_date
from billfold.adapters.db.listing.keyset import Fetched, day_range, keyset_fetch
from billfold.collection.listing import ListQuery
from billfold.collection.lists import suspense_actions

__all__ = ["SqlOrderList", "SqlPaymentList", "SqlRefundList", "SqlSuspenseList"]

_O, _P, _BL, _PM, _R = t.orders, t.payers, t.billers, t.payments, t.refunds
_L, _B = t.order_lines, t.bills


class SqlOrderList:
    _select = select(
        _O.c.order_no,
        _BL.c.code.label("biller"),
        _P.c.identifier.label("payer_identifier"),
        _O.c.status,
        _O.c.channel,
        _O.c.total_fen,
        _O.c.refunded_fen,
        _O.c.created_at,
        _O.c.expires_at,
        _O.c.paid_at,
        _O.c.payment_id,
        _O.c.failure_reason,
    ).select_from(_O.join(_BL, _BL.c.id == _O.c.biller_id).outerjoin(_P, _P.c.id == _O.c.payer_id))

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fetch(self, query: ListQuery) -> Fetched:
        wheres = {
            "status": lambda v: _O.c.status == v,
            "channel": lambda v: _O.c.channel == v,
            "payer": lambda v: _P.c.identifier == v,
            "order_no": lambda v: _O.c.order_no == v,
            "bill_no": lambda v: exists(
                select(_L.c.id)
                .select_from(_L.join(_B, _B.c.id == _L.c.bill_id))
                .where(_L.c.order_id == _O.c.id, _B.c.bill_no == v)
            ),
            "from": lambda v: _O.c.business_date >= v,
            "to": lambda v: _O.c.business_date <= v,
            "amount_min": lambda v: _O.c.total_fen >= v,
            "amount_max": lambda v: _O.c.total_fen <= v,
        }
        rows, last = keyset_fetch(
            self.conn,
            query,
            self._select,
            wheres=wheres,
            sorts={"created": _O.c.created_at, "amount": _O.c.total_fen},
            row_id=_O.c.id,
            tenant=_O.c.biller_id,
        )
        return [_plain(r) for r in rows], last


class SqlPaymentList:
    _select = select(
        _PM.c.id,
        _PM.c.channel,
        _PM.c.channel_txn_id,
        _PM.c.order_no,
        _BL.c.code.label("biller"),
        _PM.c.status,
        _PM.c.reason,
        _PM.c.amount_fen,
        _PM.c.fee_fen,
        _PM.c.refunded_fen,
        _PM.c.paid_at,
        _PM.c.received_at,
        _PM.c.business_date,
    ).select_from(_PM.outerjoin(_BL, _BL.c.id == _PM.c.biller_id))

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fetch(self, query: ListQuery) -> Fetched:
        wheres = {
            "channel": lambda v: _PM.c.channel == v,
            "status": lambda v: _PM.c.status == v,
            "reason": lambda v: _PM.c.reason == v,
            "from": lambda v: _PM.c.business_date >= v,
            "to": lambda v: _PM.c.business_date <= v,
            "amount_min": lambda v: _PM.c.amount_fen >= v,
            "amount_max": lambda v: _PM.c.amount_fen <= v,
            "channel_txn_id": lambda v: _PM.c.channel_txn_id == v,
            "order_no": lambda v: _PM.c.order_no == v,
        }
        rows, last = keyset_fetch(
            self.conn,
            query,
            self._select,
            wheres=wheres,
            sorts={
                "received": _PM.c.received_at,
                "paid": _PM.c.paid_at,
                "amount": _PM.c.amount_fen,
            },
            row_id=_PM.c.id,
            tenant=_PM.c.biller_id,
        )
        return [_plain(r) for r in rows], last


class SqlRefundList:
    _select = select(
        _R.c.refund_no,
        _R.c.payment_id,
        _PM.c.channel,
        _BL.c.code.label("biller"),
        _R.c.kind,
        _R.c.status,
        _R.c.amount_fen,
        _R.c.fee_fen,
        _R.c.reason,
        _R.c.requested_by,
        _R.c.channel_refund_id,
        _R.c.created_at,
        _R.c.completed_at,
    ).select_from(
        _R.join(_PM, _PM.c.id == _R.c.payment_id).outerjoin(_BL, _BL.c.id == _PM.c.biller_id)
    )

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fetch(self, query: ListQuery) -> Fetched:
        wheres = {
            "status": lambda v: _R.c.status == v,
            "channel": lambda v: _PM.c.channel == v,
            "kind": lambda v: _R.c.kind == v,
            "payment_id": lambda v: _R.c.payment_id == v,
            "from": lambda v: day_range(_R.c.created_at, v, None),
            "to": lambda v: day_range(_R.c.created_at, None, v),
        }
        rows, last = keyset_fetch(
            self.conn,
            query,
            self._select,
            wheres=wheres,
            sorts={"created": _R.c.created_at, "amount": _R.c.amount_fen},
            row_id=_R.c.id,
            tenant=_PM.c.biller_id,
        )
        return [_plain(r) for r in rows], last


def _latest_refund(column: Any) -> Any:
    return (
        select(column)
        .where(_R.c.payment_id == _PM.c.id)
        .order_by(_R.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


_REFUND_NO = _latest_refund(_R.c.refund_no)
_REFUND_STATUS = _latest_refund(_R.c.status)


class SqlSuspenseList:
    _select = select(
        _PM.c.id.label("payment_id"),
        _PM.c.channel,
        _PM.c.channel_txn_id,
        _PM.c.order_no,
        _BL.c.code.label("biller"),
        _PM.c.status,
        _PM.c.reason,
        _PM.c.amount_fen,
        _PM.c.refunded_fen,
        _REFUND_NO.label("refund_no"),
        _REFUND_STATUS.label("refund_status"),
        _PM.c.received_at,
    ).select_from(_PM.outerjoin(_BL, _BL.c.id == _PM.c.biller_id))

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fetch(self, query: ListQuery) -> Fetched:
        wheres = {
            "status": lambda v: _PM.c.status == v,
            "reason": lambda v: _PM.c.reason == v,
            "channel": lambda v: _PM.c.channel == v,
            "refund_status": lambda v: (
                _REFUND_STATUS.is_(None) if v == "none" else v == _REFUND_STATUS
            ),
            "from": lambda v: _PM.c.business_date >= v,
            "to": lambda v: _PM.c.business_date <= v,
        }
        held = (
            select(*self._select.selected_columns)
            .select_from(_PM.outerjoin(_BL, _BL.c.id == _PM.c.biller_id))
            .where(_PM.c.status.in_(("held", "suspense")))
        )
        rows, last = keyset_fetch(
            self.conn,
            query,
            held,
            wheres=wheres,
            sorts={"received": _PM.c.received_at, "amount": _PM.c.amount_fen},
            row_id=_PM.c.id,
            tenant=_PM.c.biller_id,
        )
        result = []
        for r in rows:
            row = _plain(r)
            row["left_fen"] = r.amount_fen - r.refunded_fen  # not yet refunded nor credited
            row["actions"] = suspense_actions(r.status, row["left_fen"], r.refund_status)
            result.append(row)
        return result, last


def _plain(r: Any) -> dict[str, Any]:
    row = {k: v for k, v in r._mapping.items() if k not in ("_k", "_i")}
    if "business_date" in row:
        row["business_date"] = as_date(row["business_date"])
    return row
