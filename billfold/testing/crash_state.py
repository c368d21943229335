"""What the crash harness (:mod:`billfold.testing.crash`) checks after a crash and a retry.

* :func:`fetch` and :func:`snapshot` — tables of the schema as normalized rows: ids become
  their rank in the table (and foreign keys the rank of the row they point at), generated
  order, refund and event numbers become tokens numbered by first appearance, ids inside
  JSON text and quoted in text ("payment 12") become ``#``.
  Two runs that did the same thing compare equal, although a crashed transaction used up ids
  of a PostgreSQL sequence and a random number.
* :func:`half_written` — payments and refunds without their journal entries (or the reverse).
* :func:`events` — the outbox events, counted, to compare with an uncrashed run's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from sqlalchemy import Column, Connection, Table, select, text

from billfold.adapters.db import schema as t

__all__ = [
    "Raw",
    "Snapshot",
    "differences",
    "event_problems",
    "events",
    "fetch",
    "half_written",
    "snapshot",
    "written_tables",
]

_WRITE = re.compile(r'\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.I)


def written_tables(sql: str) -> set[str]:
    """The schema's tables a statement writes (INSERT, UPDATE, DELETE; CTEs included)."""
    names = _names()
    return {name for name in _WRITE.findall(sql) if name in names}


#: table name -> normalized rows, in id order
Snapshot = dict[str, list[tuple[Any, ...]]]
#: table name -> rows as fetched, in primary-key order
Raw = dict[str, list[Any]]

# order/refund/settlement numbers (new_number) and event ids (UUIDs)
_GENERATED = re.compile(
    r"\b[A-Z]{1,4}\d{14}[0-9A-F]{10}\b"
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
)
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_JSON_ID = re.compile(r'("(?:id|\w+_id)"\s*:\s*)\d+')
# ids quoted in text: "credited order … (payment 12)"
_TEXT_ID = re.compile(r"\b(payment|refund|entry|order|bill|discrepancy|batch) \d+\b")


@cache
def _tables() -> list[Table]:
    """The schema's tables by name (sorting them by dependency each time costs)."""
    return sorted(t.metadata.tables.values(), key=lambda table: table.name)


@cache
def _names() -> frozenset[str]:
    return frozenset(t.metadata.tables)


def _target(column: Column[Any], names: frozenset[str]) -> str | None:
    """The table a column's values are ids of: its foreign key, else ``<name>_id`` → names."""
    for fk in column.foreign_keys:
        return fk.column.table.name
    if column.name.endswith("_id") and not column.primary_key:
        stem = column.name[: -len("_id")]
        plural = f"{stem[:-1]}ies" if stem.endswith("y") else f"{stem}s"
        for guess in (plural, f"{stem}es", f"journal_{plural}"):
            if guess in names:
                return guess
    return None


class _Tokens:
    """Generated numbers, each replaced by ``<n>`` in order of first appearance."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        value = _TEXT_ID.sub(r"\1 #", _JSON_ID.sub(r"\1#", value))
        return _GENERATED.sub(self._token, value)

    def _token(self, match: re.Match[str]) -> str:
        return self.seen.setdefault(match.group(0), f"<{len(self.seen) + 1}>")


def fetch(conn: Connection, names: Iterable[str] | None = None) -> Raw:
    """The rows of the named tables (default: all), in primary-key order."""
    wanted = set(names) if names is not None else None
    raw: Raw = {}
    for table in _tables():
        if wanted is not None and table.name not in wanted:
            continue
        pk = list(table.primary_key.columns)
        if pk:
            raw[table.name] = list(conn.execute(select(table).order_by(*pk)).all())
        else:
            raw[table.name] = sorted(conn.execute(select(table)).all(), key=repr)
    return raw


def snapshot(raw: Raw, ignore: Mapping[str, Iterable[str]] | None = None) -> Snapshot:
    """Fetched tables, normalized (see the module docs); ``ignore`` names columns to leave
    out (table → columns)."""
    skip = {name: set(cols) for name, cols in (ignore or {}).items()}
    tables = [table for table in _tables() if table.name in raw]
    names = _names()
    ranks: dict[str, dict[int, int]] = {
        table.name: {row.id: n for n, row in enumerate(raw[table.name], 1)}
        for table in tables
        if "id" in table.c and table.c.id.primary_key
    }
    tokens = _Tokens()
    out: Snapshot = {}
    for table in tables:
        targets = {c.name: _target(c, names) for c in table.columns}
        kept = [c.name for c in table.columns if c.name not in skip.get(table.name, set())]
        normalized = []
        for row in raw[table.name]:
            values = []
            for name in kept:
                value = getattr(row, name)
                if name == "id" and table.name in ranks:
                    value = ranks[table.name].get(value, value)
                elif targets[name] is not None and isinstance(value, int):
                    value = ("->", ranks.get(targets[name] or "", {}).get(value, value))
                elif isinstance(value, str):
                    value = tokens(value)
                values.append(value)
            normalized.append(tuple(values))
        out[table.name] = normalized
    return out


def differences(expected: Snapshot, got: Snapshot, limit: int = 6) -> list[str]:
    """Readable lines naming the tables (and a few rows) where two snapshots differ."""
    lines: list[str] = []
    for name in sorted(set(expected) | set(got)):
        want, have = expected.get(name, []), got.get(name, [])
        if want == have:
            continue
        extra = list((Counter(have) - Counter(want)).elements())
        missing = list((Counter(want) - Counter(have)).elements())
        lines.append(
            f"{name}: {len(have)} rows, expected {len(want)}; "
            f"unexpected {extra[:2]!r}; missing {missing[:2]!r}"
        )
        if len(lines) >= limit:
            break
    return lines


def half_written(conn: Connection) -> list[str]:
    """Payments and refunds missing their journal entries, and entries naming a missing one.

    A payment that was credited, held or put in suspense has a journal entry; a credited one
    credits bills (postings naming a bill). A reversal recorded before its payment
    (status ``reversed``, nothing booked) has none. A refund has its entry, unless it returns
    money its payment already booked into suspense."""
    problems: list[str] = []
    booked: dict[int, int] = dict(
        conn.execute(
            text(
                "SELECT e.payment_id, SUM(CASE WHEN p.bill_id IS NULL THEN 0 ELSE 1 END) "
                "FROM journal_entries e JOIN journal_postings p ON p.entry_id = e.id "
                "WHERE e.payment_id IS NOT NULL GROUP BY e.payment_id"
            )
        ).all()
    )
    payments = conn.execute(text("SELECT id, status FROM payments")).all()
    for pid, status in payments:
        if status == "reversed":
            continue
        if pid not in booked:
            problems.append(f"payment {pid} ({status}) has no journal entry")
        elif status == "credited" and not booked[pid]:
            problems.append(f"payment {pid} is credited but no bill was credited in the journal")
    known = {pid for pid, _ in payments}
    problems += [
        f"journal names payment {pid}, which does not exist" for pid in booked.keys() - known
    ]
    refunds = conn.execute(text("SELECT id, kind, payment_id FROM refunds")).all()
    journalled = {
        r
        for (r,) in conn.execute(
            text("SELECT DISTINCT refund_id FROM journal_entries WHERE refund_id IS NOT NULL")
        )
    }
    for rid, kind, pid in refunds:
        # money queued back from suspense was booked when it went into suspense
        if rid not in journalled and not (kind == "suspense" and pid in booked):
            problems.append(f"refund {rid} has no journal entry")
    ids = {rid for rid, _, _ in refunds}
    problems += [f"journal names refund {r}, which does not exist" for r in journalled - ids]
    return problems


def events(conn: Connection) -> Counter[tuple[str, str]]:
    """The outbox events as (type, normalized payload), counted: each must be there once."""
    tokens = _Tokens()
    return Counter(
        (kind, tokens(_UUID.sub("<event id>", payload)))
        for kind, payload in conn.execute(
            text("SELECT event_type, payload FROM outbox_events ORDER BY id")
        )
    )


def event_problems(expected: Counter[tuple[str, str]], got: Counter[tuple[str, str]]) -> list[str]:
    """Events written more often than an uncrashed run writes them, or missing."""
    lines = [
        f"outbox event {k} written {got[k]} times, expected {n}"
        for k, n in expected.items()
        if got[k] != n
    ]
    lines += [
        f"outbox event {k} written {n} times, expected none"
        for k, n in got.items()
        if k not in expected
    ]
    return lines
