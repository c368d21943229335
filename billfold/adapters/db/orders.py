"""Orders, payments and refunds in the database: the rows exactly-once depends on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, or_, select, update

from billfold.adapters.db import schema as t
from billfold.adapters.db.bulk import dialect_insert
from billfold.adapters.db.fastpath import DriverResult, as_utc, run_read, run_write, send_read
from billfold.collection.allocation import Allocation
from billfold.collection.order import Order, OrderStatus
from billfold.collection.payment import PaymentRecord, PaymentStatus
from billfold.collection.refund import RefundKind, RefundLine, RefundRecord, RefundStatus
from billfold.errors import InvariantViolated

_line_refund = (
    update(t.order_lines)
    .where(t.order_lines.c.id == bindparam("b_id"))
    .values(refunded_fen=t.order_lines.c.refunded_fen + bindparam("b_amount"))
)


def _insert(conn: Connection, table: Any) -> Any:
    return dialect_insert(conn.dialect.name)(table)


# The confirm path's statements are built once (SQLAlchemy then only looks up its cache).
_P = t.payments.c
_PAYMENT_BY_TXN = select(t.payments).where(
    _P.channel == bindparam("ch"), _P.channel_txn_id == bindparam("txn")
)
_PAYMENT_BY_TXN_LOCKED = _PAYMENT_BY_TXN.with_for_update()


@cache
def _payment_insert(dialect: str) -> Any:
    """A payment, unless its (channel, transaction id) is stored: built once per dialect."""
    return (
        dialect_insert(dialect)(t.payments)
        .on_conflict_do_nothing(index_elements=["channel", "channel_txn_id"])
        .returning(_P.id)
    )


_ORDER_WITH_LINES = (
    select(
        t.orders,
        t.order_lines.c.bill_id.label("l_bill_id"),
        t.bills.c.bill_no.label("l_bill_no"),
        t.order_lines.c.item_code.label("l_item_code"),
        t.order_lines.c.amount_fen.label("l_amount_fen"),
    )
    .select_from(
        t.orders.join(t.order_lines, t.order_lines.c.order_id == t.orders.c.id).join(
            t.bills, t.bills.c.id == t.order_lines.c.bill_id
        )
    )
    .order_by(t.order_lines.c.position)
)
_ORDER_BY_NO = _ORDER_WITH_LINES.where(t.orders.c.order_no == bindparam("order_no"))
_ORDER_BY_ID = _ORDER_WITH_LINES.where(t.orders.c.id == bindparam("order_id"))
_LOCKED = {
    _ORDER_BY_NO: _ORDER_BY_NO.with_for_update(of=t.orders),
    _ORDER_BY_ID: _ORDER_BY_ID.with_for_update(of=t.orders),
}


def _ts(value: Any) -> datetime:
    found = as_utc(value)
    if found is None:
        raise InvariantViolated("a required timestamp is missing")
    return found


_TRANSITIONS: dict[tuple[tuple[str, ...], tuple[str, ...]], Any] = {}


def _transition_statement(expected: tuple[str, ...], keys: tuple[str, ...]) -> Any:
    key = (expected, keys)
    if key not in _TRANSITIONS:
        # equality per state (not IN): each is an ordinary bind parameter with its value
        allowed = or_(
            *(t.orders.c.status == bindparam(f"b_from{i}", value=v) for i, v in enumerate(expected))
        )
        _TRANSITIONS[key] = (
            update(t.orders)
            .where(t.orders.c.id == bindparam("b_id"), allowed)
            .values({"status": bindparam("b_status"), **{k: bindparam(k) for k in keys}})
        )
    return _TRANSITIONS[key]


class SqlOrders:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = conn.dialect.name == "postgresql"

    def add(self, order: Order, business_date: date, idempotency_key: str | None) -> int | None:
        """Insert the order and its lines; ``None`` if another order already holds the
        idempotency key (a concurrent request with the same key won)."""
        order_id = self.conn.execute(
            _insert(self.conn, t.orders)
            .values(
                order_no=order.order_no,
                biller_id=order.biller_id,
                payer_id=order.payer_id,
                status=order.status.value,
                total_fen=order.total_fen,
                refunded_fen=0,
                currency=order.currency,
                channel=order.channel,
                idempotency_key=idempotency_key,
                created_at=order.created_at,
                expires_at=order.expires_at,
                business_date=business_date,
            )
            .on_conflict_do_nothing(index_elements=["biller_id", "idempotency_key"])
            .returning(t.orders.c.id)
        ).scalar_one_or_none()
        if order_id is None:
            return None
        self._insert_lines(order_id, order.lines)
        order.id = int(order_id)
        return order.id

    def _load(self, statement: Any, params: dict[str, Any], lock: bool) -> Order | None:
        if lock and self._lock:
            statement = _LOCKED[statement]
        return self.from_rows(run_read(self.conn, statement, params))

    def send_by_no(self, order_no: str) -> DriverResult:
        """The order's read, locked (PostgreSQL), sent: :meth:`from_rows` of its rows."""
        return send_read(self.conn, _LOCKED[_ORDER_BY_NO], {"order_no": order_no})

    @staticmethod
    def from_rows(rows: Sequence[Any]) -> Order | None:
        if not rows:
            return None
        row = rows[0]
        created_at, expires_at = as_utc(row.created_at), as_utc(row.expires_at)
        if not (created_at is not None and expires_at is not None):
            raise InvariantViolated("expected created_at is not None and expires_at is not None")
        return Order(
            id=row.id,
            order_no=row.order_no,
            biller_id=row.biller_id,
            payer_id=row.payer_id,
            total_fen=row.total_fen,
            created_at=created_at,
            expires_at=expires_at,
            lines=[
                Allocation(r.l_bill_id, r.l_bill_no, r.l_item_code, r.l_amount_fen) for r in rows
            ],
            status=OrderStatus(row.status),
            channel=row.channel,
            currency=row.currency,
            refunded_fen=row.refunded_fen,
            failure_reason=row.failure_reason,
            paid_at=as_utc(row.paid_at),
            payment_id=row.payment_id,
        )

    def get_by_no(self, order_no: str, *, lock: bool = False) -> Order | None:
        return self._load(_ORDER_BY_NO, {"order_no": order_no}, lock)

    def get(self, order_id: int, *, lock: bool = False) -> Order | None:
        return self._load(_ORDER_BY_ID, {"order_id": order_id}, lock)

    def by_idempotency_key(self, biller_id: int, key: str) -> Order | None:
        q = select(t.orders.c.id).where(
            t.orders.c.biller_id == biller_id, t.orders.c.idempotency_key == key
        )
        order_id = self.conn.execute(q).scalar_one_or_none()
        return None if order_id is None else self.get(order_id)

    def transition(
        self, order_id: int, expected: Iterable[OrderStatus], new: OrderStatus, **values: Any
    ) -> bool:
        """Conditional update: only changes the order if it is still in an ``expected`` state."""
        statement = _transition_statement(tuple(s.value for s in expected), tuple(sorted(values)))
        done = run_write(
            self.conn, statement, {"b_id": order_id, "b_status": new.value, **values}
        ).rowcount
        return bool(done == 1)

    def add_refunded(self, order_id: int, amount_fen: int, new: OrderStatus) -> None:
        self.conn.execute(
            update(t.orders)
            .where(t.orders.c.id == order_id)
            .values(refunded_fen=t.orders.c.refunded_fen + amount_fen, status=new.value)
        )

    def ordered_total(self, biller_id: int, first: date, last: date) -> int:
        """Money ordered on business dates ``first``..``last`` that is paid or may still be
        paid (for the daily and monthly limits)."""
        live = [OrderStatus.CREATED.value, OrderStatus.PAYING.value, OrderStatus.PAID.value]
        total = self.conn.execute(
            select(func.coalesce(func.sum(t.orders.c.total_fen), 0)).where(
                t.orders.c.biller_id == biller_id,
                t.orders.c.business_date >= first,
                t.orders.c.business_date <= last,
                t.orders.c.status.in_(live),
            )
        ).scalar_one()
        return int(total)

    def due_to_expire(self, now: datetime, limit: int = 1000) -> list[str]:
        q = (
            select(t.orders.c.order_no)
            .where(
                t.orders.c.status.in_([OrderStatus.CREATED.value, OrderStatus.PAYING.value]),
                t.orders.c.expires_at <= now,
            )
            .order_by(t.orders.c.id)
            .limit(limit)
        )
        return list(self.conn.execute(q).scalars())

    def open_for_bill(self, bill_id: int) -> list[str]:
        """Orders for this bill that may still be paid (created or paying)."""
        q = (
            select(t.orders.c.order_no)
            .where(
                t.orders.c.status.in_([OrderStatus.CREATED.value, OrderStatus.PAYING.value]),
                t.orders.c.id.in_(
                    select(t.order_lines.c.order_id).where(t.order_lines.c.bill_id == bill_id)
                ),
            )
            .order_by(t.orders.c.id)
        )
        return list(self.conn.execute(q).scalars())

    def paying_since(self, cutoff: datetime, channels: list[str], limit: int = 1000) -> list[str]:
        """Orders sent to one of ``channels`` at or before ``cutoff`` and still paying."""
        q = (
            select(t.orders.c.order_no)
            .where(
                t.orders.c.status == OrderStatus.PAYING.value,
                t.orders.c.created_at <= cutoff,
                t.orders.c.channel.in_(channels),
            )
            .order_by(t.orders.c.id)
            .limit(limit)
        )
        return list(self.conn.execute(q).scalars())

    def refund_lines(self, order_id: int) -> list[RefundLine]:
        rows = self.conn.execute(
            select(t.order_lines)
            .where(t.order_lines.c.order_id == order_id)
            .order_by(t.order_lines.c.position)
        ).all()
        return [
            RefundLine(r.id, r.bill_id, r.item_code, r.amount_fen, r.refunded_fen) for r in rows
        ]

    def _insert_lines(self, order_id: int, lines: Sequence[Allocation]) -> None:
        self.conn.execute(
            t.order_lines.insert(),
            [
                {
                    "order_id": order_id,
                    "position": position,
                    "bill_id": line.bill_id,
                    "item_code": line.item_code,
                    "amount_fen": line.amount_fen,
                    "refunded_fen": 0,
                }
                for position, line in enumerate(lines)
            ],
        )

    def reline(self, order_id: int, lines: Sequence[Allocation], total_fen: int) -> None:
        """Replace an unpaid order's lines and total (a held payment credited for less)."""
        self.conn.execute(delete(t.order_lines).where(t.order_lines.c.order_id == order_id))
        self._insert_lines(order_id, lines)
        self.conn.execute(
            update(t.orders).where(t.orders.c.id == order_id).values(total_fen=total_fen)
        )

    def add_line_refunds(self, parts: Iterable[tuple[int, int]]) -> None:
        params = [{"b_id": line_id, "b_amount": amount} for line_id, amount in parts]
        if params:
            self.conn.execute(_line_refund, params)


class SqlPayments:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = conn.dialect.name == "postgresql"

    @staticmethod
    def _record(row: Row[Any] | None) -> PaymentRecord | None:
        if row is None:
            return None
        return PaymentRecord(
            id=row.id,
            channel=row.channel,
            channel_txn_id=row.channel_txn_id,
            order_no=row.order_no,
            order_id=row.order_id,
            biller_id=row.biller_id,
            status=PaymentStatus(row.status),
            reason=row.reason,
            amount_fen=row.amount_fen,
            fee_fen=row.fee_fen,
            refunded_fen=row.refunded_fen,
            currency=row.currency,
            paid_at=_ts(row.paid_at),
            received_at=_ts(row.received_at),
        )

    def send_find(self, channel: str, channel_txn_id: str) -> DriverResult:
        """:meth:`find`, sent: :meth:`record_of` its rows."""
        return send_read(self.conn, _PAYMENT_BY_TXN, {"ch": channel, "txn": channel_txn_id})

    def record_of(self, rows: Sequence[Any]) -> PaymentRecord | None:
        return self._record(rows[0]) if rows else None

    def find(
        self, channel: str, channel_txn_id: str, *, lock: bool = False
    ) -> PaymentRecord | None:
        q = _PAYMENT_BY_TXN_LOCKED if lock and self._lock else _PAYMENT_BY_TXN
        rows = run_read(self.conn, q, {"ch": channel, "txn": channel_txn_id})
        return self._record(rows[0]) if rows else None

    def get(self, payment_id: int, *, lock: bool = False) -> PaymentRecord | None:
        q = select(t.payments).where(t.payments.c.id == payment_id)
        if lock and self._lock:
            q = q.with_for_update()
        return self._record(self.conn.execute(q).first())

    def for_order(self, order_id: int) -> list[PaymentRecord]:
        q = select(t.payments).where(t.payments.c.order_id == order_id).order_by(t.payments.c.id)
        return [r for r in (self._record(row) for row in self.conn.execute(q)) if r is not None]

    def insert(self, values: dict[str, Any]) -> int | None:
        """Insert a payment unless (channel, channel_txn_id) exists; ``None`` if it did.

        The unique key makes this the exactly-once gate: two concurrent inserts of the same
        transaction cannot both succeed; the loser waits for the winner and gets ``None``.
        """
        stmt = _payment_insert(self.conn.dialect.name)
        found = run_write(self.conn, stmt, values).scalar_one_or_none()
        return int(found) if found is not None else None

    def transition(self, payment_id: int, expected: PaymentStatus, new: PaymentStatus) -> bool:
        done = self.conn.execute(
            update(t.payments)
            .where(t.payments.c.id == payment_id, t.payments.c.status == expected.value)
            .values(status=new.value)
        ).rowcount
        return bool(done == 1)

    def credit_held(self, payment_id: int, fee_fen: int) -> bool:
        """Conditional update held → credited (with our fee); False if it was not held."""
        done = self.conn.execute(
            update(t.payments)
            .where(
                t.payments.c.id == payment_id,
                t.payments.c.status == PaymentStatus.HELD.value,
            )
            .values(status=PaymentStatus.CREDITED.value, fee_fen=fee_fen)
        ).rowcount
        return bool(done == 1)

    def add_refunded(self, payment_id: int, amount_fen: int) -> None:
        self.conn.execute(
            update(t.payments)
            .where(t.payments.c.id == payment_id)
            .values(refunded_fen=t.payments.c.refunded_fen + amount_fen)
        )

    def by_status(self, status: PaymentStatus) -> list[PaymentRecord]:
        q = select(t.payments).where(t.payments.c.status == status.value).order_by(t.payments.c.id)
        return [r for r in (self._record(row) for row in self.conn.execute(q)) if r is not None]


class SqlRefunds:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _record(row: Row[Any] | None) -> RefundRecord | None:
        if row is None:
            return None
        return RefundRecord(
            id=row.id,
            refund_no=row.refund_no,
            payment_id=row.payment_id,
            request_id=row.request_id,
            kind=RefundKind(row.kind),
            status=RefundStatus(row.status),
            amount_fen=row.amount_fen,
            fee_fen=row.fee_fen,
            reason=row.reason,
            requested_by=row.requested_by,
            channel_refund_id=row.channel_refund_id,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )

    def find(self, payment_id: int, request_id: str) -> RefundRecord | None:
        q = select(t.refunds).where(
            t.refunds.c.payment_id == payment_id, t.refunds.c.request_id == request_id
        )
        return self._record(self.conn.execute(q).first())

    def get_by_no(self, refund_no: str, *, lock: bool = False) -> RefundRecord | None:
        q = select(t.refunds).where(t.refunds.c.refund_no == refund_no)
        if lock and self.conn.dialect.name == "postgresql":
            q = q.with_for_update()
        return self._record(self.conn.execute(q).first())

    def insert(self, values: dict[str, Any]) -> int | None:
        stmt = (
            _insert(self.conn, t.refunds)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["payment_id", "request_id"])
            .returning(t.refunds.c.id)
        )
        found = self.conn.execute(stmt).scalar_one_or_none()
        return int(found) if found is not None else None

    def transition(
        self, refund_id: int, expected: Iterable[RefundStatus], new: RefundStatus, **values: Any
    ) -> bool:
        done = self.conn.execute(
            update(t.refunds)
            .where(t.refunds.c.id == refund_id, t.refunds.c.status.in_([s.value for s in expected]))
            .values(status=new.value, **values)
        ).rowcount
        return bool(done == 1)

    def for_payment(self, payment_id: int) -> list[RefundRecord]:
        q = select(t.refunds).where(t.refunds.c.payment_id == payment_id).order_by(t.refunds.c.id)
        return [r for r in (self._record(row) for row in self.conn.execute(q)) if r is not None]

    def pending(self, limit: int = 1000) -> list[RefundRecord]:
        q = (
            select(t.refunds)
            .where(t.refunds.c.status == RefundStatus.PENDING.value)
            .order_by(t.refunds.c.id)
            .limit(limit)
        )
        return [r for r in (self._record(row) for row in self.conn.execute(q)) if r is not None]
