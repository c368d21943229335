"""HTTP notifications benchmark: signed channel notifications through ``billfold serve``.

    python benchmarks/http.py [--n 2000] [--repeat-rate 0.2] [--concurrency 16]
                              [--backends sqlite,postgresql] [--workers 1,2]
                              [--http httptools,h11] [--pg-url URL] [--smoke]

For each backend a throwaway database is made (SQLite: a temporary file; PostgreSQL:
``CREATE DATABASE bench_http_<pid>_<rand>``, dropped at the end) and migrated. Setup, not
timed: one market-stall biller whose ``qr`` channel config names a notification key held in
``BILLFOLD_BENCH_QR_KEY``, and per run a fresh set of one-item bills with one order each.

The notifications are the QR aggregator's real format (HMAC-SHA256 over timestamp + body,
``billfold.channels.qr.build_notification``), signed by this process. ``--repeat-rate`` of the
orders are notified twice; the list is shuffled, so repeats arrive out of order and often at
the same moment as their original, on another connection (or another worker).

Timed, per server configuration (workers × HTTP parser; SQLite runs one worker only):

* **http**: ``billfold serve --workers W --http H --channels benchmarks/http.py:bench_channels``
  as a subprocess, driven by ``benchmarks/_loadgen.py``, a load generator in a process of its
  own (one thread, one ``selectors`` loop, as wrk and oha are lean): every request is built
  and signed here before the timed window, then sent over ``--concurrency`` persistent
  keep-alive connections, each with one request in flight, to ``/v1/notify/qr``; req/s over
  the whole run, p50/p99 latency per request as the client saw it;
* **minimal** (same run, same client, same uvicorn setup through
  ``billfold.adapters.http.server.run``): a FastAPI app whose POST reads the body and answers
  ``{"code":"SUCCESS"}`` — the ceiling this client and this server stack reach here;
* **in-process** (once per backend): the same kind of notifications handed straight to
  ``Collector.notify`` by the same number of threads, no HTTP;
* **confirm** (once per backend, the yardstick of issue 16's target): the same payments
  handed straight to ``Engine.confirm`` by the same threads — no HTTP, nothing to verify.

Printed ratios: http ÷ in-process (what HTTP and the server add or win by parallelism),
http ÷ minimal (how much of the stack's ceiling the real endpoint reaches) and http ÷
confirm, with its target (>= 0.8 on PostgreSQL) and whether it is met. ``--workers 1,2,4``
runs the server with each number of workers in turn (PostgreSQL; SQLite runs one).

CPU per request is printed for every side as client + server + database, in ms: the client
is the load generator's process (HTTP sides) or this process's threads (in-process sides),
the server is ``billfold serve`` and its workers, the database the PostgreSQL backends of the
benchmark's database (read from /proc; PostgreSQL runs on this machine). On a small machine
the client, the server and the database share the cores: the client's CPU says what it took
from the others.

After each run every order of the run must be paid by exactly one credited payment, there
must be exactly one payment per order whatever the repeats, every answer must have been
``200 {"code":"SUCCESS"}``, and at the end ``engine.check_books()`` must be ``[]``. If not,
the exit status is 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file (http.py) would
# shadow the standard library's ``http`` package for every import below.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator, Mapping, Sequence  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from contextlib import AbstractContextManager, contextmanager, suppress  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from types import ModuleType  # noqa: E402

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from billfold import Biller, BillerKind, Engine, SystemClock  # noqa: E402
from billfold.adapters.db import migrate  # noqa: E402
from billfold.adapters.db.connect import make_engine  # noqa: E402
from billfold.adapters.http.server import ServerOptions  # noqa: E402
from billfold.channels.base import Channel  # noqa: E402
from billfold.channels.collect import Collector  # noqa: E402
from billfold.channels.qr import QrChannel, build_notification  # noqa: E402
from billfold.channels.secrets import EnvSecrets  # noqa: E402
from billfold.logging import configure_logging  # noqa: E402
from billfold.merchants.channel_config import ChannelConfig  # noqa: E402
from billfold.testing import orders_for_every_bill, scratch_pg_database  # noqa: E402
from billfold.testing.sandbox.gateway import SandboxGateway  # noqa: E402
from billfold.testing.sandbox.qr import SandboxAcquirer  # noqa: E402


def _load_shared() -> ModuleType:
    """benchmarks/_shared.py, read by its path: this folder is off ``sys.path`` (above)."""
    spec = importlib.util.spec_from_file_location("benchmarks_shared", HERE / "_shared.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_shared = _load_shared()

BILLER = "bench-stall"
MERCHANT = "M-BENCH-HTTP-01"
KEY_ENV = "BILLFOLD_BENCH_QR_KEY"
DEFAULT_N, SMOKE_N = 2000, 40
STARTUP_S = 180  # a loaded, shared machine starts a server slowly (4 workers, load 18: > 90 s)
TARGET = 0.80  # HTTP notify ÷ in-process Engine.confirm on PostgreSQL (issue 16)
BACKENDS = _shared.BACKENDS
HTTP_PARSERS = ("auto", "httptools", "h11")
MAIN = "from billfold.adapters.cli.app import main; main()"
SUCCESS = b'{"code":"SUCCESS"}'
MINIMAL_APP = """
from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/v1/notify/{channel}")
async def notify(channel: str, request: Request) -> Response:
    await request.body()
    return Response(b'{"code":"SUCCESS"}', media_type="application/json")
"""


class BenchFailure(Exception):
    """The benchmark itself went wrong (a server did not start, a check failed)."""


def bench_channels(engine: Engine) -> Mapping[str, Channel]:
    """``billfold serve --channels benchmarks/http.py:bench_channels``: the QR aggregator,
    its merchants' keys read from the environment (``KEY_ENV``)."""
    acquirer = SandboxAcquirer(SandboxGateway(engine.clock), {})  # collect() is not used here
    return {"qr": QrChannel.for_engine(engine, acquirer, EnvSecrets(), render=False)}


# -- databases ------------------------------------------------------------------------------------


@contextmanager
def database(backend: str, pg_url: str | None) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="billfold-bench-http-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    assert pg_url
    with scratch_pg_database(pg_url, "bench_http") as url:
        yield url


# -- setup ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    order_no: str
    headers: dict[str, str]
    body: bytes


def setup_biller(engine: Engine) -> None:
    engine.create_biller(Biller(code=BILLER, name="基准测试水果摊", kind=BillerKind.MARKET_STALL))
    config = ChannelConfig("qr", merchant_id=MERCHANT, settings={"notify_key_env": KEY_ENV})
    engine.set_channel_config(BILLER, config, actor="bench", reason="benchmark")


def make_orders(engine: Engine, prefix: str, count: int) -> list[tuple[str, int]]:
    """``count`` one-item bills, one order each: [(order_no, amount_fen)]."""
    rows = ["bill_no,payer_id,items"]
    for i in range(count):
        rows.append(f"{prefix}{i:07d},P{prefix}{i:07d},goods:货款={10 + i % 90}.{i % 100:02d}")
    engine.import_bills(BILLER, ("\n".join(rows) + "\n").encode(), file_name=f"{prefix}.csv")
    return orders_for_every_bill(engine, BILLER, prefix)


def notices(key: bytes, work: list[tuple[str, int]], repeat_rate: float, seed: int) -> list[Notice]:
    """One signed notification per order, a repeat for ``repeat_rate`` of them, shuffled."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    signed: list[Notice] = []
    for order_no, amount in work:
        headers, body = build_notification(
            key,
            merchant_id=MERCHANT,
            order_no=order_no,
            txn_id=f"T{order_no}",
            amount_fen=amount,
            paid_at=now,
            sent_at=now,
        )
        signed.append(Notice(order_no, headers, body))
    repeats = rng.sample(signed, round(len(signed) * repeat_rate))
    out = signed + repeats
    rng.shuffle(out)
    return out


# -- CPU ------------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class Cpu:
    """CPU seconds a run took: the client's (the load generator, or this process for the
    in-process sides), the ``billfold serve`` processes' and the database backends'."""

    client: float
    server: float
    db: float

    def per_request(self, requests: int) -> str:
        """``client + server + db`` in ms per request."""
        ms = [1000 * part / max(1, requests) for part in (self.client, self.server, self.db)]
        return " + ".join(f"{m:.2f}" for m in ms)


@dataclass(frozen=True, slots=True)
class Reading:
    client: float
    server: float
    db: dict[int, int]  # backend pid -> CPU ticks so far

    def __sub__(self, before: Reading) -> Cpu:
        db = sum(ticks - before.db.get(pid, 0) for pid, ticks in self.db.items())
        return Cpu(self.client - before.client, self.server - before.server, db / TICK)


def _proc_stats() -> dict[int, list[str]]:
    """Every process's /proc/<pid>/stat fields after the command name (Linux)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
    return stats


def _ticks(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])  # utime, stime


class CpuMeter:
    """Reads this process's CPU, that of a server process and its children (the uvicorn
    workers), and that of the PostgreSQL backends serving the benchmark's database's clients
    (the server runs on this machine; a backend that starts during a run counts from zero;
    autovacuum, which the setup's inserts wake at any moment, is left out).
    Without /proc (not Linux) only this process's CPU is read."""

    def __init__(self, engine: Engine, server_pid: int | None = None) -> None:
        self.engine = engine
        self.server_pid = server_pid
        self.proc = Path("/proc/self/stat").exists()
        self.pg = engine.db.dialect.name == "postgresql"

    def _backends(self) -> list[int]:
        with self.engine.db.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
            )
            return [int(r[0]) for r in rows]

    def now(self) -> Reading:
        client = time.process_time()
        if not self.proc:
            return Reading(client, 0.0, {})
        stats = _proc_stats()
        server = 0
        if self.server_pid is not None:
            children: dict[int, list[int]] = {}
            for pid, fields in stats.items():
                children.setdefault(int(fields[1]), []).append(pid)
            todo = [self.server_pid]
            while todo:
                pid = todo.pop()
                if pid in stats:
                    server += _ticks(stats[pid])
                    todo += children.get(pid, [])
        db = (
            {pid: _ticks(stats[pid]) for pid in self._backends() if pid in stats} if self.pg else {}
        )
        return Reading(client, server / TICK, db)


# -- load -----------------------------------------------------------------------------------------


@dataclass
class Load:
    label: str
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    bad_answers: list[str] = field(default_factory=list)
    cpu: Cpu | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _drive(
    label: str,
    items: Sequence[Notice],
    threads: int,
    send: Callable[[Notice], None],
    meter: CpuMeter,
) -> Load:
    """Spread ``items`` over ``threads`` threads calling ``send(notice)`` (in this process:
    its CPU is the client's)."""
    load = Load(label, len(items))
    lock = threading.Lock()
    chunks = [items[k::threads] for k in range(threads)]
    start_gate = threading.Barrier(threads + 1)

    def worker(chunk: Sequence[Notice]) -> None:
        mine: list[float] = []
        start_gate.wait()
        for notice in chunk:
            t0 = time.perf_counter()
            send(notice)
            mine.append(time.perf_counter() - t0)
        with lock:
            load.latencies += mine

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker, chunk) for chunk in chunks]
        before = meter.now()
        start_gate.wait()
        t0 = time.perf_counter()
        for future in futures:
            future.result()
        load.seconds = time.perf_counter() - t0
        load.cpu = meter.now() - before
    return load


LOADGEN = HERE / "_loadgen.py"


def raw_request(notice: Notice) -> bytes:
    """The whole HTTP/1.1 request for one notification, as the load generator sends it."""
    head = [
        "POST /v1/notify/qr HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Length: {len(notice.body)}",
        *(f"{name}: {value}" for name, value in notice.headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + notice.body


def over_http(
    label: str,
    port: int,
    warm: Sequence[Notice],
    items: Sequence[Notice],
    connections: int,
    meter: CpuMeter,
) -> Load:
    """``items`` (after ``warm``, untimed) sent by the load generator (benchmarks/_loadgen.py,
    a process of its own) over ``connections`` keep-alive connections; every request is built
    and signed here, before the generator starts."""
    with tempfile.NamedTemporaryFile(prefix="billfold-bench-requests-", suffix=".pickle") as f:
        f.write(pickle.dumps([raw_request(n) for n in [*warm, *items]]))
        f.flush()
        command = [sys.executable, str(LOADGEN), "127.0.0.1", str(port), str(connections)]
        command += [f.name, "--warm", str(len(warm))]
        with subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        ) as gen:
            assert gen.stdin and gen.stdout
            ready = gen.stdout.readline()
            if ready.strip() != "ready":
                gen.kill()
                raise BenchFailure(f"{label}: the load generator did not start: {ready[:300]}")
            before = meter.now()
            gen.stdin.write("go\n")
            gen.stdin.flush()
            answer = gen.stdout.readline()
            after = meter.now()
            gen.wait()
    result = json.loads(answer or "{}")
    if "error" in result or "seconds" not in result:
        raise BenchFailure(f"{label}: the load generator failed: {answer[:300]}")
    load = Load(label, result["requests"], result["seconds"], result["latencies"], result["bad"])
    spent = after - before
    load.cpu = Cpu(result["cpu"], spent.server, spent.db)
    return load


def in_process_confirm(engine: Engine, items: Sequence[Notice], threads: int) -> Load:
    """The yardstick of the target: the same payments handed straight to ``Engine.confirm``
    (no HTTP, no signature to verify), same threads."""

    def send(notice: Notice) -> None:
        data = json.loads(notice.body)
        engine.confirm("qr", data["txn_id"], data["order_no"], data["amount_fen"])

    return _drive("confirm", items, threads, send, CpuMeter(engine))


def in_process(engine: Engine, items: Sequence[Notice], threads: int) -> Load:
    collector = Collector(engine, bench_channels(engine))

    def send(notice: Notice) -> None:
        collector.notify("qr", notice.headers, notice.body)

    return _drive("in-process", items, threads, send, CpuMeter(engine))


# -- servers --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[int]:
    """The server started and answering; yields its process id."""
    with open(log, "wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if server.poll() is not None:
                raise BenchFailure(f"the server exited: {log.read_text(errors='replace')[-800:]}")
            with suppress(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
                break
            if time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-800:]
                raise BenchFailure(f"the server did not answer within {STARTUP_S} s: {tail}")
            time.sleep(0.05)
        yield server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def billfold_serve(
    url: str, workers: int, http: str, tmp: Path, key: str
) -> tuple[int, AbstractContextManager[int]]:
    port = _free_port()
    command = [sys.executable, "-c", MAIN, "serve", "--port", str(port), "--workers"]
    command += [str(workers), "--http", http, "--no-upgrade", "--database-url", url]
    command += ["--channels", f"{Path(__file__).resolve()}:bench_channels"]
    env = {**os.environ, KEY_ENV: key, "BILLFOLD_LOG_LEVEL": "INFO"}
    return port, running(command, env, port, tmp / f"serve-{workers}-{http}.log")


def minimal_serve(workers: int, http: str, tmp: Path) -> tuple[int, AbstractContextManager[int]]:
    (tmp / "bench_minimal_app.py").write_text(MINIMAL_APP)
    port = _free_port()
    code = (
        "from billfold.adapters.http.server import ServerOptions, run; "
        f"run('bench_minimal_app:app', ServerOptions(port={port}, workers={workers}, "
        f"http={http!r}), factory=False)"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp)}
    return port, running([sys.executable, "-c", code], env, port, tmp / "minimal.log")


# -- checks ---------------------------------------------------------------------------------------


def verify(engine: Engine, prefix: str, count: int) -> list[str]:
    """Every order of the run paid by exactly one credited payment; one payment per order."""
    like = {"p": f"O{prefix}%"}
    checks = {
        "orders not paid": "SELECT count(*) FROM orders WHERE order_no LIKE :p "
        "AND (status <> 'paid' OR payment_id IS NULL)",
        "orders without exactly one credited payment": "SELECT count(*) FROM (SELECT o.id "
        "FROM orders o LEFT JOIN payments p ON p.order_id = o.id AND p.status = 'credited' "
        "WHERE o.order_no LIKE :p GROUP BY o.id HAVING count(p.id) <> 1) x",
    }
    problems = []
    with engine.db.connect() as conn:
        for what, sql in checks.items():
            bad = conn.execute(text(sql), like).scalar_one()
            if bad:
                problems.append(f"{prefix}: {bad} {what}")
        payments = conn.execute(
            text("SELECT count(*) FROM payments WHERE order_no LIKE :p"), like
        ).scalar_one()
    if payments != count:
        problems.append(f"{prefix}: {payments} payments for {count} orders")
    return problems


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    config: str
    http: Load
    minimal: Load | None
    base: Load
    confirm: Load


def run_backend(
    backend: str, url: str, args: argparse.Namespace, minimal: dict[str, Load]
) -> tuple[list[Row], list[str]]:
    key = secrets.token_hex(24)
    os.environ[KEY_ENV] = key  # for the in-process side's EnvSecrets
    engine = Engine(make_engine(url), SystemClock())
    migrate.upgrade(engine.db)
    problems: list[str] = []
    rows: list[Row] = []
    try:
        setup_biller(engine)
        workers = [1] if backend == "sqlite" else args.workers
        configs = [(w, h) for w in workers for h in args.http]
        letters = iter("ABCDEFGHJKLMN")
        sets = {(w, h): next(letters) for w, h in configs}
        base_prefix, confirm_prefix = "Z", "Y"
        work = {
            p: make_orders(engine, p, args.n) for p in [*sets.values(), base_prefix, confirm_prefix]
        }
        warm = make_orders(engine, "W", args.concurrency * 4 * len(configs))
        seed = 20261204
        items = notices(key.encode(), work[base_prefix], args.repeat_rate, seed)
        base = in_process(engine, items, args.concurrency)
        problems += verify(engine, base_prefix, args.n) + base.bad_answers
        items = notices(key.encode(), work[confirm_prefix], args.repeat_rate, seed)
        confirm = in_process_confirm(engine, items, args.concurrency)
        problems += verify(engine, confirm_prefix, args.n) + confirm.bad_answers
        with tempfile.TemporaryDirectory(prefix="billfold-bench-http-run-") as tmp_name:
            tmp = Path(tmp_name)
            for k, (w, h) in enumerate(configs):
                stack = ServerOptions(http=h).protocol().__name__[len("NoDelay") : -len("Protocol")]
                label = f"{w} worker{'s' if w > 1 else ''}, {stack.lower()}"
                try:  # a server that does not start fails its row, not the others'
                    items = notices(key.encode(), work[sets[(w, h)]], args.repeat_rate, seed)
                    if label not in minimal:
                        port, server = minimal_serve(w, h, tmp)
                        with server as pid:
                            minimal[label] = over_http(
                                "minimal",
                                port,
                                items[: args.concurrency * 4],
                                items,
                                args.concurrency,
                                CpuMeter(engine, pid),
                            )
                    port, server = billfold_serve(url, w, h, tmp, key)
                    with server as pid:
                        mine = warm[k :: len(configs)] if k < len(warm) else []
                        warm_items = notices(key.encode(), mine, 0, seed)
                        load = over_http(
                            "http", port, warm_items, items, args.concurrency, CpuMeter(engine, pid)
                        )
                except BenchFailure as broken:
                    problems.append(f"{label}: {broken}")
                    continue
                problems += verify(engine, sets[(w, h)], args.n) + load.bad_answers
                rows.append(Row(backend, label, load, minimal.get(label), base, confirm))
        problems += engine.check_books()
    finally:
        engine.close()
    return rows, problems


def _cpu(load: Load | None) -> str:
    return load.cpu.per_request(load.requests) if load and load.cpu else "-"


def report(rows: list[Row], args: argparse.Namespace) -> None:
    print()
    print(
        f"{'backend':<11}{'server':<22}{'requests':>9}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'in-proc/s':>11}{'÷ in-proc':>11}{'minimal/s':>11}{'÷ minimal':>11}"
    )
    for r in rows:
        minimal = r.minimal.rate if r.minimal else float("nan")
        print(
            f"{r.backend:<11}{r.config:<22}{r.http.requests:>9}{r.http.rate:>9.0f}"
            f"{r.http.percentile(0.5):>8.1f}{r.http.percentile(0.99):>8.1f}"
            f"{r.base.rate:>11.0f}{r.http.rate / r.base.rate:>11.2f}"
            f"{minimal:>11.0f}{r.http.rate / minimal:>11.2f}"
        )
    print(
        f"requests = {args.n} orders + {args.repeat_rate:.0%} repeats, shuffled, built and "
        f"signed before the run, sent over {args.concurrency} keep-alive connections by "
        "benchmarks/_loadgen.py (one process, one thread)"
    )
    print(
        f"in-proc/s = the same notifications through Collector.notify, no HTTP, "
        f"{args.concurrency} threads in this process"
    )
    print("minimal/s = a FastAPI POST that only reads the body, same uvicorn setup and client")
    print()
    print("CPU per request, ms: client + server + database")
    print(f"{'backend':<11}{'server':<22}{'http':>22}{'minimal':>22}{'in-proc':>22}{'confirm':>22}")
    for r in rows:
        print(
            f"{r.backend:<11}{r.config:<22}{_cpu(r.http):>22}{_cpu(r.minimal):>22}"
            f"{_cpu(r.base):>22}{_cpu(r.confirm):>22}"
        )
    print(
        "client = the load generator's process (http, minimal) or this process (in-proc, "
        "confirm); server = billfold serve and its workers; database = the PostgreSQL backends"
    )
    print()
    print(
        f"{'backend':<11}{'server':<22}{'req/s':>9}{'confirm/s':>11}{'ratio':>8}{'target':>9}  met"
    )
    for r in rows:
        ratio = r.http.rate / r.confirm.rate
        target = f">= {TARGET:.2f}" if r.backend == "postgresql" else ""
        met = ("yes" if ratio >= TARGET else "NO") if r.backend == "postgresql" else ""
        print(
            f"{r.backend:<11}{r.config:<22}{r.http.rate:>9.0f}{r.confirm.rate:>11.0f}"
            f"{ratio:>8.2f}{target:>9}  {met}"
        )
    print("confirm/s = the same payments handed straight to Engine.confirm (no HTTP, nothing to")
    print(
        f"verify), {args.concurrency} threads in this process; target (issue 16, PostgreSQL): "
        "HTTP notify >= 0.8 of it"
    )


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value!r}")
    return rate


def _workers(value: str) -> list[int]:
    return [_shared.count(v.strip()) for v in value.split(",") if v.strip()] or [
        _shared.count(value)
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/http.py",
        description="Channel notifications per second through billfold serve, repeats mixed in.",
    )
    parser.add_argument("--n", type=_shared.count, help=f"orders per server run ({DEFAULT_N})")
    parser.add_argument("--repeat-rate", type=_rate, default=0.2, help="orders notified twice")
    parser.add_argument("--concurrency", type=_shared.count, default=16, help="client threads (16)")
    parser.add_argument("--backends", type=_shared.backends, default=list(BACKENDS))
    parser.add_argument("--workers", type=_workers, default=[1, 2], help="PostgreSQL: 1,2")
    parser.add_argument(
        "--http", type=_shared.choices(HTTP_PARSERS, "HTTP parser"), default=["auto"], help="auto"
    )
    parser.add_argument(
        "--pg-url", help="PostgreSQL server URL (default: BILLFOLD_BENCH_PG_URL or _TEST_PG_URL)"
    )
    parser.add_argument("--smoke", action="store_true", help=f"n={SMOKE_N}, for CI")
    args = parser.parse_args(argv)
    args.n = args.n or (SMOKE_N if args.smoke else DEFAULT_N)
    if args.smoke:
        args.concurrency = min(args.concurrency, 4)
    args.pg_url = _shared.pg_url(args.pg_url)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.2f}; Python {sys.version.split()[0]}")
    configure_logging(json=True, level="WARNING")  # this process's own lines; servers log INFO
    rows: list[Row] = []
    failed: list[str] = []
    minimal: dict[str, Load] = {}
    for backend in args.backends:
        if backend == "postgresql" and not args.pg_url:
            print("postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)")
            continue
        print(f"{backend}: {args.n} orders per run ...", flush=True)
        try:
            with database(backend, args.pg_url) as url:
                got, problems = run_backend(backend, url, args, minimal)
            rows += got
            failed += [f"{backend}: {p}" for p in problems]
        except BenchFailure as broken:
            failed.append(f"{backend}: {broken}")
    report(rows, args)
    for problem in failed:
        print(f"FAILED {problem}")
    if not failed and rows:
        print(
            "verified: every order credited exactly once, repeats answered SUCCESS; "
            "check_books() == []"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
