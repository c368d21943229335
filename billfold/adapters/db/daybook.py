"""Read-side queries for the scenario packs: a term's students and bills, a day's collections.

:class:`SqlDaybook` is the unit of work's ``daybook`` repository
(:class:`billfold.packs.ports.DaybookRepository`); each query returns billfold values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from billfold.adapters.db import schema as t
from billfold.adapters.db.bills import SqlBills
from billfold.adapters.db.fastpath import as_utc
from billfold.collection.bill import LATE_FEE_CODE
from billfold.collection.payer import IdentifierKind
from billfold.collection.payment import PaymentStatus
from billfold.collection.roster import StoredBill, StoredStudent
from billfold.errors import InvariantViolated
from billfold.settlement.daybook import DayLine, DayPayment

__all__ = ["SqlDaybook"]


_pay, _line, _b, _p = t.payments.c, t.order_lines.c, t.bills.c, t.payers.c
_DAY_LINES = (
    select(
        _pay.id,
        _pay.channel,
        _pay.channel_txn_id,
        _pay.order_no,
        _pay.amount_fen,
        _pay.refunded_fen,
        _pay.paid_at,
        _b.bill_no,
        _b.sub_unit,
        _p.identifier,
        _line.item_code,
        _line.amount_fen.label("line_fen"),
    )
    .select_from(
        t.payments.join(t.order_lines, _line.order_id == _pay.order_id)
        .join(t.bills, _b.id == _line.bill_id)
        .join(t.payers, _p.id == _b.payer_id)
    )
    .where(
        _pay.biller_id == bindparam("biller_id"),
        _pay.business_date == bindparam("day"),
        _pay.status == PaymentStatus.CREDITED.value,
    )
    .order_by(_pay.paid_at, _pay.channel, _pay.channel_txn_id, _line.position)
)


class SqlDaybook:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def term_students(self, biller_id: int, term: str) -> dict[str, StoredStudent]:
        """Every student with a bill of ``term``: their payer row and bills, oldest first."""
        b, p = t.bills.c, t.payers.c
        rows = self.conn.execute(
            select(b.id, b.content_hash, p.identifier, p.name, p.phone)
            .select_from(t.bills.join(t.payers, p.id == b.payer_id))
            .where(b.biller_id == biller_id, b.period == term)
            .order_by(p.identifier, b.id)
        ).all()
        bills = {bill.id: bill for bill in SqlBills(self.conn).get_many([row.id for row in rows])}
        grouped: dict[str, list[StoredBill]] = defaultdict(list)
        contact: dict[str, tuple[str | None, str | None]] = {}
        for row in rows:
            grouped[row.identifier].append(StoredBill(bills[row.id], row.content_hash))
            contact[row.identifier] = (row.name, row.phone)
        return {
            number: StoredStudent(number, *contact[number], tuple(found))
            for number, found in grouped.items()
        }

    def update_contact(self, biller_id: int, student_no: str, name: str, phone: str) -> None:
        """A student's name and guardian's phone as the latest roster says."""
        p = t.payers.c
        self.conn.execute(
            update(t.payers)
            .where(
                p.biller_id == biller_id,
                p.id_kind == IdentifierKind.STUDENT_NO.value,
                p.identifier == student_no,
            )
            .values(name=name, phone=phone)
        )

    def day_payments(self, biller_id: int, day: date) -> list[DayPayment]:
        """The biller's credited payments of business date ``day``, with what each paid of each
        bill, in a stable order (time paid, channel, transaction id)."""
        rows = self.conn.execute(_DAY_LINES, {"biller_id": biller_id, "day": day}).all()
        return _day_payments(rows)

    def bill_payments(self, bill_id: int) -> list[tuple[int, int]]:
        """Credited payments that paid something of the bill: (payment id, what they paid of it,
        net of what was refunded from the payment so far), oldest first."""
        pay, line = t.payments.c, t.order_lines.c
        rows = self.conn.execute(
            select(pay.id, pay.amount_fen, pay.refunded_fen, line.amount_fen.label("line_fen"))
            .select_from(t.payments.join(t.order_lines, line.order_id == pay.order_id))
            .where(line.bill_id == bill_id, pay.status == PaymentStatus.CREDITED.value)
            .order_by(pay.id, line.position)
        ).all()
        paid: dict[int, int] = {}
        room: dict[int, int] = {}
        for row in rows:
            paid[row.id] = paid.get(row.id, 0) + int(row.line_fen)
            room[row.id] = int(row.amount_fen) - int(row.refunded_fen)
        return [(pid, min(amount, room[pid])) for pid, amount in paid.items() if room[pid] > 0]


def _day_payments(rows: Sequence[Any]) -> list[DayPayment]:
    order: list[int] = []
    heads: dict[int, tuple[str, str, str, int, int, datetime]] = {}
    parts: dict[int, dict[str, list[int | str | None]]] = defaultdict(dict)
    for row in rows:
        if row.id not in heads:
            order.append(row.id)
            paid_at = as_utc(row.paid_at)
            if paid_at is None:
                raise InvariantViolated("paid_at is missing")
            heads[row.id] = (
                row.channel,
                row.channel_txn_id,
                row.order_no,
                int(row.amount_fen),
                int(row.refunded_fen),
                paid_at,
            )
        entry = parts[row.id].setdefault(row.bill_no, [row.identifier, row.sub_unit, 0, 0])
        slot = 3 if row.item_code == LATE_FEE_CODE else 2
        current = entry[slot]
        if not isinstance(current, int):
            raise InvariantViolated("expected isinstance(current, int)")
        entry[slot] = current + int(row.line_fen)
    result: list[DayPayment] = []
    for payment_id in order:
        lines = tuple(
            DayLine(
                bill_no,
                str(v[0]),
                v[1] if isinstance(v[1], str) else None,
                int(v[2] or 0),
                int(v[3] or 0),
            )
            for bill_no, v in parts[payment_id].items()
        )
        result.append(DayPayment(*heads[payment_id], lines))
    return result
