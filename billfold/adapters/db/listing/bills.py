"""The bills list: a biller's bills with their payer, filtered by sub-unit, period, status
(overdue is derived from the due date and today), payer, due dates and days overdue; and
the chase list (催缴名单): the bills still owed, with the payer's phone."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, literal, or_, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.fastpath import as_date
from billfold.adapters.db.listing.keyset import Fetched, keyset_fetch
from billfold.collection.listing import ListQuery
from billfold.errors import InvariantViolated

__all__ = ["SqlBillList", "SqlChaseList"]

_B, _P, _BL, _I = t.bills, t.payers, t.billers, t.bill_items
_UNPAID = ("open", "partially_paid")
_FAR = date(9999, 12, 31)  # bills without a due date sort last
_OWED = (
    select(
        func.coalesce(
            func.sum(_I.c.amount_fen - _I.c.waived_fen - _I.c.paid_fen - _I.c.refunded_fen), 0
        )
    )
    .where(_I.c.bill_id == _B.c.id)
    .scalar_subquery()
)
_WAIVED = (
    select(func.coalesce(func.sum(_I.c.waived_fen), 0))
    .where(_I.c.bill_id == _B.c.id)
    .scalar_subquery()
)
_SELECT = select(
    _B.c.bill_no,
    _BL.c.code.label("biller"),
    _B.c.sub_unit,
    _B.c.period,
    _B.c.kind,
    _P.c.identifier.label("payer_identifier"),
    _P.c.name.label("payer_name"),
    _B.c.status.label("stored_status"),
    _B.c.principal_fen,
    _B.c.paid_fen,
    _OWED.label("outstanding_fen"),
    _B.c.due_date,
    _B.c.created_at,
).select_from(_B.join(_BL, _BL.c.id == _B.c.biller_id).join(_P, _P.c.id == _B.c.payer_id))
_SORTS = {
    "created": _B.c.created_at,
    "due_date": func.coalesce(_B.c.due_date, literal(_FAR, t.bills.c.due_date.type)),
    "bill_no": _B.c.bill_no,
    "amount": _B.c.principal_fen,
}


def _payer(value: str) -> Any:
    return or_(_P.c.identifier == value, _P.c.name.contains(value, autoescape=True))


def _status(today: date, status: str) -> Any:
    late = and_(_B.c.status.in_(_UNPAID), _B.c.due_date.is_not(None), _B.c.due_date < today)
    if status == "overdue":
        return late
    if status in _UNPAID:
        return and_(_B.c.status == status, ~late)
    return _B.c.status == status


class SqlBillList:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fetch(self, query: ListQuery) -> Fetched:
        today = query.today
        if today is None:
            raise InvariantViolated("a bills query needs today's business date")
        wheres = {
            "sub_unit": lambda v: _B.c.sub_unit == v,
            "period": lambda v: _B.c.period == v,
            "status": lambda v: _status(today, v),
            "kind": lambda v: _B.c.kind == v,
            "payer": _payer,
            "bill_no": lambda v: _B.c.bill_no == v,
            "due_from": lambda v: _B.c.due_date >= v,
            "due_to": lambda v: _B.c.due_date <= v,
            "overdue_days": lambda v: and_(
                _B.c.status.in_(_UNPAID), _B.c.due_date <= today - timedelta(days=max(v, 1))
            ),
        }
        rows, last = keyset_fetch(
            self.conn,
            query,
            _SELECT,
            wheres=wheres,
            sorts=_SORTS,
            row_id=_B.c.id,
            tenant=_B.c.biller_id,
        )
        return [_row(r, today) for r in rows], last


def _row(r: Any, today: date) -> dict[str, Any]:
    due = as_date(r.due_date)
    late = r.stored_status in _UNPAID and due is not None and today > due
    return {
        "bill_no": r.bill_no,
        "biller": r.biller,
        "sub_unit": r.sub_unit,
        "period": r.period,
        "kind": r.kind,
        "payer_identifier": r.payer_identifier,
        "payer_name": r.payer_name,
        "status": "overdue" if late else r.stored_status,
        "principal_fen": r.principal_fen,
        "paid_fen": r.paid_fen,
        "outstanding_fen": int(r.outstanding_fen) if r.stored_status in _UNPAID else 0,
        "due_date": due,
        "overdue_days": (today - due).days if late and due is not None else 0,
        "created_at": r.created_at,
    }


_CHASE = select(
    _B.c.bill_no,
    _B.c.sub_unit,
    _B.c.period,
    _P.c.identifier.label("payer_identifier"),
    _P.c.name.label("payer_name"),
    _P.c.phone.label("payer_phone"),
    _B.c.status,
    _B.c.principal_fen,
    _WAIVED.label("waived_fen"),
    _B.c.paid_fen,
    _OWED.label("outstanding_fen"),
    _B.c.due_date,
).select_from(_B.join(_P, _P.c.id == _B.c.payer_id))
_CHASE_SORTS = {
    "due_date": _SORTS["due_date"],
    "sub_unit": func.coalesce(_B.c.sub_unit, literal("")),
    "bill_no": _B.c.bill_no,
    "amount": _B.c.principal_fen,
}


class SqlChaseList:
    """Bills still owed (open or part-paid, something left after payments and waivers; not
    open-amount bills), overdue or not; ``min_days`` and ``overdue`` narrow to the late."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def fetch(self, query: ListQuery) -> Fetched:
        today = query.today
        if today is None:
            raise InvariantViolated("the chase list needs today's business date")
        late = and_(_B.c.due_date.is_not(None), _B.c.due_date < today)
        wheres = {
            "sub_unit": lambda v: _B.c.sub_unit == v,
            "period": lambda v: _B.c.period == v,
            "overdue": lambda v: late if v == "true" else ~late,
            "min_days": lambda v: _B.c.due_date <= today - timedelta(days=max(v, 1)),
            "payer": _payer,
        }
        owed = _CHASE.where(_B.c.status.in_(_UNPAID), _B.c.kind != "open", _OWED > 0)
        rows, last = keyset_fetch(
            self.conn,
            query,
            owed,
            wheres=wheres,
            sorts=_CHASE_SORTS,
            row_id=_B.c.id,
            tenant=_B.c.biller_id,
        )
        return [_chase_row(r, today) for r in rows], last


def _chase_row(r: Any, today: date) -> dict[str, Any]:
    due = as_date(r.due_date)
    late = due is not None and today > due
    return {
        "bill_no": r.bill_no,
        "sub_unit": r.sub_unit,
        "period": r.period,
        "payer_identifier": r.payer_identifier,
        "payer_name": r.payer_name,
        "payer_phone": r.payer_phone,
        "status": "overdue" if late else r.status,
        "principal_fen": r.principal_fen,
        "waived_fen": int(r.waived_fen),
        "paid_fen": r.paid_fen,
        "outstanding_fen": int(r.outstanding_fen),
        "due_date": due,
        "overdue_days": (today - due).days if late and due is not None else 0,
    }
