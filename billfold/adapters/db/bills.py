"""Bills and their items in the database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select, text, update

from billfold.adapters.db import schema as t
from billfold.adapters.db.bulk import among, dialect_insert, insert_many
from billfold.adapters.db.fastpath import (
    DriverResult,
    as_date,
    check_later,
    run_read,
    run_write,
    send_read,
)
from billfold.collection.bill import LATE_FEE_CODE, Bill, BillItem, BillKind, Waiver
from billfold.collection.latefee import LateFeeKind, LateFeeRule, PrincipalPaid
from billfold.collection.order import OrderStatus
from billfold.collection.payment import BillCredit
from billfold.errors import ConcurrencyConflict, InvariantViolated

_item_update = (
    update(t.bill_items)
    .where(
        t.bill_items.c.bill_id == bindparam("b_bill_id"), t.bill_items.c.code == bindparam("b_code")
    )
    .values(
        paid_fen=bindparam("paid_fen"),
        waived_fen=bindparam("waived_fen"),
        refunded_fen=bindparam("refunded_fen"),
        amount_fen=bindparam("amount_fen"),
    )
)


_I = t.bill_items.c
_BILLS_WITH_ITEMS = (
    select(
        t.bills,
        _I.code.label("i_code"),
        _I.name.label("i_name"),
        _I.amount_fen.label("i_amount_fen"),
        _I.priority.label("i_priority"),
        _I.paid_fen.label("i_paid_fen"),
        _I.waived_fen.label("i_waived_fen"),
        _I.refunded_fen.label("i_refunded_fen"),
    )
    .select_from(t.bills.join(t.bill_items, _I.bill_id == t.bills.c.id))
    .where(t.bills.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(t.bills.c.id, _I.position)
)
# Lock the item rows too: under READ COMMITTED, PostgreSQL re-reads only the locked rows of a
# join after waiting for a lock; unlocked joined rows would come from the older snapshot.
_BILLS_WITH_ITEMS_LOCKED = _BILLS_WITH_ITEMS.with_for_update(of=[t.bills, t.bill_items])
_ORDER_BILLS = (
    select(*_BILLS_WITH_ITEMS.selected_columns)
    .select_from(t.bills.join(t.bill_items, _I.bill_id == t.bills.c.id))
    .where(
        t.bills.c.id.in_(
            select(t.order_lines.c.bill_id).where(t.order_lines.c.order_id == bindparam("order_id"))
        )
    )
    .order_by(t.bills.c.id, _I.position)
)
_ORDER_BILLS_LOCKED = _ORDER_BILLS.with_for_update(of=[t.bills, t.bill_items])
# the same by order number (the confirm path sends it before the order is read)
_ORDER_NO_BILLS_LOCKED = (
    select(*_BILLS_WITH_ITEMS.selected_columns)
    .select_from(t.bills.join(t.bill_items, _I.bill_id == t.bills.c.id))
    .where(
        t.bills.c.id.in_(
            select(t.order_lines.c.bill_id)
            .join(t.orders, t.orders.c.id == t.order_lines.c.order_id)
            .where(t.orders.c.order_no == bindparam("order_no"))
        )
    )
    .order_by(t.bills.c.id, _I.position)
    .with_for_update(of=[t.bills, t.bill_items])
)
#: PostgreSQL: a bill's items written back in one statement (the columns as arrays, one
#: element per item) instead of one UPDATE per item — what :data:`_item_update` does.
_ITEMS_UPDATE_PG = text(
    "UPDATE bill_items SET paid_fen = v.paid_fen, waived_fen = v.waived_fen, "
    "refunded_fen = v.refunded_fen, amount_fen = v.amount_fen "
    "FROM unnest(CAST(:codes AS VARCHAR[]), CAST(:paid AS BIGINT[]), CAST(:waived AS BIGINT[]), "
    "CAST(:refunded AS BIGINT[]), CAST(:amounts AS BIGINT[])) "
    "AS v(code, paid_fen, waived_fen, refunded_fen, amount_fen) "
    "WHERE bill_items.bill_id = :bill_id AND bill_items.code = v.code"
)
_SAVED_COLUMNS = [c.name for c in t.bills.c if c.name not in ("id", "content_hash", "created_at")]
_BILL_SAVE = (
    update(t.bills)
    .where(t.bills.c.id == bindparam("b_id"), t.bills.c.version == bindparam("b_version"))
    .values({column: bindparam(column) for column in _SAVED_COLUMNS})
)
#: What money moved onto or off a bill changes (:meth:`SqlBills.apply`): only these columns
#: are written, so the bill's other indexes (biller and number, payer, decision, creation)
#: and foreign keys are not rewritten with the values they already hold.
_MONEY_COLUMNS = (
    "status",
    "principal_fen",
    "paid_fen",
    "late_fee_paid_fen",
    "version",
    "updated_at",
)
_BILL_MONEY_SAVE = (
    update(t.bills)
    .where(t.bills.c.id == bindparam("b_id"), t.bills.c.version == bindparam("b_version"))
    .values({column: bindparam(column) for column in _MONEY_COLUMNS})
)


#: Orders whose lines reached their bills and still count (a reversed order does not).
_CREDITED_ORDERS = tuple(
    s.value for s in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)
)


#: From how many new bills at once their tables' statistics are looked at (PostgreSQL).
_ANALYZE_AFTER = 1000
#: The rows the planner believes ``bills`` has, and the rows it has (PostgreSQL).
_STATISTICS = (
    "SELECT c.reltuples, s.n_live_tup FROM pg_class c "
    "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = 'bills'::regclass"
)


@cache
def _bill_insert(dialect: str) -> Any:
    """An import's bills: a number stored meanwhile is skipped."""
    return dialect_insert(dialect)(t.bills).on_conflict_do_nothing(
        index_elements=["biller_id", "bill_no"]
    )


@cache
def _item_insert(dialect: str) -> Any:
    """An import's bill items: one stored meanwhile is skipped."""
    return dialect_insert(dialect)(t.bill_items).on_conflict_do_nothing(
        index_elements=["bill_id", "code"]
    )


@lru_cache(maxsize=256)
def _rule(text: str) -> LateFeeRule:
    return LateFeeRule.parse(text)


class SqlBills:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = conn.dialect.name == "postgresql"

    # -- writing -----------------------------------------------------------------------------
    def add(self, bill: Bill, content_hash: str, now: datetime) -> int:
        bill_id = self.conn.execute(
            t.bills.insert()
            .values(
                **self._columns(bill), content_hash=content_hash, created_at=now, updated_at=now
            )
            .returning(t.bills.c.id)
        ).scalar_one()
        self.conn.execute(
            t.bill_items.insert(),
            [self._item_row(bill_id, position, item) for position, item in enumerate(bill.items)],
        )
        bill.id = int(bill_id)
        return bill.id

    def add_many(self, bills: Sequence[tuple[Bill, str]], now: datetime) -> list[str]:
        """Store new bills and their items set-based: one executemany of the bills, one read
        of their ids, one executemany of the items (on the driver's cursor, see
        :mod:`billfold.adapters.db.fastpath`: SQLAlchemy's per-row parameter processing
        would cost more than the database does for an import of 200,000 bills).

        A bill number already stored — by someone else since the caller looked — is not
        written; those numbers are returned. On SQLite the transaction holds the write lock,
        so the look taken here is exact; on PostgreSQL the INSERT skips a number inserted
        meanwhile (ON CONFLICT DO NOTHING), and a row found with another content hash is
        returned as already stored."""
        if not bills:
            return []
        biller_ids = {bill.biller_id for bill, _ in bills}
        if len(biller_ids) != 1:
            raise InvariantViolated("add_many stores the bills of one biller at a time")
        (biller_id,) = biller_ids
        before = self.content_hashes(biller_id, [bill.bill_no for bill, _ in bills])
        fresh = [(bill, digest) for bill, digest in bills if bill.bill_no not in before]
        if fresh:
            insert_many(
                self.conn,
                _bill_insert(self.conn.dialect.name),
                [
                    {**self._columns(bill), "content_hash": digest, "created_at": now,
                     "updated_at": now}
                    for bill, digest in fresh
                ],
                copy=True,
            )  # fmt: skip
        stored = self._ids(biller_id, [bill.bill_no for bill, _ in fresh])
        items = []
        taken = list(before)
        for bill, digest in fresh:
            found = stored.get(bill.bill_no)
            if found is None or found[1] != digest:
                taken.append(bill.bill_no)
                continue
            bill.id = found[0]
            items += [self._item_row(bill.id, n, item) for n, item in enumerate(bill.items)]
        if items:
            insert_many(self.conn, _item_insert(self.conn.dialect.name), items, copy=True)
        if self._lock and len(fresh) >= _ANALYZE_AFTER:
            self._refresh_statistics(len(fresh))
        return taken

    def _refresh_statistics(self, added: int) -> None:
        """PostgreSQL: a bulk load outgrows the planner's statistics (a new table looks
        empty), and then the next chunk's lookups by bill number scan the whole table. The
        tables are analyzed again whenever they have doubled since the last time."""
        planned, live = self.conn.exec_driver_sql(_STATISTICS).one()
        if planned < 0 or 2 * planned < live + added:
            self.conn.exec_driver_sql("ANALYZE bills, bill_items, payers")

    def _ids(self, biller_id: int, bill_nos: Sequence[str]) -> dict[str, tuple[int, str]]:
        """``bill_no -> (id, content_hash)`` of the stored bills among ``bill_nos``."""
        b = t.bills.c
        found: dict[str, tuple[int, str]] = {}
        for wanted in among(self.conn, b.bill_no, bill_nos):
            rows = self.conn.execute(
                select(b.id, b.bill_no, b.content_hash).where(b.biller_id == biller_id, wanted)
            )
            found.update((row.bill_no, (int(row.id), row.content_hash)) for row in rows)
        return found

    @staticmethod
    def _item_row(bill_id: int, position: int, item: BillItem) -> dict[str, Any]:
        return {
            "bill_id": bill_id,
            "position": position,
            "code": item.code,
            "name": item.name,
            "amount_fen": item.amount_fen,
            "priority": item.priority,
            "paid_fen": item.paid_fen,
            "waived_fen": item.waived_fen,
            "refunded_fen": item.refunded_fen,
        }

    @staticmethod
    def _columns(bill: Bill) -> dict[str, Any]:
        return {
            "biller_id": bill.biller_id,
            "bill_no": bill.bill_no,
            "payer_id": bill.payer_id,
            "kind": bill.kind.value,
            "status": bill.stored_status.value,
            "currency": bill.currency,
            "due_date": bill.due_date,
            "late_fee_rule": bill.late_fee_rule.describe(),
            "allow_partial": bill.allow_partial,
            "min_part_fen": bill.min_part_fen,
            "open_min_fen": bill.open_min_fen,
            "open_max_fen": bill.open_max_fen,
            "decision_no": bill.decision_no,
            "sub_unit": bill.sub_unit,
            "period": bill.period,
            "description": bill.description,
            "principal_fen": bill.principal_fen,
            "paid_fen": bill.paid_fen,
            "late_fee_paid_fen": bill.late_fee_paid_fen,
            "cancel_reason": bill.cancel_reason,
            "version": bill.version,
        }

    def save(self, bill: Bill, now: datetime) -> None:
        """Write a changed bill back, only if nobody changed it since it was read."""
        self._write(bill, _BILL_SAVE, self._columns(bill), now)

    def _write(self, bill: Bill, statement: Any, columns: dict[str, Any], now: datetime) -> None:
        """The bill's row (if its version is still the one read) and its items."""
        if bill.id is None:
            raise InvariantViolated("bill.id is missing")
        columns.update(
            version=bill.version + 1, updated_at=now, b_id=bill.id, b_version=bill.version
        )
        done = run_write(self.conn, statement, columns)

        def saved(bill_no: str = bill.bill_no) -> None:
            if done.rowcount != 1:
                raise ConcurrencyConflict(f"bill {bill_no} was changed meanwhile; try again")

        check_later(self.conn, saved)  # in a pipeline: when it next synchronizes
        bill.version += 1
        if self.conn.dialect.name == "postgresql":  # every item in one statement
            run_write(self.conn, _ITEMS_UPDATE_PG, self._items_arrays(bill.id, bill.items))
            return
        run_write(
            self.conn, _item_update, [self._item_params(bill.id, item) for item in bill.items]
        )

    @staticmethod
    def _items_arrays(bill_id: int, items: Sequence[BillItem]) -> dict[str, Any]:
        return {
            "bill_id": bill_id,
            "codes": [item.code for item in items],
            "paid": [item.paid_fen for item in items],
            "waived": [item.waived_fen for item in items],
            "refunded": [item.refunded_fen for item in items],
            "amounts": [item.amount_fen for item in items],
        }

    @staticmethod
    def _item_params(bill_id: int, item: BillItem) -> dict[str, Any]:
        return {
            "b_bill_id": bill_id,
            "b_code": item.code,
            "paid_fen": item.paid_fen,
            "waived_fen": item.waived_fen,
            "refunded_fen": item.refunded_fen,
            "amount_fen": item.amount_fen,
        }

    def apply(self, bills: Sequence[Bill], credits: Iterable[BillCredit], now: datetime) -> None:
        """Add credits (negative amounts take money back) to locked bills and save them:
        what money changes only (status, amounts; the items), like :meth:`save` only if
        nobody changed the bill since it was read."""
        by_id = {bill.id: bill for bill in bills}
        for credit in credits:
            bill = by_id[credit.bill_id]
            if credit.item_code == LATE_FEE_CODE:
                bill.late_fee_paid_fen += credit.amount_fen
            else:
                item = bill.item(credit.item_code)
                if bill.kind is BillKind.OPEN:
                    item.amount_fen += credit.amount_fen
                item.paid_fen += credit.amount_fen
        for bill in bills:  # only what money changes: status, amounts, version
            money = {
                "status": bill.stored_status.value,
                "principal_fen": bill.principal_fen,
                "paid_fen": bill.paid_fen,
                "late_fee_paid_fen": bill.late_fee_paid_fen,
            }
            self._write(bill, _BILL_MONEY_SAVE, money, now)

    def add_waiver(self, bill_id: int, waiver: Waiver) -> None:
        self.conn.execute(
            t.waivers.insert().values(
                bill_id=bill_id,
                item_code=waiver.item_code,
                amount_fen=waiver.amount_fen,
                reason=waiver.reason,
                granted_by=waiver.granted_by,
                created_at=waiver.granted_at,
                request_id=waiver.request_id,
            )
        )

    def add_items(self, bill_id: int, items: Sequence[BillItem]) -> None:
        last = self.conn.execute(
            select(func.coalesce(func.max(t.bill_items.c.position), -1)).where(
                t.bill_items.c.bill_id == bill_id
            )
        ).scalar_one()
        self.conn.execute(
            t.bill_items.insert(),
            [
                {
                    "bill_id": bill_id,
                    "position": int(last) + 1 + offset,
                    "code": item.code,
                    "name": item.name,
                    "amount_fen": item.amount_fen,
                    "priority": item.priority,
                    "paid_fen": 0,
                    "waived_fen": 0,
                    "refunded_fen": 0,
                }
                for offset, item in enumerate(items)
            ],
        )

    def find_waiver(self, bill_id: int, request_id: str) -> Waiver | None:
        w = t.waivers
        row = self.conn.execute(
            select(w).where(w.c.bill_id == bill_id, w.c.request_id == request_id)
        ).first()
        if row is None:
            return None
        return Waiver(
            row.item_code or "*",
            row.amount_fen,
            row.reason,
            row.granted_by,
            row.created_at,
            row.request_id,
        )

    # -- reading -----------------------------------------------------------------------------
    def _hydrate(self, rows: Sequence[Row[Any]]) -> list[Bill]:
        if not rows:
            return []
        ids = [row.id for row in rows]
        items: dict[int, list[BillItem]] = defaultdict(list)
        for item in self.conn.execute(
            select(t.bill_items)
            .where(t.bill_items.c.bill_id.in_(ids))
            .order_by(t.bill_items.c.bill_id, t.bill_items.c.position)
        ):
            items[item.bill_id].append(
                BillItem(
                    code=item.code,
                    name=item.name,
                    amount_fen=item.amount_fen,
                    priority=item.priority,
                    paid_fen=item.paid_fen,
                    waived_fen=item.waived_fen,
                    refunded_fen=item.refunded_fen,
                )
            )
        return self._with_history([self._bill(row, items[row.id]) for row in rows])

    @staticmethod
    def _bill(row: Row[Any], items: list[BillItem]) -> Bill:
        bill = Bill.__new__(Bill)  # stored bills skip the creation checks (open bills grow)
        bill.biller_id = row.biller_id
        bill.bill_no = row.bill_no
        bill.payer_id = row.payer_id
        bill.items = items
        bill.kind = BillKind(row.kind)
        bill.due_date = as_date(row.due_date)
        bill.late_fee_rule = _rule(row.late_fee_rule)
        bill.allow_partial = bool(row.allow_partial)
        bill.min_part_fen = row.min_part_fen
        bill.open_min_fen = row.open_min_fen
        bill.open_max_fen = row.open_max_fen
        bill.decision_no = row.decision_no
        bill.sub_unit = row.sub_unit
        bill.period = row.period
        bill.description = row.description
        bill.currency = row.currency
        bill.late_fee_paid_fen = row.late_fee_paid_fen
        bill.cancelled = row.status == "cancelled"
        bill.cancel_reason = row.cancel_reason
        bill.principal_paid = ()
        bill.id = row.id
        bill.version = row.version
        return bill

    def get(self, bill_id: int, *, lock: bool = False) -> Bill | None:
        found = self.get_many([bill_id], lock=lock)
        return found[0] if found else None

    def get_many(self, bill_ids: Iterable[int], *, lock: bool = False) -> list[Bill]:
        """Bills with their items in one query; ``lock`` takes the bill rows FOR UPDATE."""
        q = _BILLS_WITH_ITEMS_LOCKED if lock and self._lock else _BILLS_WITH_ITEMS
        return self._grouped(self.conn.execute(q, {"ids": sorted(set(bill_ids))}).all())

    def for_order(self, order_id: int, *, lock: bool = False) -> list[Bill]:
        """The bills an order pays, with their items, in one query (the confirm path)."""
        q = _ORDER_BILLS_LOCKED if lock and self._lock else _ORDER_BILLS
        return self._grouped(run_read(self.conn, q, {"order_id": order_id}))

    def send_for_order_no(self, order_no: str) -> DriverResult:
        """:meth:`for_order` (locked, PostgreSQL) by the order's number, sent: read it with
        :meth:`of_rows`."""
        return send_read(self.conn, _ORDER_NO_BILLS_LOCKED, {"order_no": order_no})

    def of_rows(self, rows: Sequence[Any]) -> list[Bill]:
        return self._grouped(rows)

    def _grouped(self, rows: Sequence[Any]) -> list[Bill]:
        bills: list[Bill] = []
        for row in rows:
            if not bills or bills[-1].id != row.id:
                bills.append(self._bill(row, []))
            bills[-1].items.append(
                BillItem(
                    code=row.i_code,
                    name=row.i_name,
                    amount_fen=row.i_amount_fen,
                    priority=row.i_priority,
                    paid_fen=row.i_paid_fen,
                    waived_fen=row.i_waived_fen,
                    refunded_fen=row.i_refunded_fen,
                )
            )
        return self._with_history(bills)

    def _with_history(self, bills: list[Bill]) -> list[Bill]:
        """Fill in the principal paid by business date, which late fees accrue on — only
        for bills that can owe a late fee and have principal paid (no query otherwise)."""
        wanted = [
            bill.id
            for bill in bills
            if bill.id is not None
            and bill.paid_fen > 0
            and bill.due_date is not None
            and bill.late_fee_rule.kind is not LateFeeKind.NONE
        ]
        if not wanted:
            return bills
        lines, orders, payments = t.order_lines, t.orders, t.payments
        standing = func.sum(lines.c.amount_fen - lines.c.refunded_fen)
        rows = self.conn.execute(
            select(lines.c.bill_id, payments.c.business_date, standing)
            .select_from(
                lines.join(orders, orders.c.id == lines.c.order_id).join(
                    payments, payments.c.id == orders.c.payment_id
                )
            )
            .where(
                lines.c.bill_id.in_(wanted),
                lines.c.item_code != LATE_FEE_CODE,
                orders.c.status.in_(_CREDITED_ORDERS),
            )
            .group_by(lines.c.bill_id, payments.c.business_date)
            .order_by(lines.c.bill_id, payments.c.business_date)
        ).all()
        history: dict[int, list[PrincipalPaid]] = defaultdict(list)
        for bill_id, on, amount in rows:
            if amount:
                day = as_date(on)
                if day is None:
                    raise InvariantViolated("day is missing")
                history[bill_id].append(PrincipalPaid(day, int(amount)))
        for bill in bills:
            if bill.id in history:
                bill.principal_paid = tuple(history[bill.id])
        return bills

    def get_by_no(self, biller_id: int, bill_no: str, *, lock: bool = False) -> Bill | None:
        q = select(t.bills).where(t.bills.c.biller_id == biller_id, t.bills.c.bill_no == bill_no)
        if lock and self._lock:
            q = q.with_for_update()
        found = self._hydrate(self.conn.execute(q).all())
        return found[0] if found else None

    def content_hashes(self, biller_id: int, bill_nos: Iterable[str]) -> dict[str, str]:
        result: dict[str, str] = {}
        for wanted in among(self.conn, t.bills.c.bill_no, list(set(bill_nos))):
            for row in self.conn.execute(
                select(t.bills.c.bill_no, t.bills.c.content_hash).where(
                    t.bills.c.biller_id == biller_id, wanted
                )
            ):
                result[row.bill_no] = row.content_hash
        return result

    def for_payer(self, payer_ids: Iterable[int], *, only_payable: bool = True) -> list[Bill]:
        q = select(t.bills).where(t.bills.c.payer_id.in_(list(payer_ids)))
        if only_payable:
            q = q.where(t.bills.c.status.in_(["open", "partially_paid"]))
        return self._hydrate(self.conn.execute(q.order_by(t.bills.c.due_date, t.bills.c.id)).all())

    def by_decision_no(self, decision_no: str) -> list[Bill]:
        q = select(t.bills).where(t.bills.c.decision_no == decision_no).order_by(t.bills.c.id)
        return self._hydrate(self.conn.execute(q).all())

    def for_biller(self, biller_id: int) -> list[Bill]:
        q = select(t.bills).where(t.bills.c.biller_id == biller_id).order_by(t.bills.c.id)
        return self._hydrate(self.conn.execute(q).all())
