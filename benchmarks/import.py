"""Bill-import benchmark: ``Engine.import_bills`` of one large CSV against a raw bulk write.

    python benchmarks/import.py [--n 200000] [--backends sqlite,postgresql] [--pg-url URL]
                                [--smoke]

The file: ``--n`` bills of a water utility, one item each (``bill_no,payer_id,payer_name,
item,amount,due_date``), two bills per 户号 (so ``n/2`` payers), UTF-8. For each backend two
throwaway databases are made (SQLite: temporary files with the pragmas of
``billfold.adapters.db.connect.make_engine``; PostgreSQL: ``CREATE DATABASE bench_import_*``,
dropped at the end), migrated, with the same biller in each.

Timed, wall (``perf_counter``) and CPU of this process (``process_time``; on PostgreSQL the
server's CPU is not in it):

* billfold: ``engine.import_bills(code, data)`` on the first database — decoding, parsing,
  checking, payers, bills and items, committed;
* again: the same call with the same file (nothing to create: every bill unchanged);
* parse: billfold's parser alone (``table_from_text`` + ``read_bill_rows``) over the file,
  no database — how much of the import is Python reading the file;
* raw (the external yardstick): the same payers, bills and items written by hand on the
  second database in one transaction — ``executemany`` on sqlite3 (explicit ids, so items
  need no read-back), ``COPY … FROM STDIN`` on psycopg — from rows built before the clock
  starts. It is what the database takes to store the rows, nothing else.

``ratio`` is raw wall ÷ billfold wall (1.0 would be billfold at the speed of a bare bulk
write). The target of issue 16 is 200,000 bills in ≤ 30 s on each backend. After the run
the first database must hold exactly ``n`` bills, ``n`` items and ``n/2`` payers, and the
second import must have created nothing; otherwise the exit status is 1.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _shared
import structlog
from sqlalchemy import func, select

from billfold.adapters.db import migrate
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.clock import FixedClock
from billfold.collection.bill_csv import read_bill_rows
from billfold.collection.bill_file import table_from_text
from billfold.collection.payer import IdentifierKind
from billfold.engine import Engine
from billfold.merchants.biller import Biller, BillerKind
from billfold.testing import scratch_pg_database

TARGET_S = 30.0
NOW = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"


@dataclass(frozen=True, slots=True)
class Timing:
    wall: float
    cpu: float


@dataclass(slots=True)
class Outcome:
    backend: str
    n: int
    billfold: Timing
    again: Timing
    parse: Timing
    raw: Timing
    problems: list[str]


def bill_file(n: int) -> bytes:
    lines = ["bill_no,payer_id,payer_name,item,amount,due_date"]
    for i in range(n):
        account = f"{i // 2:08d}"
        name = SURNAMES[i % len(SURNAMES)] + "先生"
        lines.append(f"W{i:08d},{account},{name},water,{(i % 9000) + 10}.{i % 100:02d},2026-09-25")
    return ("\n".join(lines) + "\n").encode()


def raw_rows(n: int, biller_id: int) -> tuple[list[tuple[Any, ...]], ...]:
    """Payers, bills and items as a hand-written import would store them (explicit ids)."""
    now = NOW.replace(tzinfo=None).isoformat(sep=" ")
    payers = [
        (p + 1, biller_id, "account_no", f"{p:08d}", SURNAMES[(2 * p) % len(SURNAMES)] + "先生",
         None, None, now)
        for p in range((n + 1) // 2)
    ]  # fmt: skip
    bills, items = [], []
    for i in range(n):
        fen = ((i % 9000) + 10) * 100 + i % 100
        bills.append(
            (i + 1, biller_id, f"W{i:08d}", i // 2 + 1, "fixed", "open", "CNY", "2026-09-25",
             "none", False, 0, None, None, None, None, None, None, fen, 0, 0, f"{i:064x}",
             None, 0, now, now)
        )  # fmt: skip
        items.append((i + 1, i + 1, 0, "water", "water", fen, 100, 0, 0, 0))
    return payers, bills, items


PAYER_COLUMNS = "id, biller_id, id_kind, identifier, name, phone, id_number, created_at"
BILL_COLUMNS = (
    "id, biller_id, bill_no, payer_id, kind, status, currency, due_date, late_fee_rule, "
    "allow_partial, min_part_fen, open_min_fen, open_max_fen, decision_no, sub_unit, period, "
    "description, principal_fen, paid_fen, late_fee_paid_fen, content_hash, cancel_reason, "
    "version, created_at, updated_at"
)
ITEM_COLUMNS = (
    "id, bill_id, position, code, name, amount_fen, priority, paid_fen, waived_fen, refunded_fen"
)


def timed(work: Callable[[], Any]) -> tuple[Timing, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu), result


def raw_sqlite(path: Path, rows: tuple[list[tuple[Any, ...]], ...]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN IMMEDIATE")
        for table, columns, values in zip(
            ("payers", "bills", "bill_items"),
            (PAYER_COLUMNS, BILL_COLUMNS, ITEM_COLUMNS),
            rows,
            strict=True,
        ):
            marks = ", ".join("?" * len(values[0]))
            conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
        conn.execute("COMMIT")
    finally:
        conn.close()


def raw_postgresql(url: str, rows: tuple[list[tuple[Any, ...]], ...]) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for table, columns, values in zip(
            ("payers", "bills", "bill_items"),
            (PAYER_COLUMNS, BILL_COLUMNS, ITEM_COLUMNS),
            rows,
            strict=True,
        ):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        conn.commit()


@contextmanager
def databases(backend: str, pg_url: str | None) -> Iterator[tuple[str, str]]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            yield f"sqlite:///{tmp}/billfold.db", f"sqlite:///{tmp}/raw.db"
        return
    if pg_url is None:
        raise ValueError("a PostgreSQL URL is needed")
    with (
        scratch_pg_database(pg_url, "bench_import") as ours,
        scratch_pg_database(pg_url, "bench_import_raw") as raw,
    ):
        yield ours, raw


def prepared(url: str) -> Engine:
    db = make_engine(url)
    migrate.upgrade(db)
    db.dispose()
    engine = Engine.from_url(url, clock=FixedClock(NOW))
    engine.create_biller(Biller(code="water", name="自来水公司", kind=BillerKind.UTILITY))
    return engine


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.uow() as uow:
        return tuple(  # type: ignore[return-value]
            int(uow.conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (t.bills, t.bill_items, t.payers)
        )


def run_backend(backend: str, n: int, pg_url: str | None) -> Outcome:
    data = bill_file(n)
    problems: list[str] = []
    with databases(backend, pg_url) as (ours_url, raw_url):
        engine, raw_engine = prepared(ours_url), prepared(raw_url)
        biller_id = raw_engine.biller("water").id or 0
        raw_engine.close()
        rows = raw_rows(n, biller_id)
        if backend == "sqlite":
            raw_time, _ = timed(lambda: raw_sqlite(Path(raw_url.removeprefix("sqlite:///")), rows))
        else:
            raw_time, _ = timed(lambda: raw_postgresql(raw_url, rows))
        ours, report = timed(lambda: engine.import_bills("water", data, file_name="bench.csv"))
        if (report.created, report.unchanged, report.errors) != (n, 0, []):
            problems.append(f"first import: {report.created} created, {report.errors[:3]}")
        again, report = timed(lambda: engine.import_bills("water", data, file_name="bench.csv"))
        if (report.created, report.unchanged) != (0, n):
            problems.append(f"second import: {report.created} created, {report.unchanged} same")
        stored = counts(engine)
        if stored != (n, n, (n + 1) // 2):
            problems.append(f"stored bills, items, payers: {stored}")
        engine.close()

    def parse() -> int:
        table = table_from_text(data.decode())
        return sum(1 for _ in read_bill_rows(table, biller_id, IdentifierKind.ACCOUNT_NO))

    parse_time, _ = timed(parse)
    return Outcome(backend, n, ours, again, parse_time, raw_time, problems)


def report(outcomes: Sequence[Outcome]) -> None:
    load = os.getloadavg()
    print(f"load: {load[0]:.2f} {load[1]:.2f} (1, 5 min), cores {os.cpu_count()}")
    print(
        f"{'backend':<11}{'n':>8}  {'billfold s':>10} {'cpu s':>7}  {'again s':>8} {'cpu s':>7}"
        f"  {'parse s':>8}  {'raw s':>7} {'cpu s':>7}  {'ratio':>6}  {'bills/s':>8}  target"
    )
    for o in outcomes:
        ratio = o.raw.wall / o.billfold.wall
        verdict = "PASS" if o.billfold.wall <= TARGET_S * o.n / 200_000 else "ABOVE"
        print(
            f"{o.backend:<11}{o.n:>8}  {o.billfold.wall:>10.2f} {o.billfold.cpu:>7.2f}"
            f"  {o.again.wall:>8.2f} {o.again.cpu:>7.2f}  {o.parse.wall:>8.2f}"
            f"  {o.raw.wall:>7.2f} {o.raw.cpu:>7.2f}  {ratio:>6.2f}  {o.n / o.billfold.wall:>8.0f}"
            f"  <= {TARGET_S * o.n / 200_000:.1f} s {verdict}"
        )
        for problem in o.problems:
            print(f"  PROBLEM {o.backend}: {problem}")
    if all(not o.problems for o in outcomes):
        print("verified: n bills, n items, n/2 payers stored; the same file again created nothing")


def main(argv: Sequence[str] | None = None) -> int:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=_shared.count, default=200_000)
    parser.add_argument("--backends", type=_shared.backends, default="sqlite,postgresql")
    parser.add_argument("--pg-url")
    parser.add_argument("--smoke", action="store_true", help="n=2000: seconds, for CI")
    args = parser.parse_args(argv)
    n = 2000 if args.smoke else args.n
    pg_url = _shared.pg_url(args.pg_url)
    outcomes: list[Outcome] = []
    for backend in args.backends:
        if backend == "postgresql" and not pg_url:
            print("postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)")
            continue
        outcomes.append(run_backend(backend, n, pg_url))
    report(outcomes)
    return 1 if any(o.problems for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
