"""Reconciliation benchmark: billfold's full statement run against a raw bulk-load baseline.

    python benchmarks/reconcile.py [--n 1000000] [--backends sqlite,postgresql] [--pg-url URL]
                                   [--format wechatpay|generic-csv] [--smoke] [--keep-files]

For each backend a throwaway database is made (SQLite: a temporary file with the pragmas of
``make_engine``; PostgreSQL: ``CREATE DATABASE bench_recon_<pid>_<rand>``, dropped at the end)
and migrated. Setup, not timed:

* one biller with a 60 bps fee rule on ``wechatpay``;
* N engine payments of business date 2026-09-01, seeded with bulk SQL (executemany / COPY),
  not through ``confirm``;
* the channel's statement for that date as a file in WeChat Pay's trade bill format (or the
  generic CSV), with K seeded discrepancies of each kind — amount mismatch, status mismatch
  (the engine reversed it), channel only (长款), engine only (短款), duplicate line, fee
  differing from the schedule — K = max(1, N // 5000): 200 of each for a million.

Timed, each in a child process of its own so that its peak memory (``ru_maxrss``) is its own:

* **raw**: the file read with plain string splitting, loaded with the database's bulk path
  (sqlite3 ``executemany`` in chunks / psycopg ``COPY``) into a staging table, an index on the
  join key, and one hand-written ``FULL OUTER JOIN`` against the payments counting matches,
  differences and each side's leftovers — in one process;
* **raw xN**: the same, the file read by N forked processes (byte ranges cut at line ends,
  rows sent back to the one loading process): the baseline given billfold's parallelism, N =
  billfold's default number of parser processes, min(4, CPUs), which is also as many threads
  as polars has here;
* **billfold**: ``Reconciler.reconcile(file, ...)`` — with polars installed, the columnar
  reader with the day's payments read beside it and the matching in polars; else the
  streaming parser in worker processes, a bulk load into the staging table and the matching
  in SQL; then the rules, storing the run and its discrepancies, all in one transaction
  (automatic resolution off: it is timed on its own, below);
* **parser**: billfold's streaming parser alone over the same file, one process, no database.

Then, in the parent: the run's discrepancies must be exactly the seeded ones (else exit 1);
the automatic resolution of the 长款 lines is timed; the same file again must change nothing;
``engine.check_books()`` must be ``[]``.

Each side reports its wall seconds and its CPU seconds (user + system of the process, its
threads and its finished children: parser workers, raw reader processes, on SQLite the
payments' reader of the columnar path). Peak memory: billfold's process plus its largest
child once for each child that can run at the same time (a parser worker per CPU; the
columnar path's one reader). On a shared machine
the wall-clock ratio moves with the load, the CPU ratio much less; the load average is printed.
On PostgreSQL the CPU verdict counts the client's CPU; the server's (its backends serving the
benchmark's database, read from ``/proc`` when the server runs on this machine) is printed
beside it ("server s", "-" when it cannot be read) with the ratio of both together.

Targets (printed, not enforced): a million lines in at most 5 s of wall clock on each
database; billfold's CPU at most 2x the raw baseline's with the same parallelism (raw xN);
peak memory under 1 GiB. The ratios to the one-process baseline are printed too.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import multiprocessing
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import _shared
import psycopg
import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from billfold import Biller, BillerKind, Engine, FeeRule, FixedClock
from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.adapters.db.schema import settlement as st
from billfold.testing import scratch_pg_database

DAY = date(2026, 9, 1)
#: billfold's parallelism: its default number of parser processes, which is also the most
#: threads polars gets here (one per CPU). The raw baseline is run with it too.
PARALLEL = min(4, os.cpu_count() or 1)
PAID = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
CHANNEL = "wechatpay"
MCH = "1900000109"
FEE = FeeRule(CHANNEL, bps=60, min_fen=1)
KINDS = (
    "amount_mismatch",
    "status_mismatch",
    "channel_only",
    "engine_only",
    "duplicate_line",
    "fee_mismatch",
)
WX_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
WX_SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
CSV_MAP = {
    "columns": {
        "channel_txn_id": "txn",
        "order_no": "order_no",
        "amount": "amount",
        "fee": "fee",
        "occurred_at": "time",
        "status": "status",
    }
}


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def txn(i: int) -> str:
    return f"42{i:026d}"


def amount(i: int) -> int:
    return 100 + (i * 7919) % 500_000


# -- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    n: int
    k: int

    @property
    def stride(self) -> int:
        return self.n // (self.k * len(KINDS))

    def kind(self, i: int) -> str | None:
        """Every stride-th payment carries a seeded discrepancy, the kinds in turn, so that
        they are spread over the whole file (K of each kind)."""
        if i % self.stride or i // self.stride >= self.k * len(KINDS):
            return None
        return KINDS[(i // self.stride) % len(KINDS)]


def statement_lines(plan: Plan, fmt: str) -> Iterator[str]:
    when = "2026-09-01 10:00:00"

    def wx(i: int, fen: int, fee: int, state: str = "SUCCESS", t: str | None = None) -> str:
        a = yuan(fen)
        cells = (
            when, "wxd678efh567hg6787", MCH, "0", "", t or txn(i), f"BF{i:020d}", "oUpF8uMuAJO",
            "NATIVE", state, "OTHERS", "CNY", a, "0.00", "0", "0", "0.00", "0.00", "", "",
            "学费", "", f"{yuan(fee)}000", "0.60%", a, "0.00", "",
        )  # fmt: skip
        return "`" + ",`".join(cells)

    def csv(i: int, fen: int, fee: int, state: str = "SUCCESS", t: str | None = None) -> str:
        return f"{t or txn(i)},BF{i:020d},{yuan(fen)},{yuan(fee)},{when},{state}"

    row = wx if fmt == "wechatpay" else csv
    yield WX_HEADER if fmt == "wechatpay" else "txn,order_no,amount,fee,time,status"
    for i in range(plan.n):
        fen = amount(i)
        fee = FEE.fee_for(fen)
        kind = plan.kind(i)
        if kind == "engine_only":
            continue
        if kind == "amount_mismatch":
            fen += 100
            fee = FEE.fee_for(fen)
        elif kind == "fee_mismatch":
            fee += 1
        line = row(i, fen, fee)
        yield line
        if kind == "duplicate_line":
            yield line
        elif kind == "channel_only":
            yield row(i, fen, fee, t=f"43{i:026d}")
    if fmt == "wechatpay":
        yield WX_SUMMARY
        yield "`0,`0.00,`0.00,`0.00,`0.00,`0.00,`0.00"


def write_statement(plan: Plan, fmt: str, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        batch: list[str] = []
        for line in statement_lines(plan, fmt):
            batch.append(line)
            if len(batch) >= 50_000:
                out.write("\n".join(batch) + "\n")
                batch = []
        if batch:
            out.write("\n".join(batch) + "\n")


def payment_rows(plan: Plan, biller_id: int, postgresql: bool) -> Iterator[tuple[Any, ...]]:
    paid: Any = PAID if postgresql else "2026-09-01 02:00:00.000000"
    day: Any = DAY if postgresql else "2026-09-01"
    for i in range(plan.n):
        fen = amount(i)
        status = "reversed" if plan.kind(i) == "status_mismatch" else "credited"
        yield (
            CHANNEL, txn(i), f"BF{i:020d}", None, biller_id, status, None, fen,
            FEE.fee_for(fen), 0, "CNY", paid, paid, day,
        )  # fmt: skip


PAYMENT_COLUMNS = (
    "channel, channel_txn_id, order_no, order_id, biller_id, status, reason, amount_fen, "
    "fee_fen, refunded_fen, currency, paid_at, received_at, business_date"
)


def seed(url: str, plan: Plan) -> None:
    """One biller, then N payments in bulk (not through confirm)."""
    engine = Engine.from_url(url, clock=FixedClock(PAID))
    engine.create_biller(
        Biller(code="bench", name="基准学校", kind=BillerKind.SCHOOL, fee_rules=(FEE,))
    )
    biller_id = engine.biller("bench").id
    assert biller_id is not None
    postgresql = engine.db.dialect.name == "postgresql"
    with engine.db.begin() as conn:
        raw: Any = conn.connection.driver_connection
        rows = payment_rows(plan, biller_id, postgresql)
        if postgresql:
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY payments ({PAYMENT_COLUMNS}) FROM STDIN") as cp,
            ):
                for row in rows:
                    cp.write_row(row)
            conn.exec_driver_sql("ANALYZE payments")
        else:
            marks = ",".join("?" * 14)
            cur = raw.cursor()
            chunk: list[tuple[Any, ...]] = []
            for row in rows:
                chunk.append(row)
                if len(chunk) == 50_000:
                    cur.executemany(
                        f"INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ({marks})", chunk
                    )
                    chunk = []
            if chunk:
                cur.executemany(f"INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ({marks})", chunk)
            conn.exec_driver_sql("ANALYZE")
    engine.close()


# -- the timed sides (each in its own process) -----------------------------------------------


def peak_mib() -> float:
    """This process's peak resident memory. ``VmHWM`` starts afresh at exec; ``ru_maxrss``
    would still remember the (large) parent this process was forked from."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (parser workers).
    On a shared machine the wall-clock ratio moves with the load; this does not (much)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def server_cpu(url: str) -> float | None:
    """User + system CPU seconds of the PostgreSQL server processes serving ``url``'s
    database so far (its backends, read from ``/proc``: the server must run on this machine
    and its processes be readable); ``None`` for SQLite or when they cannot be read. Taken
    before and after a side, with the side's connections open at both ends (a backend that
    ends in between is not counted)."""
    if not url.startswith("postgresql"):
        return None
    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    try:
        with psycopg.connect(dsn, autocommit=True) as pg:
            pids = [
                int(r[0])
                for r in pg.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (parsed.database,)
                )
            ]
        total = 0.0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, psycopg.Error, IndexError, ValueError):
        return None
    return total


def server_delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def side_billfold(url: str, path: Path, fmt: str) -> dict[str, Any]:
    from billfold.settlement.reconciler import Reconciler

    engine = Engine.from_url(url, clock=FixedClock(datetime(2026, 9, 2, 1, 0, tzinfo=UTC)))
    recon = Reconciler(engine)
    with engine.db.connect():  # the pool's connection, open before the server's CPU is read
        pass
    server = server_cpu(url)
    cpu = cpu_seconds()
    started = time.perf_counter()
    result = recon.reconcile(
        path,
        format=fmt,
        business_date=DAY,
        channel=CHANNEL,
        column_map=CSV_MAP if fmt == "generic-csv" else None,
        auto_resolve=False,
    )
    seconds = time.perf_counter() - started
    used = cpu_seconds() - cpu
    run = result.run
    return {
        "reader": reader_used(path, fmt),
        "seconds": seconds,
        "cpu": used,
        "server_cpu": server_delta(server, server_cpu(url)),
        "peak_mib": peak_mib(),
        "worker_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "run_id": run.id,
        "matched": run.matched_count,
        "lines": run.totals.line_count,
        "discrepancies": run.discrepancy_count,
    }


def reader_used(path: Path, fmt: str) -> str:
    """How billfold read the file: column by column (polars) or with the streaming parser."""
    try:
        from billfold.adapters.db.statement_ingest import COLUMNAR_THRESHOLD
        from billfold.settlement.parsers import columnar
    except ImportError:  # billfold before the columnar reader (a "before" measurement)
        return "streaming parser"
    if (
        fmt in columnar.FORMATS
        and columnar.available()
        and path.stat().st_size >= COLUMNAR_THRESHOLD
    ):
        try:
            from billfold.adapters.db import statement_match  # noqa: F401
        except ImportError:  # billfold before the matching in polars
            return "columnar reader (polars), matched in SQL"
        return "columnar reader (polars), matched in polars"
    return "streaming parser"


def side_parser(path: Path, fmt: str) -> dict[str, Any]:
    from billfold.settlement.parsers import parse

    cpu = cpu_seconds()
    started = time.perf_counter()
    with path.open("rb") as handle:
        count = sum(
            1 for _ in parse(handle, fmt, column_map=CSV_MAP if fmt == "generic-csv" else None)
        )
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "cpu": cpu_seconds() - cpu, "peak_mib": peak_mib(), "lines": count}


RAW_JOIN = """
SELECT
  SUM(CASE WHEN s.txn IS NOT NULL AND p.id IS NOT NULL AND s.amount_fen = p.amount_fen
            AND s.fee_fen = p.fee_fen AND p.status = 'credited' THEN 1 ELSE 0 END),
  SUM(CASE WHEN s.txn IS NOT NULL AND p.id IS NOT NULL AND NOT (s.amount_fen = p.amount_fen
            AND s.fee_fen = p.fee_fen AND p.status = 'credited') THEN 1 ELSE 0 END),
  SUM(CASE WHEN p.id IS NULL THEN 1 ELSE 0 END),
  SUM(CASE WHEN s.txn IS NULL THEN 1 ELSE 0 END)
FROM raw_stage s
FULL OUTER JOIN payments p ON p.channel = 'wechatpay' AND p.channel_txn_id = s.txn
WHERE p.id IS NULL OR (p.channel = 'wechatpay' AND p.business_date = {day})
"""


def raw_line(line: str, fmt: str) -> tuple[str, str, int, int, str] | None:
    """One line read with plain splitting (no validation, amounts assumed to have 2
    decimals); ``None`` at the summary that ends a WeChat Pay bill."""
    if fmt == "wechatpay":
        if not line.startswith("`"):
            return None
        c = line[1:].split(",`")
        return c[5], c[6], int(c[24].replace(".", "")), int(c[22][:-3].replace(".", "")), c[9]
    c = line.rstrip("\n").split(",")
    return c[0], c[1], int(c[2].replace(".", "")), int(c[3].replace(".", "")), c[5]


def raw_rows(path: Path, fmt: str) -> Iterator[tuple[str, str, int, int, str]]:
    """The whole file (below its header) read with :func:`raw_line`."""
    with path.open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            row = raw_line(line, fmt)
            if row is None:
                break
            yield row


def raw_piece(job: tuple[str, int, int, str]) -> list[tuple[str, str, int, int, str]]:
    """The lines of one byte range, read by a worker process with :func:`raw_line`."""
    path, start, end, fmt = job
    with open(path, "rb") as handle:
        handle.seek(start)
        text = handle.read(end - start).decode("utf-8")
    rows = []
    for line in text.splitlines():
        row = raw_line(line, fmt)
        if row is None:
            break
        rows.append(row)
    return rows


def raw_pieces(
    path: Path, fmt: str, workers: int
) -> Iterator[list[tuple[str, str, int, int, str]]]:
    """The file read by ``workers`` processes, in byte ranges cut at line ends (several per
    worker, so that the loading in this process overlaps the parsing), in file order."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.readline()
        cuts = [handle.tell()]
        count = workers * 8
        for k in range(1, count):
            handle.seek(max(cuts[-1], size * k // count))
            handle.readline()
            cuts.append(min(handle.tell(), size))
    cuts.append(size)
    jobs = [(str(path), a, b, fmt) for a, b in itertools.pairwise(cuts) if b > a]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(raw_piece, jobs)


def side_raw(url: str, path: Path, fmt: str, workers: int) -> dict[str, Any]:
    """The raw baseline; with ``workers`` > 1 the file is read by that many processes."""
    cpu = cpu_seconds()
    started = time.perf_counter()
    create = (
        "CREATE TEMPORARY TABLE raw_stage (txn VARCHAR(64) NOT NULL, order_no VARCHAR(64), "
        "amount_fen BIGINT NOT NULL, fee_fen BIGINT NOT NULL, status VARCHAR(16) NOT NULL)"
    )
    if workers > 1:
        batches: Iterator[list[tuple[str, str, int, int, str]]] = raw_pieces(path, fmt, workers)
    else:
        rows = raw_rows(path, fmt)
        batches = iter(lambda: list(itertools.islice(rows, 20_000)), [])
    server: float | None = None
    if url.startswith("sqlite"):
        conn = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(create)
        for batch in batches:
            conn.executemany("INSERT INTO raw_stage VALUES (?, ?, ?, ?, ?)", batch)
        conn.execute("CREATE INDEX raw_stage_txn ON raw_stage (txn)")
        counts = conn.execute(RAW_JOIN.format(day="'2026-09-01'")).fetchone()
        conn.execute("ROLLBACK")
        conn.close()
    else:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as pg, pg.cursor() as cur:
            server = server_cpu(url)
            cur.execute(create)
            with cur.copy(
                "COPY raw_stage (txn, order_no, amount_fen, fee_fen, status) FROM STDIN"
            ) as cp:
                for batch in batches:
                    for row in batch:
                        cp.write_row(row)
            cur.execute("CREATE INDEX raw_stage_txn ON raw_stage (txn)")
            cur.execute("ANALYZE raw_stage")
            cur.execute(RAW_JOIN.format(day="DATE '2026-09-01'"))
            counts = cur.fetchone()
            pg.rollback()
            server = server_delta(server, server_cpu(url))
    seconds = time.perf_counter() - started
    assert counts is not None
    matched, differing, channel_only, engine_only = (int(c or 0) for c in counts)
    return {
        "seconds": seconds,
        "cpu": cpu_seconds() - cpu,
        "peak_mib": peak_mib(),
        "server_cpu": server,
        "workers": workers,
        "matched": matched,
        "differing": differing,
        "channel_only": channel_only,
        "engine_only": engine_only,
    }


def run_side(side: str, url: str, path: Path, fmt: str, workers: int = 1) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--side",
            side,
            "--url",
            url,
            "--file",
            str(path),
            "--format",
            fmt,
            "--workers",
            str(workers),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{side} side failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- databases ---------------------------------------------------------------------------------


@contextmanager
def sqlite_database(tmp: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url


@contextmanager
def pg_database(server: str) -> Iterator[str]:
    with scratch_pg_database(server, "bench_recon") as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


# -- one backend -------------------------------------------------------------------------------


@dataclass
class Outcome:
    backend: str
    n: int
    raw: dict[str, Any]  # one process
    raw_par: dict[str, Any]  # the same parallelism as billfold's
    billfold: dict[str, Any]
    parser: dict[str, Any]
    auto_seconds: float
    rerun_seconds: float
    problems: list[str]

    @property
    def wall_ratio(self) -> float:
        return float(self.billfold["seconds"]) / float(self.raw_par["seconds"])

    @property
    def cpu_ratio(self) -> float:
        return float(self.billfold["cpu"]) / max(float(self.raw_par["cpu"]), 1e-9)


def verify(url: str, plan: Plan, run_id: int) -> list[str]:
    engine = make_engine(url)
    problems: list[str] = []
    with engine.connect() as conn:
        d = st.recon_discrepancies.c
        found = dict(
            conn.execute(
                select(d.code, func.count()).where(d.run_id == run_id).group_by(d.code)
            ).all()
        )
    engine.dispose()
    expected = dict.fromkeys(KINDS, plan.k)
    if found != expected:
        problems.append(f"discrepancies {found} differ from the seeded {expected}")
    return problems


def run_backend(backend: str, url: str, plan: Plan, fmt: str, tmp: Path) -> Outcome:
    from billfold.settlement.reconciler import Reconciler

    t0 = time.perf_counter()
    seed(url, plan)
    path = tmp / ("statement.csv" if fmt == "generic-csv" else "wechatpay-20260901.csv")
    write_statement(plan, fmt, path)
    size = path.stat().st_size / 2**20
    print(
        f"{backend}: setup {time.perf_counter() - t0:.1f} s (statement {size:.0f} MiB)", flush=True
    )
    raw = run_side("raw", url, path, fmt)
    raw_par = run_side("raw", url, path, fmt, workers=PARALLEL)
    billfold = run_side("billfold", url, path, fmt)
    parser = run_side("parser", url, path, fmt)
    problems = verify(url, plan, int(billfold["run_id"]))
    for seen in (raw, raw_par):
        if seen["channel_only"] != plan.k or seen["engine_only"] != plan.k:
            problems.append(f"the raw join saw {seen}; the plan seeded K={plan.k} of each kind")
    engine = Engine.from_url(url, clock=FixedClock(datetime(2026, 9, 2, 1, 0, tzinfo=UTC)))
    recon = Reconciler(engine)
    started = time.perf_counter()
    auto = recon.auto_resolve(int(billfold["run_id"]))
    auto_seconds = time.perf_counter() - started
    if len(auto) != plan.k:
        problems.append(f"{len(auto)} discrepancies resolved automatically, expected {plan.k}")
    before = engine.trial_balance()
    started = time.perf_counter()
    again = recon.reconcile(path, format=fmt, business_date=DAY, channel=CHANNEL,
                            column_map=CSV_MAP if fmt == "generic-csv" else None)  # fmt: skip
    rerun_seconds = time.perf_counter() - started
    if again.created or engine.trial_balance() != before:
        problems.append("reconciling the same file again changed something")
    books = engine.check_books()
    if books:
        problems.append(f"check_books: {books[:3]}")
    engine.close()
    return Outcome(
        backend, plan.n, raw, raw_par, billfold, parser, auto_seconds, rerun_seconds, problems
    )


def report(outcomes: Sequence[Outcome], plan: Plan, fmt: str) -> None:
    print()
    print(f"format {fmt}; {plan.k} seeded discrepancies of each of {len(KINDS)} kinds")
    cpus, reader = os.cpu_count(), billfold_reader()
    print(f"machine: {cpus} CPUs; load average {_shared.load()}; billfold {reader}")
    head = (
        f"{'backend':<11}{'n':>9}  {'side':<10}{'wall s':>8}{'CPU s':>8}{'server s':>9}"
        f"{'peak MiB':>10}  notes"
    )
    print(head)
    for o in outcomes:
        r, q, b, p = o.raw, o.raw_par, o.billfold, o.parser

        def row(side: str, x: dict[str, Any], note: str, o: Outcome = o) -> None:
            server = x.get("server_cpu")
            print(
                f"{o.backend:<11}{o.n:>9}  {side:<10}{x['seconds']:>8.2f}{x['cpu']:>8.2f}"
                f"{'-' if server is None else f'{server:.2f}':>9}{x['peak_mib']:>10.0f}  {note}"
            )

        counts = (
            f"matched {r['matched']}, differing {r['differing']}, channel only "
            f"{r['channel_only']}, engine only {r['engine_only']}"
        )
        row("raw", r, f"one process; {counts}")
        row(f"raw x{q['workers']}", q, f"read by {q['workers']} processes, loaded by one")
        row(
            "billfold",
            b,
            f"matched {b['matched']}, {b['discrepancies']} discrepancies stored; {b['reader']}",
        )
        row("parser", p, "the streaming parser alone, one process, no database")
        wall_ok = "PASS" if b["seconds"] <= 5.0 else "BELOW"
        cpu_ok = "PASS" if o.cpu_ratio <= 2.0 else "BELOW"
        whose = "CPU of this process and its children" + (
            "" if o.backend == "sqlite" else "; the server's apart, under 'server s'"
        )
        print(
            f"{o.backend:<11}wall {b['seconds']:.2f} s (target <= 5 s: {wall_ok}); "
            f"billfold/raw x{q['workers']}: wall {o.wall_ratio:.2f}, CPU {o.cpu_ratio:.2f} "
            f"(target <= 2.00: {cpu_ok}); billfold/raw one process: wall "
            f"{b['seconds'] / r['seconds']:.2f}, CPU {b['cpu'] / max(r['cpu'], 1e-9):.2f} ({whose})"
        )
        # children at once: the streaming parser's workers, one per CPU; beside the columnar
        # reader at most one (on SQLite the payments' reader; ru_maxrss is the largest's)
        children = 1 if b["reader"].startswith("columnar") else (os.cpu_count() or 1)
        total = b["peak_mib"] + children * b["worker_peak_mib"]
        memory = "PASS" if total < 1024 else "BELOW"
        print(f"{o.backend:<11}peak memory {total:.0f} MiB (target < 1 GiB: {memory})")
        print(
            f"{o.backend:<11}automatic resolution of {plan.k} 长款: {o.auto_seconds:.2f} s; "
            f"the same file again: {o.rerun_seconds:.2f} s, nothing changed"
        )
        if b.get("server_cpu") is not None and q.get("server_cpu") is not None:
            mine = b["cpu"] + b["server_cpu"]
            theirs = q["cpu"] + q["server_cpu"]
            print(
                f"{o.backend:<11}client + server CPU: billfold {mine:.2f} s, raw "
                f"x{q['workers']} {theirs:.2f} s, ratio {mine / max(theirs, 1e-9):.2f}"
            )
        for problem in o.problems:
            print(f"{o.backend:<11}PROBLEM: {problem}")
    if all(not o.problems for o in outcomes):
        print(
            "verified: exactly the seeded discrepancies; reruns change nothing; check_books() == []"
        )


def billfold_reader() -> str:
    try:
        from billfold.settlement.parsers import columnar
    except ImportError:  # billfold before the columnar reader (a "before" measurement)
        return f"streams its parser in up to {PARALLEL} processes"
    if not columnar.available():
        return "streams its parser (polars is not installed)"
    import polars as pl

    return f"reads with polars {pl.__version__} on {pl.thread_pool_size()} threads"


def main(argv: Sequence[str] | None = None) -> int:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=_shared.count, default=1_000_000)
    parser.add_argument("--backends", type=_shared.backends, default="sqlite,postgresql")
    parser.add_argument("--pg-url")
    parser.add_argument("--format", default="wechatpay", choices=["wechatpay", "generic-csv"])
    parser.add_argument("--smoke", action="store_true", help="n=3000: seconds, for CI")
    parser.add_argument("--keep-files", action="store_true")
    parser.add_argument("--side", choices=["raw", "billfold", "parser"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        path = Path(args.file)
        if args.side == "raw":
            result = side_raw(args.url, path, args.format, args.workers)
        elif args.side == "billfold":
            result = side_billfold(args.url, path, args.format)
        else:
            result = side_parser(path, args.format)
        print(json.dumps(result))
        return 0
    n = 3000 if args.smoke else args.n
    plan = Plan(n, max(1, n // 5000))
    if n < plan.k * len(KINDS):
        parser.error(f"--n: {n} is too small to seed {len(KINDS)} kinds of discrepancy")
    pg_url = _shared.pg_url(args.pg_url)
    outcomes: list[Outcome] = []
    for backend in args.backends:
        if backend == "postgresql" and not pg_url:
            print("postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)")
            continue
        with tempfile.TemporaryDirectory(prefix="bench-recon-") as tmp_name:
            tmp = Path(tmp_name)
            manager = sqlite_database(tmp) if backend == "sqlite" else pg_database(str(pg_url))
            with manager as url:
                outcomes.append(run_backend(backend, url, plan, args.format, tmp))
            if args.keep_files:
                print(f"(files were in {tmp}; --keep-files keeps nothing after exit)")
    report(outcomes, plan, args.format)
    return 1 if any(o.problems for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
