"""What the journal's guard (its triggers) costs a confirmation, measured inside one run.

    python benchmarks/journal_guard.py [--n 1000] [--block 50] [--backends sqlite,postgresql]
                                       [--pg-url URL]

``benchmarks/confirm.py`` compares billfold with raw SQL in one run; comparing two of its
runs (before and after a change) is at the mercy of the machine's load between them. This
one measures only the triggers of ``billfold/adapters/db/schema/journal_guard.py``: one
throwaway database per backend, migrated, ``2 x n`` orders set up (not timed), a warm-up
(not timed), then ``Engine.confirm`` in alternating blocks of ``--block`` confirmations,
the guard's triggers present in one block and dropped in the next (the deferred foreign key
and the CHECK constraints stay). Both sides run the same code on the same database in the
same minutes, so load drift hits them alike. Prints confirmations per second with and
without the guard.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from billfold import Biller, BillerKind, Engine, FeeRule
from billfold.adapters.db.schema import journal_guard
from billfold.clock import FixedClock
from billfold.logging import configure_logging
from billfold.testing import scratch_pg_database

CHANNEL = "wechat"


@contextmanager
def _database(backend: str, pg_url: str | None) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'guard.db'}"
        return
    if not pg_url:
        raise SystemExit("postgresql: pass --pg-url or set BILLFOLD_TEST_PG_URL")
    with scratch_pg_database(pg_url, "bench_guard") as url:
        yield url


def _set_up(engine: Engine, count: int) -> list[str]:
    engine.create_biller(
        Biller(
            code="b1", name="基准", kind=BillerKind.SCHOOL, fee_rules=(FeeRule(CHANNEL, bps=60),)
        )
    )
    head = "bill_no,payer_id,payer_name,items,due_date,allow_partial,min_part\n"
    rows = "".join(f"B{i},P{i},,tuition:T=4500.00;books:B=380.00,,no,\n" for i in range(count))
    engine.import_bills("b1", (head + rows).encode())
    return [engine.create_order("b1", [f"B{i}"]).order_no for i in range(count)]


def _guard(engine: Engine, on: bool) -> None:
    dialect = engine.db.dialect.name
    with engine.db.begin() as conn:
        if not on:
            tables = {"journal_entries", "journal_postings"}
            for name in journal_guard.TRIGGERS[dialect]:
                table = next(t for t in tables if name.startswith(t))
                suffix = f" ON {table}" if dialect == "postgresql" else ""
                conn.exec_driver_sql(f"DROP TRIGGER {name}{suffix}")
            return
        for sql in journal_guard.SQLITE if dialect == "sqlite" else journal_guard.POSTGRESQL:
            if " TRIGGER " in sql[:30]:
                conn.exec_driver_sql(sql.replace("%", "%%") if dialect != "sqlite" else sql)


def run(backend: str, n: int, block: int, pg_url: str | None) -> tuple[float, float, float, float]:
    """Guarded and unguarded confirmations per second (wall clock), and what the guard adds
    to this process's CPU time per confirmation, in µs and as a fraction (all of SQLite's
    work; on PostgreSQL only the client's share, the server's is not in it)."""
    clock = FixedClock(datetime(2026, 9, 1, 2, 0, tzinfo=UTC))
    with _database(backend, pg_url) as url:
        engine = Engine.from_url(url, clock=clock, upgrade=True)
        try:
            orders = iter(_set_up(engine, 2 * n + 2 * block))
            for warm in range(2 * block):  # not timed: caches and the pool warm up
                engine.confirm(CHANNEL, f"W{warm}", next(orders), 488_000)
            spent = {True: 0.0, False: 0.0}
            cpu = {True: 0.0, False: 0.0}
            done = {True: 0, False: 0}
            guarded = True
            txn = 0
            while done[True] < n or done[False] < n:
                if done[guarded] < n:
                    if not guarded:
                        _guard(engine, False)
                    start, start_cpu = time.perf_counter(), time.process_time()
                    for _ in range(min(block, n - done[guarded])):
                        txn += 1
                        engine.confirm(CHANNEL, f"T{txn}", next(orders), 488_000)
                        done[guarded] += 1
                    spent[guarded] += time.perf_counter() - start
                    cpu[guarded] += time.process_time() - start_cpu
                    if not guarded:
                        _guard(engine, True)
                guarded = not guarded
            if engine.check_books():
                raise SystemExit(f"{backend}: the books do not balance")
            extra = (cpu[True] - cpu[False]) / cpu[False]
            return n / spent[True], n / spent[False], 1e6 * (cpu[True] - cpu[False]) / n, extra
        finally:
            engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="confirmations per side (1000)")
    parser.add_argument("--block", type=int, default=50, help="confirmations per block (50)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("BILLFOLD_TEST_PG_URL"))
    parser.add_argument("--smoke", action="store_true", help="n=50 in blocks of 10, for CI")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.block = 50, 10
    configure_logging(json=True, level="WARNING")  # no line per confirmation
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.2f}; Python {sys.version.split()[0]}")
    print(
        f"{'backend':<12}{'n':>6}{'guarded conf/s':>17}{'unguarded conf/s':>19}{'cost':>8}"
        f"{'CPU µs/confirm':>16}{'CPU cost':>10}"
    )
    for backend in args.backends.split(","):
        with_guard, without, cpu_us, cpu_cost = run(backend, args.n, args.block, args.pg_url)
        cost = 1 - with_guard / without
        print(
            f"{backend:<12}{args.n:>6}{with_guard:>17.1f}{without:>19.1f}{cost:>8.1%}"
            f"{cpu_us:>+16.0f}{cpu_cost:>10.1%}"
        )


if __name__ == "__main__":
    main()
