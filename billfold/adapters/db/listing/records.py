"""The record lists: the audit log (the back office's only: its rows name no biller), the
outbox's events and their webhook deliveries (``status=dead``: the dead letters)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.listing.keyset import Fetched, day_range, keyset_fetch
from billfold.collection.listing import ListQuery

__all__ = ["SqlAuditList", "SqlDeliveryList", "SqlEventList"]

_A, _E, _D, _W, _BL = (
    t.audit_log,
    t.outbox_events,
    t.outbox_deliveries,
    t.webhook_endpoints,
    t.billers,
)


def _plain(r: Any) -> dict[str, Any]:
    return {k: v for k, v in r._mapping.items() if k not in ("_k", "_i")}


class SqlAuditList:
    _select = select(
        _A.c.id, _A.c.at, _A.c.actor, _A.c.action, _A.c.target_type, _A.c.target_id, _A.c.reason,
        _A.c.before, _A.c.after,
    )  # fmt: skip

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fetch(self, query: ListQuery) -> Fetched:
        wheres = {
            "actor": lambda v: _A.c.actor == v,
            "action": lambda v: _A.c.action == v,
            "target_type": lambda v: _A.c.target_type == v,
            "target_id": lambda v: _A.c.target_id == v,
            "from": lambda v: day_range(_A.c.at, v, None),
            "to": lambda v: day_range(_A.c.at, None, v),
        }
        rows, last = keyset_fetch(
            self.conn,
            query,
            self._select,
            wheres=wheres,
            sorts={"at": _A.c.at},
            row_id=_A.c.id,
            tenant=None,  # audit rows name no biller: a biller's query sees none
        )
        return [_plain(r) for r in rows], last


class SqlEventList:
    _select = select(
        _E.c.event_id,
        _E.c.event_type,
        _BL.c.code.label("biller"),
        _E.c.fanned_out,
        _E.c.created_at,
        _E.c.payload,
    ).select_from(_E.outerjoin(_BL, _BL.c.id == _E.c.biller_id))

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fetch(self, query: ListQuery) -> Fetched:
        wheres = {
            "event_type": lambda v: _E.c.event_type == v,
            "fanned_out": lambda v: _E.c.fanned_out.is_(v == "true"),
            "from": lambda v: day_range(_E.c.created_at, v, None),
            "to": lambda v: day_range(_E.c.created_at, None, v),
        }
        rows, last = keyset_fetch(
            self.conn,
            query,
            self._select,
            wheres=wheres,
            sorts={"created": _E.c.created_at},
            row_id=_E.c.id,
            tenant=_E.c.biller_id,
        )
        result = []
        for r in rows:
            row = _plain(r)
            row["fanned_out"] = "true" if r.fanned_out else "false"
            result.append(row)
        return result, last


class SqlDeliveryList:
    _select = select(
        _D.c.id,
        _E.c.event_id,
        _E.c.event_type,
        _BL.c.code.label("biller"),
        _D.c.endpoint_id,
        _W.c.url,
        _D.c.status,
        _D.c.attempts,
        _D.c.next_attempt_at,
        _D.c.last_error,
        _D.c.delivered_at,
    ).select_from(
        _D.join(_E, _E.c.id == _D.c.event_pk)
        .join(_W, _W.c.id == _D.c.endpoint_id)
        .join(_BL, _BL.c.id == _W.c.biller_id)
    )

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fetch(self, query: ListQuery) -> Fetched:
        wheres = {
            "status": lambda v: _D.c.status == v,
            "event_type": lambda v: _E.c.event_type == v,
            "endpoint_id": lambda v: _D.c.endpoint_id == v,
        }
        rows, last = keyset_fetch(
            self.conn,
            query,
            self._select,
            wheres=wheres,
            sorts={"created": _E.c.created_at, "next_attempt": _D.c.next_attempt_at},
            row_id=_D.c.id,
            tenant=_W.c.biller_id,
        )
        return [_plain(r) for r in rows], last
