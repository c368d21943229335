"""Confirm-path benchmark: billfold's ``Engine.confirm`` against two hand-written baselines.

    python benchmarks/confirm.py [--n 2000] [--backends sqlite,postgresql] [--pg-url URL]
                                 [--smoke] [--log-level INFO] [--show-statements] [--profile]

For each backend a throwaway database is created (SQLite: a temporary file in WAL mode with
the pragmas of ``billfold.adapters.db.connect.make_engine``; PostgreSQL: ``CREATE DATABASE
bench_<pid>_<rand>``, dropped at the end) and migrated with ``billfold.adapters.db.migrate``.
Setup, not timed: one biller with a 60 bps fee rule on the benchmark channel, one two-item
bill (tuition + books) per order, one order per bill.

Timed, in alternating blocks (each side goes first in turn) so that drift (WAL checkpoints,
autovacuum, CPU frequency, the other work on a shared machine) hits every side alike:

* billfold: ``engine.confirm(...)`` per order, sequentially, one transaction each, with
  production logging (``configure_logging(json=True)``; the lines go to /dev/null);
* yardstick (the external baseline, issue 16): the minimal confirmation transaction written
  by hand on one plain sqlite3 / psycopg connection, on its own four small tables — the
  payment inserted ON CONFLICT DO NOTHING, the order moved only if still payable, two
  journal rows (one executemany), one outbox row; one transaction each. Nothing is read
  first, locked, chained or checked. Targets: billfold >= 0.5 of it on PostgreSQL and
  >= 0.3 on SQLite (wall clock; the CPU ratio is printed beside it);
* replay (the second baseline): the same confirmation for another, equivalent set of orders,
  sending billfold's own statements by hand on one sqlite3 / psycopg connection — what
  billfold costs over the SQL it chose;
* unchained: ``engine.confirm(...)`` for a fourth set, with the journal's hash chain swapped
  out for this side only (``unchained()``: entries written as before chaining, constants in
  the chain's columns, no head locked, nothing hashed; on SQLite the chain's two triggers
  dropped during its blocks, outside the timing). The chain's cost is
  ``1 - billfold ÷ unchained`` (budget: 5%).

Wall clock and CPU are both measured: CPU is this process's (``time.process_time``) plus, on
PostgreSQL, that of the server processes serving the benchmark's database (read from
``/proc/<pid>/stat``; the server runs on this machine), printed per confirmation as
``client + server`` ms.

How the replay was made equivalent: a SQLAlchemy ``before_cursor_execute`` listener (and the
fast path's ``STATEMENT_HOOKS``) records every statement billfold sends for one
confirmation (``--show-statements`` prints that list). The replay sends the same statements
in the same order: the payment looked up by (channel, txn); the order (FOR UPDATE on
PostgreSQL) and its lines; the biller, its fee rule; the bills (FOR UPDATE on PostgreSQL)
and their items; INSERT payment ON CONFLICT DO NOTHING RETURNING id; the conditional order
update; the versioned UPDATE of every bill column and its items' UPDATE (on PostgreSQL one
statement taking the columns as arrays, on SQLite one executemany);
the journal chain's head locked and read with the entries' ids reserved, the entries
(hashed by hand, docs/journal.md), their postings and the head moved (on PostgreSQL in one
statement, as billfold does; on SQLite one executemany each, the head moved by the chain's
trigger); the outbox events (on PostgreSQL one multi-row INSERT, on SQLite one
executemany); COMMIT. The replay sends them one round trip
each; billfold, on PostgreSQL, pipelines them (five round trips a confirmation, the
COMMIT queued with the last writes — the extra ``COMMIT`` in its statement list). Every
run compares both sides' statement shapes (verb, table, FOR UPDATE, ON CONFLICT,
RETURNING, executemany); a difference is printed as a warning, because it means the core's
confirm path changed and the replay must follow it.

After the run every order must be paid by exactly one credited payment, every bill paid in
full, every payment journalled with two entries and four postings and announced by two
outbox events, repeats must be recognised, ``engine.check_books()`` must be ``[]``, the
biller's chain (billfold's and the replay's entries, interleaved) must verify, and the
yardstick's tables must hold one payment, two journal rows and one outbox row per order.
If not, the exit status is 1. A ratio below its target is printed, not an error.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import itertools
import json
import os
import pstats
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import _shared
import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from billfold import Biller, BillerKind, Engine, FeeRule, FixedClock
from billfold.adapters.db import fastpath, ledger, migrate
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.collection.verifying import verify_journal
from billfold.logging import configure_logging
from billfold.testing import orders_for_every_bill, scratch_pg_database

T0 = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
BILLER = "bench"
CHANNEL = "bench"
FEE_RULE = FeeRule(CHANNEL, bps=60, min_fen=1)
#: billfold ÷ the minimal transaction (the yardstick), wall clock, issue 16
TARGETS = {"postgresql": 0.50, "sqlite": 0.30}
CHAIN_BUDGET = 0.05
DEFAULT_N = 2000
SMOKE_N = 50
BACKENDS = _shared.BACKENDS
SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite


class BenchFailure(Exception):
    """The benchmark itself went wrong (a confirmation was not credited, a check failed)."""


# -- the raw baseline -----------------------------------------------------------------------------

PAYMENT_COLUMNS = (
    "id, channel, channel_txn_id, order_no, order_id, biller_id, status, reason, amount_fen, "
    "fee_fen, refunded_fen, currency, paid_at, received_at, business_date"
)
SQL = {
    "payment_by_txn": f"SELECT {PAYMENT_COLUMNS} FROM payments "
    "WHERE channel = ? AND channel_txn_id = ?",
    "order": "SELECT o.id, o.order_no, o.biller_id, o.payer_id, o.status, o.total_fen, "
    "o.refunded_fen, o.currency, o.channel, o.idempotency_key, o.failure_reason, o.payment_id, "
    "o.created_at, o.expires_at, o.paid_at, o.business_date, l.bill_id, b.bill_no, l.item_code, "
    "l.amount_fen FROM orders o JOIN order_lines l ON l.order_id = o.id "
    "JOIN bills b ON b.id = l.bill_id WHERE o.order_no = ? ORDER BY l.position{lock_order}",
    "biller": "SELECT b.code, b.timezone, f.kind, f.bps, f.min_fen, f.max_fen, f.fixed_fen "
    "FROM billers b LEFT OUTER JOIN fee_rules f ON f.biller_id = b.id AND f.channel = ? "
    "WHERE b.id = ?",
    "bills": "SELECT b.id, b.biller_id, b.bill_no, b.payer_id, b.kind, b.status, b.currency, "
    "b.due_date, b.late_fee_rule, b.allow_partial, b.min_part_fen, b.open_min_fen, "
    "b.open_max_fen, b.decision_no, b.sub_unit, b.period, b.description, b.principal_fen, "
    "b.paid_fen, b.late_fee_paid_fen, b.content_hash, b.cancel_reason, b.version, b.created_at, "
    "b.updated_at, i.code, i.name, i.amount_fen, i.priority, i.paid_fen, i.waived_fen, "
    "i.refunded_fen FROM bills b JOIN bill_items i ON i.bill_id = b.id "
    "WHERE b.id IN ({marks}) ORDER BY b.id, i.position{lock_bills}",
    "insert_payment": "INSERT INTO payments (channel, channel_txn_id, order_no, order_id, "
    "biller_id, status, reason, amount_fen, fee_fen, refunded_fen, currency, paid_at, "
    "received_at, business_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (channel, channel_txn_id) DO NOTHING RETURNING id",
    "update_order": "UPDATE orders SET status = ?, channel = ?, payment_id = ?, paid_at = ? "
    "WHERE id = ? AND status IN (?, ?)",
    "update_bill": "UPDATE bills SET status = ?, principal_fen = ?, paid_fen = ?, "
    "late_fee_paid_fen = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?",
    "update_items": "UPDATE bill_items SET amount_fen = ?, paid_fen = ?, waived_fen = ?, "
    "refunded_fen = ? WHERE bill_id = ? AND code = ?",
    "lock_head": "SELECT h.seq, h.last_hash, h.last_date, h.sealed_through, b.timezone, "
    "{ids} FROM journal_chains h LEFT JOIN billers b ON b.code = h.chain "
    "WHERE h.chain = ?{lock_head}",
    "insert_entries": "INSERT INTO journal_entries (id, kind, memo, payment_id, refund_id, "
    "created_at, chain, chain_seq, business_date, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "insert_postings": "INSERT INTO journal_postings (entry_id, account, amount_fen, bill_id, "
    "currency) VALUES (?, ?, ?, ?, ?)",
    "update_items_pg": "UPDATE bill_items SET amount_fen = v.amount_fen, paid_fen = v.paid_fen, "
    "waived_fen = v.waived_fen, refunded_fen = v.refunded_fen FROM unnest(?::varchar[], "
    "?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) "
    "AS v(code, amount_fen, paid_fen, waived_fen, refunded_fen) "
    "WHERE bill_items.bill_id = ? AND bill_items.code = v.code",
    "insert_events": "INSERT INTO outbox_events (event_id, event_type, biller_id, payload, "
    "created_at, fanned_out) VALUES (?, ?, ?, ?, ?, ?)",
}


class Cursor(Protocol):
    """What the baseline needs of a DBAPI cursor (sqlite3 and psycopg both fit)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class RawDb:
    """One plain DBAPI connection, and the few differences between the two dialects."""

    def __init__(self, backend: str, conn: Any) -> None:
        self.pg = backend == "postgresql"
        self.conn = conn
        self.cur = conn.cursor()
        locks = {
            "{lock_order}": " FOR UPDATE OF o" if self.pg else "",
            "{lock_bills}": " FOR UPDATE OF b, i" if self.pg else "",
            "{lock_head}": " FOR UPDATE OF h" if self.pg else "",
            "{ids}": "ARRAY(SELECT nextval('journal_entries_id_seq') FROM generate_series(1, ?))"
            if self.pg
            else "(SELECT coalesce(max(id), 0) FROM journal_entries) + ?",
        }
        self.sql = dict(SQL)
        for mark, lock in locks.items():
            self.sql = {k: v.replace(mark, lock) for k, v in self.sql.items()}
        if self.pg:
            self.sql = {k: v.replace("?", "%s") for k, v in self.sql.items()}
        self.mark = "%s" if self.pg else "?"
        self.record: list[str] | None = None  # statement shapes, while recording

    def _run(self, name: str, params: Sequence[Any], marks: int = 0, many: bool = False) -> Cursor:
        sql = self.sql[name]
        if marks:
            sql = sql.replace("{marks}", ", ".join([self.mark] * marks))
        if self.record is not None:
            self.record.append(shape(sql, many))
        if many:
            self.cur.executemany(sql, params)
        else:
            self.cur.execute(sql, params)
        cursor: Cursor = self.cur
        return cursor

    def at_once(
        self, head: Sequence[Any], entries: list[Sequence[Any]], postings: list[Sequence[Any]]
    ) -> None:
        """PostgreSQL: move the head, write the entries and their postings, one statement."""
        shape_key = f"at_once_{len(entries)}_{len(postings)}"
        if shape_key not in self.sql:
            entry_row = "(" + ", ".join(["%s"] * 11) + ")"
            posting_row = "(%s, %s, %s, %s, %s)"
            self.sql[shape_key] = (
                "WITH head AS (UPDATE journal_chains SET seq = %s, last_hash = %s, "
                "last_date = %s WHERE chain = %s), entries AS (INSERT INTO journal_entries "
                "(id, kind, memo, payment_id, refund_id, created_at, chain, chain_seq, "
                "business_date, prev_hash, hash) VALUES "
                + ", ".join([entry_row] * len(entries))
                + ") INSERT INTO journal_postings "
                + "(entry_id, account, amount_fen, bill_id, currency) VALUES "
                + ", ".join([posting_row] * len(postings))
            )
        flat = [*head, *(v for row in entries for v in row), *(v for row in postings for v in row)]
        self._run(shape_key, flat)

    def update_items(self, bill_id: int, items: dict[str, list[Any]]) -> None:
        """A bill's items written back: on PostgreSQL one statement with the columns as
        arrays (as billfold does), elsewhere one executemany."""
        if not self.pg:
            self.many("update_items", [(*i, bill_id, code) for code, i in items.items()])
            return
        columns = list(zip(*items.values(), strict=True))  # amount, paid, waived, refunded
        self._run("update_items_pg", [list(items), *map(list, columns), bill_id])

    def insert_events(self, rows: list[Sequence[Any]]) -> None:
        """Outbox rows: on PostgreSQL one multi-row INSERT (as billfold does)."""
        if not self.pg:
            self.many("insert_events", rows)
            return
        name = f"insert_events_{len(rows)}"
        if name not in self.sql:
            head = self.sql["insert_events"].split(" VALUES ")[0]
            row = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
            self.sql[name] = head + " VALUES " + ", ".join([row] * len(rows))
        self._run(name, [v for r in rows for v in r])

    def one(self, name: str, params: Sequence[Any]) -> Any:
        return self._run(name, params).fetchone()

    def all(self, name: str, params: Sequence[Any], marks: int = 0) -> list[Any]:
        return self._run(name, params, marks).fetchall()

    def change(self, name: str, params: Sequence[Any]) -> int:
        return self._run(name, params).rowcount

    def many(self, name: str, rows: Sequence[Sequence[Any]]) -> None:
        self._run(name, rows, many=True)

    def begin(self) -> None:
        if not self.pg:  # psycopg opens the transaction with the first statement
            self.cur.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.pg:
            self.conn.commit()
        else:
            self.cur.execute("COMMIT")

    def rollback(self) -> None:
        if self.pg:
            self.conn.rollback()
        else:
            self.cur.execute("ROLLBACK")

    def ts(self, value: datetime) -> Any:
        return value if self.pg else value.astimezone(UTC).strftime(SQLITE_TS)

    def day(self, value: date) -> Any:
        return value if self.pg else value.isoformat()

    def close(self) -> None:
        self.cur.close()
        self.conn.close()


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _fee(rule: Sequence[Any], amount: int) -> int:
    """A fee rule (kind, bps, min, max, fixed) applied."""
    if rule[0] == "fixed":
        return min(int(rule[4]), amount)
    fee = max(int(rule[2]), (amount * int(rule[1]) + 5000) // 10000)  # half up
    return min(fee, amount if rule[3] is None else int(rule[3]), amount)


def _event(event_type: str, biller_id: int, data: dict[str, Any], now: datetime) -> list[Any]:
    event_id = ledger.new_event_id()  # time-ordered, as billfold's
    body = {"id": event_id, "type": event_type, "created_at": now.isoformat(), "data": data}
    return [event_id, event_type, biller_id, json.dumps(body, ensure_ascii=False, sort_keys=True)]


def raw_confirm(
    db: RawDb, txn: str, order_no: str, amount: int, paid_at: datetime, now: datetime
) -> bool:
    """Credit one order by hand-written SQL, one transaction. False if ``txn`` was seen."""
    db.begin()
    try:
        if db.one("payment_by_txn", (CHANNEL, txn)) is not None:
            db.rollback()
            return False
        rows = db.all("order", (order_no,))
        if not rows:
            raise BenchFailure(f"raw: order {order_no} not found")
        order = rows[0]
        order_id, _no, biller_id, _payer, status, total, _refunded, currency, *_ = order
        lines = [row[16:20] for row in rows]
        biller = db.one("biller", (CHANNEL, biller_id))
        bill_ids = sorted({line[0] for line in lines})
        joined = db.all("bills", bill_ids, marks=len(bill_ids))
        bills = list({row[0]: row[:25] for row in joined}.values())
        items: dict[int, dict[str, list[Any]]] = {bill_id: {} for bill_id in bill_ids}
        for row in joined:
            items[row[0]][row[25]] = [
                row[27],
                row[29],
                row[30],
                row[31],
            ]  # amount paid waived refunded
        if (
            status not in ("created", "paying")
            or amount != total
            or currency != "CNY"
            or not db.ts(paid_at) < order[13]  # expires_at
        ):
            raise BenchFailure(f"raw: order {order_no} cannot be credited")
        credited: dict[int, int] = {}
        for bill_id, _bill_no, code, line_amount in lines:
            item = items[bill_id][code]
            if item[0] - item[1] - item[2] - item[3] < line_amount:
                raise BenchFailure(f"raw: bill {bill_id} item {code} is already paid")
            item[1] += line_amount
            credited[bill_id] = credited.get(bill_id, 0) + line_amount
        fee = _fee(biller[2:], amount) if biller[2] is not None else 0
        today = paid_at.astimezone(ZoneInfo(biller[1])).date()
        payment_id = db.one(
            "insert_payment",
            (CHANNEL, txn, order_no, order_id, biller_id, "credited", None, amount, fee, 0,
             currency, db.ts(paid_at), db.ts(now), db.day(today)),
        )  # fmt: skip
        if payment_id is None:  # a concurrent delivery of the same transaction won
            db.rollback()
            return False
        payment_id = payment_id[0]
        moved = db.change(
            "update_order",
            ("paid", CHANNEL, payment_id, db.ts(paid_at), order_id, "created", "paying"),
        )
        if moved != 1:
            raise BenchFailure(f"raw: order {order_no} changed while it was locked")
        paid_off: set[int] = set()
        for b in bills:
            stored = items[b[0]].values()
            principal = sum(i[0] for i in stored)
            paid = sum(i[1] for i in stored)
            owed = sum(i[0] - i[1] - i[2] - i[3] for i in stored)
            if owed == 0:
                paid_off.add(b[0])
            done = db.change(
                "update_bill",
                ("paid" if owed == 0 else "partially_paid", principal, paid, b[19], b[22] + 1,
                 db.ts(now), b[0], b[22]),
            )  # fmt: skip
            if done != 1:
                raise BenchFailure(f"raw: bill {b[0]} changed meanwhile")
            db.update_items(b[0], items[b[0]])
        payable = f"payable:{biller[0]}"
        now_ts = db.ts(now)
        entries: list[tuple[str, str, list[tuple[str, int, int | None]]]] = [
            (
                "payment",
                f"{CHANNEL} {txn}",
                [(f"clearing:{CHANNEL}", amount, None)]
                + [(payable, -credit, bill) for bill, credit in credited.items()],
            )
        ]
        if fee:
            entries.append(("fee", order_no, [(payable, fee, None), ("fee_income", -fee, None)]))
        raw_journal(db, biller[0], biller[1], entries, payment_id, now)
        confirmed = {
            "payment_id": payment_id,
            "channel": CHANNEL,
            "channel_txn_id": txn,
            "order_no": order_no,
            "amount": _yuan(amount),
            "amount_fen": amount,
            "paid_at": paid_at.isoformat(),
            "status": "credited",
            "reason": None,
        }
        events = [_event("payment.confirmed", biller_id, confirmed, now)]
        names = {b[0]: b[2] for b in bills}
        for bill_id in sorted(credited):
            kind = "bill.paid" if bill_id in paid_off else "bill.partially_paid"
            data = {
                "bill_no": names[bill_id],
                "amount_fen": credited[bill_id],
                "order_no": order_no,
            }
            events.append(_event(kind, biller_id, data, now))
        db.insert_events([(*e, now_ts, False) for e in events])
        db.commit()
        return True
    except BaseException:
        db.rollback()
        raise


def _chain_hash(content: dict[str, Any]) -> str:
    text_value = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text_value.encode()).hexdigest()


def raw_journal(
    db: RawDb,
    chain: str,
    zone: str,
    entries: list[tuple[str, str, list[tuple[str, int, int | None]]]],
    payment_id: int,
    now: datetime,
) -> None:
    """The entries chained by hand (docs/journal.md): lock the head and reserve the ids in
    one statement, then the entries and their postings (docs/journal.md)."""
    seq, prev, last_date, _sealed, _tz, ids = db.one("lock_head", (len(entries), chain))
    if isinstance(ids, int):  # SQLite: the last of the reserved ids
        ids = list(range(ids - len(entries) + 1, ids + 1))
    day = now.astimezone(ZoneInfo(zone)).date()
    if last_date is not None and str(last_date) > day.isoformat():
        day = date.fromisoformat(str(last_date))
    at = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rows, postings = [], []
    for entry_id, (kind, memo, lines) in zip(ids, entries, strict=True):
        seq += 1
        content = {
            "v": 1, "chain": chain, "seq": seq, "id": entry_id, "prev_hash": prev, "kind": kind,
            "memo": memo, "payment_id": payment_id, "refund_id": None,
            "business_date": day.isoformat(), "occurred_at": at,
            "postings": [
                {"account": a, "amount_fen": fen, "currency": "CNY", "bill_id": bill}
                for a, fen, bill in lines
            ],
        }  # fmt: skip
        digest = _chain_hash(content)
        rows.append(
            (entry_id, kind, memo, payment_id, None, db.ts(now), chain, seq, db.day(day), prev,
             digest)
        )  # fmt: skip
        postings += [(entry_id, a, fen, bill, "CNY") for a, fen, bill in lines]
        prev = digest
    if db.pg:  # as billfold: the head, the entries and the postings in one statement
        db.at_once((seq, prev, day, chain), rows, postings)
        return
    # SQLite: postings first, the entry rows last (schema/journal_guard.py); the chain's
    # trigger moves the head
    db.many("insert_postings", postings)
    db.many("insert_entries", rows)


# -- the external yardstick: the minimal confirmation transaction -----------------------------

YARD_TABLES = (
    "CREATE TABLE yard_orders (id {serial} PRIMARY KEY, order_no TEXT NOT NULL UNIQUE, "
    "status TEXT NOT NULL, total_fen BIGINT NOT NULL, payment_id BIGINT)",
    "CREATE TABLE yard_payments (id {serial} PRIMARY KEY, channel TEXT NOT NULL, "
    "channel_txn_id TEXT NOT NULL, order_no TEXT NOT NULL, amount_fen BIGINT NOT NULL, "
    "received_at TIMESTAMP NOT NULL, UNIQUE (channel, channel_txn_id))",
    "CREATE TABLE yard_journal (id {serial} PRIMARY KEY, payment_id BIGINT NOT NULL, "
    "account TEXT NOT NULL, amount_fen BIGINT NOT NULL)",
    "CREATE TABLE yard_outbox (id {serial} PRIMARY KEY, event_type TEXT NOT NULL, "
    "payload TEXT NOT NULL)",
)
YARD_SQL = {
    "insert_payment": "INSERT INTO yard_payments (channel, channel_txn_id, order_no, amount_fen, "
    "received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, channel_txn_id) DO NOTHING "
    "RETURNING id",
    "update_order": "UPDATE yard_orders SET status = 'paid', payment_id = ? "
    "WHERE order_no = ? AND status IN ('created', 'paying')",
    "journal": "INSERT INTO yard_journal (payment_id, account, amount_fen) VALUES (?, ?, ?)",
    "outbox": "INSERT INTO yard_outbox (event_type, payload) VALUES (?, ?)",
}


class Yardstick:
    """The minimal confirmation transaction, written by hand on one plain sqlite3 / psycopg
    connection and its own four small tables: the payment inserted ON CONFLICT DO NOTHING,
    the order moved only if still payable, two journal rows (one executemany), one outbox
    row; one transaction each. Nothing is read first, nothing is chained or checked."""

    def __init__(self, raw: RawDb) -> None:
        self.raw = raw
        self.sql = YARD_SQL
        if raw.pg:
            self.sql = {k: v.replace("?", "%s") for k, v in YARD_SQL.items()}

    def create(self, orders: Work) -> None:
        serial = "BIGSERIAL" if self.raw.pg else "INTEGER"
        cur = self.raw.cur
        self.raw.begin()
        for ddl in YARD_TABLES:
            cur.execute(ddl.format(serial=serial))
        mark = "%s" if self.raw.pg else "?"
        cur.executemany(
            "INSERT INTO yard_orders (order_no, status, total_fen) "
            f"VALUES ({mark}, {mark}, {mark})",
            [(order_no, "created", amount) for order_no, amount in orders],
        )
        self.raw.commit()

    def confirm(self, txn: str, order_no: str, amount: int, now: datetime) -> bool:
        raw, cur, sql = self.raw, self.raw.cur, self.sql
        raw.begin()
        try:
            cur.execute(sql["insert_payment"], (CHANNEL, txn, order_no, amount, raw.ts(now)))
            row = cur.fetchone()
            if row is None:
                raw.rollback()
                return False
            payment_id = row[0]
            cur.execute(sql["update_order"], (payment_id, order_no))
            if cur.rowcount != 1:
                raise BenchFailure(f"yardstick: order {order_no} is not payable")
            cur.executemany(
                sql["journal"],
                [(payment_id, f"clearing:{CHANNEL}", amount), (payment_id, "payable", -amount)],
            )
            body = json.dumps({"payment_id": payment_id, "order_no": order_no, "amount": amount})
            cur.execute(sql["outbox"], ("payment.confirmed", body))
            raw.commit()
            return True
        except BaseException:
            raw.rollback()
            raise

    def problems(self, orders: int) -> list[str]:
        cur = self.raw.cur
        found = []
        checks = {
            "yardstick orders not paid": "SELECT count(*) FROM yard_orders WHERE status <> 'paid'",
            "yardstick payments": "SELECT count(*) FROM yard_payments",
            "yardstick journal rows": "SELECT count(*) FROM yard_journal",
            "yardstick outbox rows": "SELECT count(*) FROM yard_outbox",
        }
        expected = {
            "yardstick orders not paid": 0,
            "yardstick payments": orders,
            "yardstick journal rows": 2 * orders,
            "yardstick outbox rows": orders,
        }
        self.raw.begin()
        for what, query in checks.items():
            cur.execute(query)
            count = cur.fetchone()[0]
            if count != expected[what]:
                found.append(f"{count} {what}, expected {expected[what]}")
        self.raw.rollback()
        return found


def confirm_yardstick(yard: Yardstick, work: Work) -> None:
    for order_no, amount in work:
        if not yard.confirm(f"T{order_no}", order_no, amount, T0):
            raise BenchFailure(f"yardstick: T{order_no} was already confirmed")


# -- billfold without the chain (for the chain's cost only) ---------------------------------------

_UNCHAINED_SEQ = itertools.count(1)
_OLD_ENTRY_INSERT = t.journal_entries.insert().inline()
_OLD_POSTING_INSERT = t.journal_postings.insert().inline()
_NEXT_ID_SQLITE = "SELECT coalesce(max(id), 0) + 1 FROM journal_entries"
_NEXT_IDS_PG = (
    "SELECT nextval(pg_get_serial_sequence('journal_entries', 'id')) FROM generate_series(1, %s)"
)


def _append_unchained(
    conn: Any,
    chain: str,
    entries: Sequence[Any],
    now: datetime,
    payment_id: int | None,
    refund_id: int | None,
) -> None:
    """What billfold wrote before entries were chained: the entries' ids taken, one
    executemany of the postings, then one of the entries (the journal guard's order). The
    chain's columns get constants (chain ``@unchained``, a number from a counter), no head
    is locked, nothing is hashed."""
    if conn.dialect.name == "sqlite":
        first = int(conn.exec_driver_sql(_NEXT_ID_SQLITE).scalar_one())
        ids = list(range(first, first + len(entries)))
    else:
        ids = sorted(int(r[0]) for r in conn.exec_driver_sql(_NEXT_IDS_PG, (len(entries),)))
    postings, heads = [], []
    for entry_id, entry in zip(ids, entries, strict=True):
        head = {
            "id": entry_id,
            "kind": entry.kind,
            "memo": entry.memo[:200],
            "payment_id": payment_id,
            "refund_id": refund_id,
            "created_at": now,
            "chain": "@unchained",
            "chain_seq": next(_UNCHAINED_SEQ),
            "business_date": T0.date(),
            "prev_hash": "0" * 64,
            "hash": "0" * 64,
        }
        heads.append(head)
        postings += [
            {"entry_id": entry_id, "account": p.account, "amount_fen": p.amount_fen,
             "bill_id": p.bill_id, "currency": p.currency}
            for p in entry.postings
        ]  # fmt: skip
    fastpath.run_write(conn, _OLD_POSTING_INSERT, postings)
    fastpath.run_write(conn, _OLD_ENTRY_INSERT, heads)


@contextmanager
def unchained() -> Iterator[None]:
    """Billfold's journal writes entries without chaining them, inside the block only."""
    chained = ledger.append_to_chain
    ledger.append_to_chain = _append_unchained  # type: ignore[assignment]
    try:
        yield
    finally:
        ledger.append_to_chain = chained


# -- statement shapes -----------------------------------------------------------------------------


def shape(sql: str, many: bool) -> str:
    """``SELECT orders FOR UPDATE``, ``INSERT payments ON CONFLICT RETURNING``, ``... ×many``."""
    verb = sql.split(None, 1)[0].upper()
    if verb == "WITH":  # data-modifying WITH: the tables it writes, in order
        written = re.findall(r"\b(UPDATE|INSERT INTO)\s+(\w+)", sql)
        return "WITH " + ", ".join(f"{v.split()[0]} {table}" for v, table in written)
    outer = sql
    while re.search(r"\([^()]*\)", outer):  # subqueries and lists out: the outer query
        outer = re.sub(r"\([^()]*\)", "", outer)
    pattern = {
        "SELECT": r"\bFROM\s+(\w+)",
        "INSERT": r"\bINTO\s+(\w+)",
        "UPDATE": r"UPDATE\s+(\w+)",
    }
    found = re.search(pattern.get(verb, r"(\w+)"), outer)
    parts = [verb, found.group(1) if found else "?"]
    parts += [flag for flag in ("FOR UPDATE", "ON CONFLICT", "RETURNING") if flag in sql]
    return " ".join(parts) + (" ×many" if many else "")


@contextmanager
def recording_billfold(engine: Engine) -> Iterator[list[str]]:
    """Shapes of the statements billfold sends while inside the block (not BEGIN/COMMIT)."""
    seen: list[str] = []

    def listener(*args: Any) -> None:
        statement, many = args[2], args[5]
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(shape(statement, bool(many)))

    def fast(statement: str, many: bool) -> None:  # the confirm path's driver-level statements
        if not statement.lstrip().upper().startswith(("COMMIT", "ROLLBACK")):
            seen.append(shape(statement, many))

    event.listen(engine.db, "before_cursor_execute", listener)
    fastpath.STATEMENT_HOOKS.append(fast)
    try:
        yield seen
    finally:
        event.remove(engine.db, "before_cursor_execute", listener)
        fastpath.STATEMENT_HOOKS.remove(fast)


# -- databases ------------------------------------------------------------------------------------


@dataclass
class Database:
    backend: str
    url: str  # for billfold (SQLAlchemy)
    connect_raw: Callable[[], RawDb]
    connect_monitor: Callable[[], Any] = lambda: None  # PostgreSQL: for the server's CPU


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="billfold-bench-") as tmp:
        path = Path(tmp) / "bench.db"

        def connect() -> RawDb:
            conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            for pragma in ("foreign_keys=ON", "busy_timeout=30000", "journal_mode=WAL"):
                conn.execute(f"PRAGMA {pragma}")
            conn.execute("PRAGMA synchronous=NORMAL")
            return RawDb("sqlite", conn)

        yield Database("sqlite", f"sqlite:///{path}", connect)


@contextmanager
def pg_database(server_url: str) -> Iterator[Database]:
    with scratch_pg_database(server_url, "bench") as url:
        libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        yield Database(
            "postgresql",
            url,
            lambda: RawDb("postgresql", psycopg.connect(libpq)),
            lambda: psycopg.connect(libpq, autocommit=True),
        )


# -- setup ----------------------------------------------------------------------------------------

Work = list[tuple[str, int]]  # (order_no, amount_fen)


def setup(engine: Engine, sets: dict[str, int]) -> dict[str, Work]:
    """One biller with a fee rule; per set, ``count`` two-item bills and one order for each."""
    engine.create_biller(
        Biller(code=BILLER, name="基准测试学校", kind=BillerKind.SCHOOL, fee_rules=(FEE_RULE,))
    )
    rows = ["bill_no,payer_id,items"]
    for prefix, count in sets.items():
        rows += [
            f"{prefix}{i:07d},S{prefix}{i:07d},tuition:学费=1000.{i % 100:02d};books:书本费=200.50"
            for i in range(count)
        ]
    engine.import_bills(BILLER, ("\n".join(rows) + "\n").encode(), file_name="bench.csv")
    return {prefix: orders_for_every_bill(engine, BILLER, prefix) for prefix in sets}


# -- the run --------------------------------------------------------------------------------------


SIDES = ("billfold", "yardstick", "replay", "unchained")


@dataclass
class Result:
    backend: str
    n: int
    wall: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SIDES, 0.0))
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SIDES, 0.0))
    server_cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SIDES, 0.0))
    billfold_shapes: list[str] = field(default_factory=list)
    raw_shapes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    profile: str = ""

    def rate(self, side: str, clock: str = "wall") -> float:
        spent = (self.wall if clock == "wall" else self.cpu)[side]
        return self.n / spent if spent else float("nan")

    def ratio(self, baseline: str, clock: str = "wall") -> float:
        return self.rate("billfold", clock) / self.rate(baseline, clock)

    @property
    def target(self) -> float:
        return TARGETS[self.backend]

    @property
    def chain_cost(self) -> float:
        """The share of billfold's throughput the journal's hash chain costs."""
        return 1 - self.rate("billfold") / self.rate("unchained")


def confirm_billfold(engine: Engine, work: Work) -> None:
    for order_no, amount in work:
        result = engine.confirm(CHANNEL, f"T{order_no}", order_no, amount, T0)
        if not result.credited or result.duplicate:
            raise BenchFailure(f"billfold: order {order_no} was not credited ({result.status})")


def confirm_unchained(engine: Engine, work: Work) -> None:
    with unchained():
        confirm_billfold(engine, work)


@contextmanager
def chain_triggers_off(engine: Engine) -> Iterator[None]:
    """SQLite: the chain's triggers (they refuse an entry that does not continue its head,
    and move the head) are dropped for the unchained side's blocks, outside the timing."""
    if engine.db.dialect.name != "sqlite":
        yield
        return
    names = ("journal_entries_chained", "journal_chains_follow")
    with engine.db.begin() as conn:
        saved = [
            conn.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"),
                {"n": name},
            ).scalar_one()
            for name in names
        ]
        for name in names:
            conn.execute(text(f"DROP TRIGGER {name}"))
    try:
        yield
    finally:
        with engine.db.begin() as conn:
            for sql in saved:
                conn.execute(text(sql))


def confirm_raw(db: RawDb, work: Work) -> None:
    for order_no, amount in work:
        if not raw_confirm(db, f"T{order_no}", order_no, amount, T0, T0):
            raise BenchFailure(f"raw: order {order_no} was already confirmed")


class CpuMeter:
    """CPU seconds spent for the benchmark: this process's, plus on PostgreSQL those of the
    server processes serving the benchmark's database (read from /proc; the server runs on
    this machine). Without /proc only this process's time is counted (``server`` False)."""

    def __init__(self, monitor: Any = None) -> None:
        self.monitor = monitor  # an autocommit psycopg connection, PostgreSQL only
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.server = monitor is not None and Path("/proc/self/stat").exists()
        self.pids: list[int] = []

    def refresh(self) -> None:
        """Note the database's server processes (outside the timing)."""
        if self.server:
            rows = self.monitor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
            self.pids = [int(r[0]) for r in rows]

    def _server_seconds(self) -> float:
        total = 0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # a backend that went away
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / self.tick

    def now(self) -> tuple[float, float]:
        """(this process's, the server's) CPU seconds so far."""
        return time.process_time(), (self._server_seconds() if self.server else 0.0)


def _timed(run: Callable[[], None], meter: CpuMeter) -> tuple[float, float, float]:
    """Wall, this process's CPU and the database server's CPU seconds ``run`` took."""
    gc.collect()
    meter.refresh()
    client, server = meter.now()
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    client_after, server_after = meter.now()
    return wall, client_after - client, server_after - server


def run_backend(database: Database, n: int, *, profile: bool) -> Result:
    warm = max(2, min(50, n // 20))
    sets = {"B": warm + n, "R": warm + n, "U": warm + n} | ({"P": n} if profile else {})
    result = Result(database.backend, n)
    engine = Engine(make_engine(database.url), FixedClock(T0))
    migrate.upgrade(engine.db)
    raw = database.connect_raw()
    yard = Yardstick(raw)
    monitor = database.connect_monitor()
    meter = CpuMeter(monitor)
    try:
        work = setup(engine, sets)
        yard_work = [(f"Y{order_no}", amount) for order_no, amount in work["R"]]
        yard.create(yard_work)
        with engine.db.begin() as conn:  # the biller's chain head, as its first entry makes it
            conn.execute(
                text("INSERT INTO journal_chains (chain, seq, last_hash) VALUES (:c, 0, :g)"),
                {"c": BILLER, "g": "0" * 64},
            )
        with recording_billfold(engine) as seen:
            confirm_billfold(engine, work["B"][:1])
        result.billfold_shapes = seen
        raw.record = []
        confirm_raw(raw, work["R"][:1])
        result.raw_shapes, raw.record = raw.record, None
        confirm_billfold(engine, work["B"][1:warm])
        confirm_raw(raw, work["R"][1:warm])
        confirm_yardstick(yard, yard_work[:warm])
        with chain_triggers_off(engine):
            confirm_unchained(engine, work["U"][:warm])

        blocks = min(10, n)
        size = -(-n // blocks)
        for k in range(blocks):
            block = slice(warm + k * size, warm + (k + 1) * size)
            sides = {
                "billfold": partial(confirm_billfold, engine, work["B"][block]),
                "yardstick": partial(confirm_yardstick, yard, yard_work[block]),
                "replay": partial(confirm_raw, raw, work["R"][block]),
                "unchained": partial(confirm_unchained, engine, work["U"][block]),
            }
            order = list(sides)
            for side in order[k % 4 :] + order[: k % 4]:  # each side goes first in turn
                if side == "unchained":
                    with chain_triggers_off(engine):
                        wall, client, server = _timed(sides[side], meter)
                else:
                    wall, client, server = _timed(sides[side], meter)
                result.wall[side] += wall
                result.cpu[side] += client + server
                result.server_cpu[side] += server

        if profile:
            result.profile = profile_billfold(engine, work["P"])
        result.problems = verify(engine, raw, work) + yard.problems(len(yard_work))
    finally:
        if monitor is not None:
            monitor.close()
        raw.close()
        engine.close()
    return result


def profile_billfold(engine: Engine, work: Work) -> str:
    profiler = cProfile.Profile()
    profiler.runcall(confirm_billfold, engine, work)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(r"billfold|sqlalchemy", 30)
    return out.getvalue()


def verify(engine: Engine, raw: RawDb, work: dict[str, Work]) -> list[str]:
    """Every order credited exactly once, books sound, repeats recognised."""
    orders = sum(len(w) for w in work.values())
    checks = {
        "orders not paid": "SELECT count(*) FROM orders WHERE status <> 'paid' "
        "OR payment_id IS NULL",
        "orders without exactly one credited payment": "SELECT count(*) FROM (SELECT o.id "
        "FROM orders o LEFT JOIN payments p ON p.order_id = o.id AND p.status = 'credited' "
        "GROUP BY o.id HAVING count(p.id) <> 1) x",
        "payments not matching their order": "SELECT count(*) FROM payments p LEFT JOIN orders o "
        "ON o.id = p.order_id WHERE o.id IS NULL OR o.payment_id <> p.id "
        "OR p.amount_fen <> o.total_fen OR p.status <> 'credited'",
        "bills not paid in full": "SELECT count(*) FROM bills WHERE status <> 'paid' "
        "OR paid_fen <> principal_fen",
        "payments without 2 journal entries": "SELECT count(*) FROM (SELECT p.id FROM payments p "
        "LEFT JOIN journal_entries e ON e.payment_id = p.id GROUP BY p.id "
        "HAVING count(e.id) <> 2) x",
        "payments without 4 postings": "SELECT count(*) FROM (SELECT e.payment_id "
        "FROM journal_entries e JOIN journal_postings j ON j.entry_id = e.id "
        "GROUP BY e.payment_id HAVING count(j.id) <> 4) x",
    }
    problems = []
    with engine.db.connect() as conn:
        for what, sql in checks.items():
            bad = conn.execute(text(sql)).scalar_one()
            if bad:
                problems.append(f"{bad} {what}")
        for kind in ("payment.confirmed", "bill.paid"):
            count = conn.execute(
                text("SELECT count(*) FROM outbox_events WHERE event_type = :k"), {"k": kind}
            ).scalar_one()
            if count != orders:
                problems.append(f"{count} {kind} events for {orders} orders")
    for order_no, amount in work["B"][:3]:
        if not engine.confirm(CHANNEL, f"T{order_no}", order_no, amount, T0).duplicate:
            problems.append(f"billfold did not recognise a repeat of T{order_no}")
    for order_no, amount in work["R"][:3]:
        if not engine.confirm(CHANNEL, f"T{order_no}", order_no, amount, T0).duplicate:
            problems.append(f"billfold did not recognise a repeat of raw T{order_no}")
        if raw_confirm(raw, f"T{order_no}", order_no, amount, T0, T0):
            problems.append(f"the raw baseline credited T{order_no} twice")
    with engine.db.connect() as conn:
        payments = conn.execute(text("SELECT count(*) FROM payments")).scalar_one()
    if payments != orders:
        problems.append(f"{payments} payments for {orders} orders after the repeats")
    problems += engine.check_books()
    chain = verify_journal(engine.uow(), chain=BILLER)  # billfold's and the raw side's entries
    problems += [found.message for found in chain.breaks]
    return problems


# -- command line ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/confirm.py",
        description="Confirmations per second: billfold against raw SQL, same run, same work.",
    )
    parser.add_argument(
        "--n", type=_shared.count, help=f"timed confirmations per side ({DEFAULT_N})"
    )
    parser.add_argument("--backends", type=_shared.backends, default=list(BACKENDS))
    parser.add_argument(
        "--pg-url", help="PostgreSQL server URL (default: BILLFOLD_BENCH_PG_URL or _TEST_PG_URL)"
    )
    parser.add_argument("--smoke", action="store_true", help=f"n={SMOKE_N}, for CI")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="billfold's JSON logging while it runs, rendered to /dev/null (INFO)",
    )
    parser.add_argument("--show-statements", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile billfold's side")
    args = parser.parse_args(argv)
    args.n = args.n or (SMOKE_N if args.smoke else DEFAULT_N)
    args.pg_url = _shared.pg_url(args.pg_url)
    return args


def report(results: list[Result], show_statements: bool) -> None:
    print()
    print("confirmations per second, wall clock (and CPU: this process + its PostgreSQL backends)")
    print(f"{'backend':<11}{'n':>6}" + "".join(f"{side:>20}" for side in SIDES[:3]))
    for r in results:
        cells = [f"{r.rate(s):>9.1f} ({r.rate(s, 'cpu'):>7.1f})" for s in SIDES[:3]]
        print(f"{r.backend:<11}{r.n:>6}" + "".join(f"{c:>20}" for c in cells))
    print()
    print(
        f"{'backend':<11}{'baseline':<11}{'wall ratio':>11}{'cpu ratio':>11}{'target':>9}"
        f"  {'met':<5}{'stmts/confirm billfold/baseline':>33}"
    )
    for r in results:
        yard_met = "yes" if r.ratio("yardstick") >= r.target else "NO"
        print(
            f"{r.backend:<11}{'yardstick':<11}{r.ratio('yardstick'):>11.2f}"
            f"{r.ratio('yardstick', 'cpu'):>11.2f}{'>= ' + format(r.target, '.2f'):>9}"
            f"  {yard_met:<5}{f'{len(r.billfold_shapes)}/5':>33}"
        )
        print(
            f"{r.backend:<11}{'replay':<11}{r.ratio('replay'):>11.2f}"
            f"{r.ratio('replay', 'cpu'):>11.2f}{'':>9}  {'':<5}"
            f"{f'{len(r.billfold_shapes)}/{len(r.raw_shapes)}':>33}"
        )
    print("\nCPU per confirmation, ms: this process + the database server's processes")
    print(f"{'backend':<11}" + "".join(f"{side:>20}" for side in SIDES[:3]))
    for r in results:
        cells = [
            f"{1000 * (r.cpu[s] - r.server_cpu[s]) / r.n:.2f} + {1000 * r.server_cpu[s] / r.n:.2f}"
            for s in SIDES[:3]
        ]
        print(f"{r.backend:<11}" + "".join(f"{c:>20}" for c in cells))
    print("ratio = billfold conf/s ÷ baseline conf/s, same run, alternating blocks;")
    print("yardstick = the minimal confirmation transaction by hand (target: wall ratio);")
    print("replay = billfold's own statements replayed by hand (a second baseline)")
    print(f"\n{'backend':<11}{'chained conf/s':>16}{'unchained conf/s':>18}{'chain cost':>12}")
    for r in results:
        print(
            f"{r.backend:<11}{r.rate('billfold'):>16.1f}{r.rate('unchained'):>18.1f}"
            f"{r.chain_cost:>11.1%} {'(<= 5%)' if r.chain_cost <= CHAIN_BUDGET else '(> 5%)'}"
        )
    print("chain cost = 1 - chained ÷ unchained: billfold with the journal's hash chain against")
    print("billfold writing the same entries unchained, as before (same run, alternating blocks)")
    for r in results:
        if r.billfold_shapes != r.raw_shapes:
            print(f"WARNING {r.backend}: the replay baseline no longer sends billfold's statements")
        if show_statements or r.billfold_shapes != r.raw_shapes:
            print(f"\n{r.backend}: statements of one confirmation (billfold | replay)")
            for k in range(max(len(r.billfold_shapes), len(r.raw_shapes))):
                ours = r.billfold_shapes[k] if k < len(r.billfold_shapes) else ""
                theirs = r.raw_shapes[k] if k < len(r.raw_shapes) else ""
                print(f"  {'  ' if ours == theirs else '!='}{ours:<44}| {theirs}")
        if r.profile:
            print(f"\n{r.backend}: cProfile of billfold's confirm path ({r.n} confirmations)")
            print(r.profile)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.2f}; Python {sys.version.split()[0]}")
    configure_logging(json=True, level=args.log_level)  # production logging; lines to /dev/null
    results: list[Result] = []
    aborted: list[str] = []
    for backend in args.backends:
        if backend == "postgresql" and not args.pg_url:
            print("postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)")
            continue
        print(f"{backend}: setting up {args.n} + warm-up orders per side ...", flush=True)
        database = sqlite_database() if backend == "sqlite" else pg_database(args.pg_url)
        try:
            with database as db, open(os.devnull, "w") as sink, redirect_stderr(sink):
                results.append(run_backend(db, args.n, profile=args.profile))
        except BenchFailure as broken:
            aborted.append(f"\nFAILED {backend}: {broken}")
    report(results, args.show_statements)
    failed = [r for r in results if r.problems]
    for r in failed:
        print(f"\nFAILED {r.backend}: the books do not agree after the run")
        for problem in r.problems:
            print(f"  {problem}")
    for message in aborted:
        print(message)
    if not failed and not aborted and results:
        print("verified: every order credited exactly once; check_books() == []")
    return 1 if failed or aborted else 0


if __name__ == "__main__":
    sys.exit(main())
