"""``billfold worker`` scale-out mode on PostgreSQL (procrastinate): processes killed -9 mid-run
lose nothing and do nothing twice.

* two workers, one killed -9 in the middle of an outbox run towards a slow receiver: the other
  finishes, every event reaches the receiver, only the delivery in flight at the kill may
  arrive twice (the outbox's at-least-once contract; receivers deduplicate on the event id);
* two ``billfold serve`` workers and two ``billfold worker`` processes under a hammer of
  signed notifications, with webhooks and the T+0 requery running, one of each killed -9
  mid-run: every order credited once, every event delivered, books balanced.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.adapters.outbox import dispatcher as outbox
from billfold.channels.qr import build_notification
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing import orders_for_every_bill
from billfold.testing.local_http import BackgroundHttpServer, QuietHandler
from billfold.testing.webhooks import RecordingReceiver

pytestmark = [pytest.mark.pg, pytest.mark.slow]

MAIN = [sys.executable, "-c", "from billfold.adapters.cli.app import main; main()"]
SECRET = "scale-webhook-secret-0123456789"
KEY_ENV = "JOBS_TEST_QR_KEY"
KEY = "jobs-test-qr-notify-key-0123456789"
MERCHANT = "M-JOBS-01"
STARTUP = 240.0  # seconds a process may take to start on a machine shared by many
FAST = """
continuous_seconds = 1
[schedule]
requery = "every 2s"
[outbox]
lease_seconds = 3
[requery]
older_than_minutes = 1
"""


@pytest.fixture
def pg_url(pg_fresh: str) -> str:
    return pg_fresh


def wait_for(check: Callable[[], bool], seconds: float = 40.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


@contextmanager
def process(command: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    """Run ``command`` (output to ``log``); on leaving, SIGTERM it and wait (kill if stuck)."""
    env = {**(env or os.environ), "PYTHONUNBUFFERED": "1"}  # a log that survives kill -9
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc.pid
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait()


def worker(url: str, config: Path, log: Path, *extra: str) -> list[str]:
    command = [*MAIN, "worker", "--database-url", url, "--config", str(config)]
    return [*command, "--heartbeat", "1", "--stalled-after", "3", *extra]


def heartbeats(engine: Engine) -> int:
    return scalar(engine, "SELECT count(*) FROM worker_heartbeats")


def scalar(engine: Engine, sql: str) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def school(engine: Engine, orders: int, receiver_url: str) -> None:
    """``orders`` paid orders: 2 outbox events each (payment.confirmed, bill.paid)."""
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    # the endpoint first: events fanned out before it existed are not sent to it
    outbox.add_endpoint(engine, "s1", receiver_url, SECRET, "*", actor="t")
    rows = "".join(f"T{i:03d},2024{i:03d},10.00\n" for i in range(orders))
    engine.import_bills("s1", ("bill_no,payer_id,amount\n" + rows).encode())
    for i in range(orders):
        order = engine.create_order("s1", [f"T{i:03d}"])
        engine.confirm("counter", f"C{i}", order.order_no, 1000)


def progress(engine: Engine, receiver: RecordingReceiver | SlowReceiver) -> dict[str, int]:
    return {
        "events": scalar(engine, "SELECT count(*) FROM outbox_events"),
        "received": len(set(receiver.event_ids())),
        "not delivered": scalar(
            engine, "SELECT count(*) FROM outbox_deliveries WHERE status <> 'delivered'"
        ),
        "jobs doing": scalar(
            engine, "SELECT count(*) FROM procrastinate_jobs WHERE status='doing'"
        ),
    }


def settled(engine: Engine, receiver: RecordingReceiver | SlowReceiver) -> bool:
    seen = progress(engine, receiver)
    return seen["received"] == seen["events"] and seen["not delivered"] == 0


class SlowReceiver(BackgroundHttpServer):
    """Records each POST's event id, then holds the answer ``delay`` seconds; ``in_flight``
    holds the client ports of the requests being held (who is mid-delivery right now)."""

    def __init__(self, delay: float) -> None:
        self.ids: list[str] = []
        self.in_flight: set[int] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                port = self.client_address[1]
                with receiver.lock:
                    receiver.ids.append(self.headers.get("X-Billfold-Event-Id") or "")
                    receiver.in_flight.add(port)
                time.sleep(delay)
                with receiver.lock:
                    receiver.in_flight.discard(port)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)

    def event_ids(self) -> list[str]:
        with self.lock:
            return list(self.ids)


def owner_of(client_port: int, server_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the TCP connection from ``client_port`` to ``server_port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cells = line.split()
                local, remote = (int(c.rsplit(":", 1)[1], 16) for c in cells[1:3])
                if (local, remote) == (client_port, server_port):
                    inodes.add(f"socket:[{cells[9]}]")
    for pid in pids:
        with suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return pid
    return None


def kill_whoever_is_delivering(receiver: SlowReceiver, pids: list[int]) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with receiver.lock:
            ports = list(receiver.in_flight)
        for port in ports:
            pid = owner_of(port, receiver.port, pids)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.02)
    raise AssertionError("no worker was caught delivering")


def test_a_worker_killed_mid_delivery_leaves_the_rest_to_the_other(
    pg_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "worker.toml"
    config.write_text(FAST)
    engine = Engine.from_url(pg_url)
    with SlowReceiver(delay=0.3) as receiver, ExitStack() as stack:
        pids = [
            stack.enter_context(process(worker(pg_url, config, tmp_path), tmp_path / f"{n}.log"))
            for n in ("a", "b")
        ]
        assert wait_for(lambda: heartbeats(engine) == 2, STARTUP)
        school(engine, 15, receiver.base_url)  # 30 events, 9 s of receiving for one sender
        assert wait_for(lambda: len(receiver.event_ids()) >= 4)
        killed = kill_whoever_is_delivering(receiver, pids)  # mid-task, mid-request even
        sent_before_kill = len(receiver.event_ids())
        [survivor] = [pid for pid in pids if pid != killed]

        assert wait_for(lambda: settled(engine, receiver)), progress(engine, receiver)
        # the killed worker's job, stuck 'doing', was put back by the survivor's stalled sweep
        assert wait_for(
            lambda: (
                scalar(engine, "SELECT count(*) FROM procrastinate_jobs WHERE status='doing'") == 0
            )
        )
        os.kill(survivor, signal.SIGTERM)

    ids = receiver.event_ids()
    with engine.db.connect() as conn:
        events = set(conn.execute(select(t.outbox_events.c.event_id)).scalars())
        states = dict(
            conn.execute(  # type: ignore[arg-type]
                select(t.outbox_deliveries.c.status, func.count()).group_by(
                    t.outbox_deliveries.c.status
                )
            ).all()
        )
    assert len(events) == 30, ids
    assert set(ids) == events  # nothing lost
    assert len(ids) - len(set(ids)) <= 1  # at most the one in flight at the kill came twice
    assert sent_before_kill < 30  # the kill really was mid-run
    assert states == {"delivered": 30}
    assert engine.check_books() == []
    engine.close()


CHANNELS = '''
import json, os
from datetime import UTC, datetime

from billfold.channels.base import ChannelEvent, EventKind, RemoteState, StatusAnswer
from billfold.channels.qr import QrChannel
from billfold.channels.secrets import EnvSecrets
from billfold.testing.sandbox.gateway import SandboxGateway
from billfold.testing.sandbox.qr import SandboxAcquirer


class Aggregator(QrChannel):
    """Asked about an order, the aggregator answers from its records (a file the test writes)."""

    def query(self, order_no):
        with open(os.environ["JOBS_TEST_PAID"]) as f:
            paid = json.load(f)
        if order_no not in paid:
            return StatusAnswer(RemoteState.PENDING)
        txn, fen = paid[order_no]
        event = ChannelEvent("qr", EventKind.PAID, order_no, txn, fen, datetime.now(UTC))
        return StatusAnswer(RemoteState.PAID, event)


def make(engine):
    acquirer = SandboxAcquirer(SandboxGateway(engine.clock), {})
    return {"qr": Aggregator.for_engine(engine, acquirer, EnvSecrets(), render=False)}
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
                if int(stat[1]) == pid and b"resource_tracker" not in cmdline:
                    found.append(int(entry.name))
    return found


def stall(engine: Engine, orders: int, receiver_url: str) -> list[tuple[str, int]]:
    """A market stall taking aggregated QR; ``orders`` orders sent to the aggregator, made
    ten minutes ago (so the T+0 requery, which waits a minute, may ask about them)."""
    engine.create_biller(Biller(code="stall1", name="刘记水果摊", kind=BillerKind.MARKET_STALL))
    config = ChannelConfig("qr", merchant_id=MERCHANT, settings={"notify_key_env": KEY_ENV})
    engine.set_channel_config("stall1", config, actor="t", reason="onboard")
    outbox.add_endpoint(engine, "stall1", receiver_url, SECRET, "*", actor="t")
    rows = "".join(f"Q{i:03d},P{i:03d},{10 + i}.50\n" for i in range(orders))
    engine.import_bills("stall1", ("bill_no,payer_id,amount\n" + rows).encode())
    work = orders_for_every_bill(engine, "stall1", "Q")
    for order_no, _ in work:
        engine.start_payment(order_no, "qr")
    with engine.db.begin() as conn:
        conn.execute(text("UPDATE orders SET created_at = created_at - interval '10 minutes'"))
    return work


def signed(work: list[tuple[str, int]]) -> list[tuple[dict[str, str], bytes]]:
    """The aggregator's signed notifications for ``work``, a third of them sent twice."""
    now = datetime.now(UTC)
    notices = [
        build_notification(
            KEY.encode(), merchant_id=MERCHANT, order_no=o, txn_id=f"TX{o}", amount_fen=fen,
            paid_at=now, sent_at=now,
        )
        for o, fen in work
    ]  # fmt: skip
    return notices + notices[::3]


def send_until_answered(
    client: httpx.Client, url: str, headers: dict[str, str], body: bytes
) -> None:
    """A channel sends its notification again until billfold says SUCCESS."""
    for _ in range(200):
        with suppress(httpx.TransportError):
            answer = client.post(url, headers=headers, content=body, timeout=10)
            if answer.status_code == 200 and b"SUCCESS" in answer.content:
                return
        time.sleep(0.1)
    raise AssertionError(f"never answered SUCCESS: {body[:80]!r}")


def test_serve_and_worker_processes_killed_mid_run_credit_once_and_lose_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "worker.toml"
    config.write_text(FAST)
    factory = tmp_path / "jobs_channels.py"
    factory.write_text(CHANNELS)
    engine = Engine.from_url(pg_url)
    paid_file = tmp_path / "paid.json"
    env = {**os.environ, KEY_ENV: KEY, "JOBS_TEST_PAID": str(paid_file)}
    port = _free_port()
    serve = [*MAIN, "serve", "--port", str(port), "--workers", "2", "--no-upgrade"]
    serve += ["--database-url", pg_url, "--channels", f"{factory}:make"]
    channels = ["--channels", f"{factory}:make"]

    with RecordingReceiver(delay=0.05) as receiver, ExitStack() as stack:
        work = stall(engine, 40, receiver.url)
        notified, lost = work[:30], work[30:]
        both = work[25:30]  # notified AND found by the requery: still credited once
        paid_file.write_text(json.dumps({o: [f"TX{o}", fen] for o, fen in [*lost, *both]}))
        notices = signed(notified)
        master = stack.enter_context(process(serve, tmp_path / "serve.log", env))
        w1 = stack.enter_context(
            process(worker(pg_url, config, tmp_path, *channels), tmp_path / "w1.log", env)
        )
        stack.enter_context(
            process(worker(pg_url, config, tmp_path, *channels), tmp_path / "w2.log", env)
        )
        # starting up is slow on a busy machine: not part of what is tested
        assert wait_for(lambda: _answers(port), STARTUP), (tmp_path / "serve.log").read_text()
        assert len(_children(master)) >= 2
        assert wait_for(lambda: heartbeats(engine) == 2, STARTUP)

        sent = 0
        lock = threading.Lock()
        url = f"http://127.0.0.1:{port}/v1/notify/qr"

        def hammer(chunk: list[tuple[dict[str, str], bytes]]) -> None:
            nonlocal sent
            with httpx.Client() as client:
                for headers, body in chunk:
                    send_until_answered(client, url, headers, body)
                    with lock:
                        sent += 1

        threads = [
            threading.Thread(target=hammer, args=(notices[i::4],), daemon=True) for i in range(4)
        ]
        for th in threads:
            th.start()
        assert wait_for(lambda: sent >= len(notices) // 3)
        os.kill(_children(master)[0], signal.SIGKILL)  # one serve worker, mid-run
        os.kill(w1, signal.SIGKILL)  # one billfold worker, mid-run
        for th in threads:
            th.join(timeout=60)
        assert sent == len(notices)

        def done() -> bool:
            paid = scalar(engine, "SELECT count(*) FROM orders WHERE status = 'paid'")
            return paid == len(work) and settled(engine, receiver)

        assert wait_for(done), (tmp_path / "w2.log").read_text()[-3000:]

    credited = scalar(
        engine,
        "SELECT count(*) FROM (SELECT o.id FROM orders o LEFT JOIN payments p ON "
        "p.order_id = o.id AND p.status = 'credited' GROUP BY o.id HAVING count(p.id) = 1) x",
    )
    assert credited == len(work) == scalar(engine, "SELECT count(*) FROM payments")
    events = scalar(engine, "SELECT count(*) FROM outbox_events")
    assert len(set(receiver.event_ids())) == events > 0
    assert engine.check_books() == []
    engine.close()


def _answers(port: int) -> bool:
    with suppress(httpx.TransportError):
        return httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200
    return False
