"""Crash-point simulation: kill the database connection after every statement of a use case.

For a :class:`CrashCase` (a set-up, then a use case such as confirming a payment) the harness

1. sets the database up once and keeps that state (:class:`ScratchDatabase`: a file copy on
   SQLite, the rows on PostgreSQL);
2. runs the use case uncrashed, counting its statements ``N`` (every statement the driver is
   given, and every ``COMMIT``), and keeps the normalized end state;
3. for every ``k`` in ``1..N``: restores the set-up state, runs the use case on a new engine
   that dies after its ``k``-th statement — the driver connection is closed under it, so the
   open transaction is lost as in a real crash (PostgreSQL rolls it back when the socket
   goes; SQLite when the connection closes); a crash after a ``COMMIT`` loses only the
   answer — then checks the books, opens another new engine (a restarted process) and runs
   the use case again with the same inputs, as a client retries;
4. after each retry checks: the books balance (:meth:`Engine.check_books`), no payment or
   refund is half written, every outbox event is there exactly once, and the end state is the
   uncrashed run's.

Everything is seeded by the case (fixed clock, fixed inputs), so a run repeats exactly.
:class:`CaseReport` says how many crash points each case covered.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import event, insert, select, text

from billfold.adapters.db import fastpath
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.clock import Clock
from billfold.collection.verifying import verify_journal
from billfold.engine import Engine
from billfold.testing.crash_state import (
    Raw,
    differences,
    event_problems,
    events,
    fetch,
    half_written,
    snapshot,
    written_tables,
)

__all__ = [
    "CaseReport",
    "CrashCase",
    "PostgresScratch",
    "ScratchDatabase",
    "SimulatedCrash",
    "SqliteScratch",
    "crash_every_statement",
    "summary",
]


# A crashed PostgreSQL transaction still used up the sequence values it took, so the retry's
# journal entries get other ids than an uncrashed run's, and the hashes over them differ: the
# hashes are left out of the comparison, and each chain is verified instead (``_books``).
CHAIN_HASHES: Mapping[str, tuple[str, ...]] = {
    "journal_entries": ("prev_hash", "hash"),
    "journal_chains": ("last_hash",),
}


class SimulatedCrash(Exception):
    """The process died here: raised by the harness after it closed the connection."""


@dataclass(frozen=True)
class CrashCase:
    """One money use case under test.

    ``setup(engine)`` builds the state before it and returns the use case's inputs (plain
    values: ids, numbers, request ids — what a client would send again); ``run(engine,
    inputs)`` is the use case. ``retry`` (default ``run``) is what happens after a crash, for
    a use case whose retry is not the same call (a dispatcher retries once its lease is over).
    ``ignore`` names columns whose values may differ after a retry (table → columns)."""

    name: str
    setup: Callable[[Engine], Any]
    run: Callable[[Engine, Any], object]
    retry: Callable[[Engine, Any], object] | None = None
    ignore: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class CaseReport:
    name: str
    statements: int = 0
    commits: int = 0  # of the uncrashed run: how many transactions it committed
    crash_points: int = 0
    problems: list[str] = field(default_factory=list)


class ScratchDatabase(Protocol):
    """A database the harness can reset to a kept state, cheaply, many times."""

    url: str

    def keep(self) -> None:
        """Remember the database as it is now (all engines on it are closed)."""

    def restore(self, tables: Iterable[str]) -> None:
        """Put the database back as it was at :meth:`keep` (no engine on it is open);
        ``tables`` are the tables written since, the only ones that may differ."""

    def close(self) -> None:
        """Let go of the database."""


class SqliteScratch:
    """A SQLite file; the kept state is a copy of the file."""

    def __init__(self, path: Path, template: Path | None = None) -> None:
        self.path = path
        self.kept = path.with_suffix(".kept")
        self.url = f"sqlite:///{path}"
        if template is not None:
            shutil.copy(template, path)

    def keep(self) -> None:
        shutil.copy(self.path, self.kept)

    def restore(self, tables: Iterable[str] = ()) -> None:
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copy(self.kept, self.path)

    def close(self) -> None:
        self.kept.unlink(missing_ok=True)


class PostgresScratch:
    """A PostgreSQL database; the kept state is every table's rows, put back by DELETE and
    INSERT with triggers off (``session_replication_role = replica``: the append-only tables
    refuse a DELETE otherwise; needs a superuser, as the test database's owner is), and each
    id sequence set past the highest id. (TRUNCATE would be simpler, but it syncs every
    table's new file to disk: a second per restore instead of milliseconds.)"""

    def __init__(self, url: str) -> None:
        self.url = url
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.db = make_engine(url)

    def keep(self) -> None:
        with self.db.connect() as conn:
            self.rows = {
                table.name: [dict(r._mapping) for r in conn.execute(select(table))]
                for table in t.metadata.sorted_tables
            }

    def restore(self, tables: Iterable[str] | None = None) -> None:
        """Put back the named tables (default: every table)."""
        wanted = set(tables) if tables is not None else None
        chosen = [x for x in t.metadata.sorted_tables if wanted is None or x.name in wanted]
        with self.db.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in reversed(chosen):
                conn.execute(table.delete())
            for table in chosen:
                rows = self.rows.get(table.name)
                if rows:
                    conn.execute(insert(table), rows)
                if "id" in table.c and table.c.id.autoincrement is not False:
                    top = max((r["id"] for r in rows or ()), default=0)
                    conn.execute(
                        text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :n, :called)"),
                        {"t": table.name, "n": max(top, 1), "called": top > 0},
                    )

    def close(self) -> None:
        self.db.dispose()


class _Statements:
    """Counts the statements an engine gives the database; with ``crash_after`` set, kills the
    connection as the next one would start (or as the use case returns).

    Statements come through SQLAlchemy (its ``before_cursor_execute`` and ``commit`` events)
    and through the confirm path's driver-level fast path (:data:`fastpath.STATEMENT_HOOKS`,
    which runs on the connection whose transaction began last)."""

    def __init__(self, db: SqlEngine, writes: set[str], crash_after: int | None = None) -> None:
        self.count = 0
        self.commits = 0
        self.writes = writes
        self.crash_after = crash_after
        self.crashed = False
        self.current: Any = None
        event.listen(db, "begin", self._on_begin)
        event.listen(db, "before_cursor_execute", self._before_statement)
        event.listen(db, "commit", self._before_commit)
        fastpath.STATEMENT_HOOKS.append(self._before_fast_statement)

    def close(self) -> None:
        fastpath.STATEMENT_HOOKS.remove(self._before_fast_statement)

    def _die_if_due(self, dbapi_connection: Any) -> None:
        if self.crash_after is not None and self.count == self.crash_after and not self.crashed:
            self.crashed = True
            dbapi_connection.close()
            raise SimulatedCrash(f"crash after statement {self.count}")

    def _on_begin(self, conn: Any) -> None:
        self.current = conn.connection.dbapi_connection

    def _before_statement(self, conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        self._die_if_due(conn.connection.dbapi_connection)
        self.writes |= written_tables(sql)
        self.count += 1

    def _before_fast_statement(self, sql: str, _many: bool) -> None:
        self._die_if_due(self.current)
        self.writes |= written_tables(sql)
        self.count += 1

    def _before_commit(self, conn: Any) -> None:
        self._die_if_due(conn.connection.dbapi_connection)
        self.count += 1
        self.commits += 1

    def returned(self) -> None:
        """The use case returned: a crash due now loses only its answer."""
        if self.crash_after is not None and self.count == self.crash_after and not self.crashed:
            self.crashed = True
            raise SimulatedCrash(f"crash after statement {self.count}, before the answer")


@contextmanager
def _engine(
    url: str, clock: Clock, writes: set[str], crash_after: int | None = None
) -> Iterator[tuple[Engine, _Statements]]:
    db = make_engine(url)
    if db.dialect.name == "postgresql":
        event.listen(db, "connect", _no_commit_flush)
    statements = _Statements(db, writes, crash_after)
    engine = Engine(db, clock)
    try:
        yield engine, statements
    finally:
        statements.close()
        engine.close()


def _no_commit_flush(dbapi_connection: Any, _record: Any) -> None:
    """The harness kills connections, never the server: a commit need not wait for its WAL
    to reach the disk (``synchronous_commit = off``), which makes PostgreSQL runs quicker."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    dbapi_connection.commit()


def _books(engine: Engine, when: str, *, bills: bool = True) -> list[str]:
    """No payment or refund is half written and the journal balances; with ``bills``, every
    bill agrees with the journal too (the whole of :meth:`Engine.check_books`)."""
    with engine.uow() as uow:
        problems = half_written(uow.conn)
        if not bills:
            total = sum(uow.journal.trial_balance().values())
            problems += [f"trial balance sums to {total} fen"] if total else []
            problems += [
                f"journal entry {e} does not balance" for e in uow.journal.entries_balance()
            ]
    if bills:
        problems += engine.check_books()
    chained = verify_journal(engine.uow())
    problems += [f"journal chain broken: {b.message}" for b in chained.breaks]
    return [f"{when}: {p}" for p in problems]


def crash_every_statement(
    db: ScratchDatabase, case: CrashCase, clock: Callable[[], Clock]
) -> CaseReport:
    """Run ``case`` uncrashed, then crashed after each of its statements and retried.

    ``db`` is migrated and empty; ``clock()`` gives a fresh clock at the same instant for
    every run. Returns the case's report; its ``problems`` are empty when every crash point
    passed."""
    report = CaseReport(case.name)
    with _engine(db.url, clock(), set()) as (engine, _):
        inputs = case.setup(engine)
    db.keep()
    dirty: set[str] = set()
    with _engine(db.url, clock(), dirty) as (engine, counted):
        case.run(engine, inputs)
        report.statements, report.commits = counted.count, counted.commits
        report.problems += _books(engine, "uncrashed run")
        with engine.uow() as uow:
            expected = _Expected(fetch(uow.conn), set(dirty), events(uow.conn), case.ignore)
    for k in range(1, report.statements + 1):
        db.restore(dirty)
        dirty.clear()
        report.problems += _crash_and_retry(db, case, inputs, k, clock, expected, dirty)
        report.crash_points += 1
    db.close()
    return report


@dataclass(frozen=True)
class _Expected:
    """An uncrashed run's end: its rows, normalized, and its outbox events."""

    raw: Raw
    written: set[str]  # the tables it wrote
    events: Counter[tuple[str, str]]
    ignore: Mapping[str, tuple[str, ...]]

    def problems(self, conn: Any, written: set[str]) -> list[str]:
        """How the database differs; only tables written by some run can (the others are
        still as set up, as in the uncrashed run's end)."""
        got = self.raw | fetch(conn, written | self.written)
        lines = event_problems(self.events, events(conn))
        ignore = {**CHAIN_HASHES, **self.ignore}
        return lines + differences(snapshot(self.raw, ignore), snapshot(got, ignore))


def _crash_and_retry(
    db: ScratchDatabase,
    case: CrashCase,
    inputs: Any,
    k: int,
    clock: Callable[[], Clock],
    expected: _Expected,
    dirty: set[str],
) -> list[str]:
    where = f"{case.name}, crash after statement {k}"
    with _engine(db.url, clock(), dirty, crash_after=k) as (engine, statements):
        try:
            case.run(engine, inputs)
            statements.returned()
        except SimulatedCrash:
            pass
        except Exception as exc:
            if not statements.crashed:
                return [f"{where}: failed before the crash: {type(exc).__name__}: {exc}"]
        if not statements.crashed:
            return [f"{where}: the run made only {statements.count} statements; no crash"]
    with _engine(db.url, clock(), dirty) as (engine, _):
        problems = _books(engine, f"{where}, before the retry", bills=False)
        try:
            (case.retry or case.run)(engine, inputs)
        except Exception as exc:
            return [*problems, f"{where}: the retry failed: {type(exc).__name__}: {exc}"]
        problems += _books(engine, f"{where}, after the retry")
        with engine.uow() as uow:
            problems += expected.problems(uow.conn, dirty)
    return [f"{where}: {line}" if not line.startswith(where) else line for line in problems]


def summary(reports: Iterable[CaseReport], database: str) -> str:
    """A small table: crash points per use case and in all."""
    reports = list(reports)
    width = max((len(r.name) for r in reports), default=10)
    lines = [f"crash points on {database}:"]
    lines += [
        f"  {r.name:<{width}}  {r.crash_points:>4} crash points"
        f" ({r.statements} statements, {r.commits} commits)"
        for r in reports
    ]
    total = sum(r.crash_points for r in reports)
    lines.append(f"  {len(reports)} use cases × their statements = {total} crash points")
    return "\n".join(lines)
