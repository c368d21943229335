"""A bill's timeline in SQL: the bill's own waivers and audit records, the orders that
carried it (through their lines), their payments and refunds, the audit records of each, and
the reminders sent about it (and who asked for them by hand). Each query is bounded by the
bill: no scan of a biller's whole history."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.reminders import reminders as reminders_table
from billfold.collection.bill import Bill
from billfold.collection.timeline import Happening, TimelineEntry
from billfold.errors import InvalidInput, InvariantViolated
from billfold.money import parse_yuan

__all__ = ["SqlTimeline"]

_BILL_ACTIONS = {
    "change": Happening.BILL_CHANGED,
    "cancel": Happening.BILL_CANCELLED,
}
_ORDER_ACTIONS = {"cancel_order": Happening.ORDER_CANCELLED, "fail_order": Happening.ORDER_FAILED}
_PAYMENT_ACTIONS = {
    "reverse": Happening.PAYMENT_REVERSED,
    "credit_held": Happening.PAYMENT_CREDITED,
}
#: Audit records told by the rows themselves (the waiver row, the refund row).
_TOLD_BY_ROWS = {"waive", "refund"}


class SqlTimeline:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def for_bill(self, bill: Bill, biller_code: str) -> list[TimelineEntry]:
        if bill.id is None:
            raise InvariantViolated("bill.id is missing")
        audited = self._audited("bill", [f"{biller_code}/{bill.bill_no}"], _BILL_ACTIONS)
        changes = sorted((e for e in audited if e.before_fen is not None), key=lambda e: e.at)
        first_amount = changes[0].before_fen if changes else None
        entries = [self._created(bill.id, first_amount), *self._waivers(bill.id), *audited]
        orders = self._orders(bill.id)
        entries += [e for _, e in orders]
        order_nos = sorted({ref for ref, _ in orders})
        entries += self._audited("order", order_nos, _ORDER_ACTIONS)
        payments = self._payments(order_nos)
        entries += payments
        payment_ids = sorted({e.ref for e in payments})
        entries += self._audited("payment", payment_ids, _PAYMENT_ACTIONS)
        refunds = self._refunds(payment_ids)
        entries += refunds
        entries += self._audited("refund", sorted({e.ref for e in refunds}), {})
        entries += self._reminders(bill, biller_code)
        return entries

    def _created(self, bill_id: int, first_amount: int | None) -> TimelineEntry:
        """The bill as created: its amount then (before the first change, if any)."""
        b = t.bills.c
        row = self.conn.execute(select(b.created_at, b.principal_fen).where(b.id == bill_id)).one()
        amount = row.principal_fen if first_amount is None else first_amount
        return TimelineEntry(row.created_at, Happening.BILL_CREATED, amount_fen=amount)

    def _waivers(self, bill_id: int) -> list[TimelineEntry]:
        w = t.waivers.c
        rows = self.conn.execute(
            select(w.created_at, w.item_code, w.amount_fen, w.reason, w.granted_by).where(
                w.bill_id == bill_id
            )
        ).all()
        return [
            TimelineEntry(
                r.created_at,
                Happening.BILL_WAIVED,
                ref=r.item_code if r.item_code and r.item_code != "*" else "",
                amount_fen=r.amount_fen,
                actor=r.granted_by,
                reason=r.reason,
            )
            for r in rows
        ]

    def _audited(
        self, target_type: str, target_ids: Sequence[str], kinds: dict[str, Happening]
    ) -> list[TimelineEntry]:
        if not target_ids:
            return []
        a = t.audit_log.c
        rows = self.conn.execute(
            select(a.at, a.actor, a.action, a.target_id, a.reason, a.before, a.after).where(
                a.target_type == target_type, a.target_id.in_(list(target_ids))
            )
        ).all()
        ref = "" if target_type == "bill" else None
        return [
            TimelineEntry(
                r.at,
                kinds.get(r.action, Happening.OTHER),
                ref=r.target_id if ref is None else ref,
                actor=r.actor,
                reason=r.reason,
                action=r.action,
                amount_fen=_amount(r.after) if r.action == "change" else None,
                before_fen=_amount(r.before) if r.action == "change" else None,
            )
            for r in rows
            if r.action not in _TOLD_BY_ROWS
        ]

    def _orders(self, bill_id: int) -> list[tuple[str, TimelineEntry]]:
        o, line = t.orders.c, t.order_lines.c
        carrying = select(line.order_id).where(line.bill_id == bill_id)
        rows = self.conn.execute(
            select(o.order_no, o.status, o.total_fen, o.channel, o.created_at, o.expires_at)
            .where(o.id.in_(carrying))
            .order_by(o.id)
        ).all()
        found: list[tuple[str, TimelineEntry]] = []
        for r in rows:
            found.append(
                (
                    r.order_no,
                    TimelineEntry(
                        r.created_at,
                        Happening.ORDER_CREATED,
                        ref=r.order_no,
                        amount_fen=r.total_fen,
                        channel=r.channel,
                    ),
                )
            )
            if r.status == "expired":
                found.append(
                    (r.order_no, TimelineEntry(r.expires_at, Happening.ORDER_EXPIRED, r.order_no))
                )
        return found

    def _payments(self, order_nos: Sequence[str]) -> list[TimelineEntry]:
        if not order_nos:
            return []
        p, o = t.payments.c, t.orders.c
        rows = self.conn.execute(
            select(p.id, p.channel, p.status, p.amount_fen, p.received_at, p.reason, o.order_no)
            .select_from(t.payments.join(t.orders, o.id == p.order_id))
            .where(o.order_no.in_(list(order_nos)))
        ).all()
        return [
            TimelineEntry(
                r.received_at,
                Happening.PAYMENT,
                ref=str(r.id),
                amount_fen=r.amount_fen,
                channel=r.channel,
                status=r.status,
                reason=r.reason or "",
            )
            for r in rows
        ]

    def _refunds(self, payment_ids: Sequence[str]) -> list[TimelineEntry]:
        if not payment_ids:
            return []
        r_ = t.refunds.c
        rows = self.conn.execute(
            select(
                r_.refund_no,
                r_.status,
                r_.amount_fen,
                r_.reason,
                r_.requested_by,
                r_.created_at,
                r_.completed_at,
            ).where(r_.payment_id.in_([int(i) for i in payment_ids]))
        ).all()
        found: list[TimelineEntry] = []
        for r in rows:
            found.append(
                TimelineEntry(
                    r.created_at,
                    Happening.REFUND,
                    ref=r.refund_no,
                    amount_fen=r.amount_fen,
                    status=r.status,
                    actor=r.requested_by,
                    reason=r.reason,
                )
            )
            if r.completed_at is not None:
                found.append(
                    TimelineEntry(
                        r.completed_at,
                        Happening.REFUND_DONE,
                        ref=r.refund_no,
                        amount_fen=r.amount_fen,
                        status=r.status,
                    )
                )
        return found

    def _reminders(self, bill: Bill, biller_code: str) -> list[TimelineEntry]:
        """The reminders stored for the bill (kind, channel, status; when sent, or when
        queued), and each "remind selected" that named it (who and why, from the audit)."""
        r_ = reminders_table.c
        rows = self.conn.execute(
            select(r_.kind, r_.channel, r_.status, r_.created_at, r_.sent_at).where(
                r_.bill_id == bill.id
            )
        ).all()
        found = [
            TimelineEntry(
                r.sent_at or r.created_at,
                Happening.REMINDER,
                ref=r.kind,
                channel=r.channel,
                status=r.status,
            )
            for r in rows
        ]
        a = t.audit_log.c
        asked = self.conn.execute(
            select(a.at, a.actor, a.reason, a.after).where(
                a.target_type == "biller",
                a.target_id == biller_code,
                a.action == "reminders.sent_by_hand",
                a.after.contains(f'"{bill.bill_no}"', autoescape=True),
            )
        ).all()
        for r in asked:
            outcome = _bills_named(r.after).get(bill.bill_no)
            if outcome is not None:
                found.append(
                    TimelineEntry(
                        r.at,
                        Happening.REMINDED_BY_HAND,
                        status=outcome,
                        actor=r.actor,
                        reason=r.reason,
                    )
                )
        return found


def _bills_named(after: str | None) -> dict[str, str]:
    """The bills a "remind selected" audit record names, with their outcomes."""
    try:
        value = json.loads(after or "null")
    except ValueError:
        return {}
    bills = value.get("bills") if isinstance(value, dict) else None
    return {str(k): str(v) for k, v in bills.items()} if isinstance(bills, dict) else {}


def _amount(snapshot: str | None) -> int | None:
    """The bill's amount in an audit snapshot (``Bill.snapshot``: yuan as text)."""
    try:
        value = json.loads(snapshot or "null")
        text = value.get("amount") if isinstance(value, dict) else None
        return parse_yuan(text, field="amount") if isinstance(text, str) else None
    except (ValueError, InvalidInput):
        return None
