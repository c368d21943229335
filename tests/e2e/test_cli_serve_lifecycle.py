"""``billfold serve`` as an operator runs it: it says where it listens, SIGTERM lets the
requests in flight finish before it exits, and its workers never outlive a supervisor
killed with SIGKILL.

Nothing is timed: a channel wired in with ``--channels`` holds its request until the test
releases it (files in a temporary directory say when it entered and when to go on).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from billfold import Biller, BillerKind, Engine
from billfold.adapters.http.keys import Scope, create_key

MAIN = "from billfold.adapters.cli.app import main; main()"
PATIENCE = 60.0  # seconds a test waits for something that should happen at once
STARTUP = 240.0  # seconds for a server to start: workers import everything on a busy machine

HELD_CHANNEL = """
import time
from pathlib import Path
from billfold.channels.base import NotificationReply
from billfold.errors import SignatureInvalid

HERE = Path(__file__).parent


class Held:
    name = "held"

    def parse_notification(self, headers, body):
        (HERE / "entered").touch()
        for _ in range(600):  # until the test releases it (at most a minute)
            if (HERE / "release").exists():
                break
            time.sleep(0.1)
        raise SignatureInvalid("held and released")

    def reply(self, accepted, message=""):
        return NotificationReply(400, "text/plain", f"answered: {message}".encode())


def make(engine):
    return {"held": Held()}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(check: object, what: str, patience: float = PATIENCE) -> None:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting: {what}")


def _answers(port: int) -> bool:
    with suppress(httpx.TransportError):
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    return False


def _refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


def _serve(port: int, url: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    """The server, its log in ``cwd/serve.log`` (shown when a test fails)."""
    command = [sys.executable, "-c", MAIN, "serve", "--port", str(port), "--database-url", url]
    return subprocess.Popen(
        [*command, *args],
        stdout=subprocess.PIPE,
        stderr=(cwd / "serve.log").open("w"),
        text=True,
        cwd=cwd,
        start_new_session=True,  # a kill of the group in cleanup reaches orphans too
    )


def _cleanup(server: subprocess.Popen[str], cwd: Path) -> None:
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)
    print((cwd / "serve.log").read_text()[-4000:])  # pytest shows it when the test failed


def test_serve_says_where_it_listens_and_sigterm_lets_a_request_in_flight_finish(
    tmp_path: Path,
) -> None:
    (tmp_path / "wiring.py").write_text(HELD_CHANNEL)
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'b.db'}"
    server = _serve(port, url, "--channels", f"{tmp_path / 'wiring.py'}:make", cwd=tmp_path)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith(f"billfold serve: listening on http://127.0.0.1:{port} (")
        _until(lambda: _answers(port), "the server to answer", STARTUP)
        answer: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: answer.append(
                httpx.post(f"http://127.0.0.1:{port}/v1/notify/held", content=b"{}", timeout=120)
            )
        )
        request.start()
        _until(lambda: (tmp_path / "entered").exists(), "the request to reach the channel")
        server.send_signal(signal.SIGTERM)
        _until(lambda: _refuses(port), "the server to stop accepting connections")
        assert server.poll() is None  # still finishing the request in flight
        (tmp_path / "release").touch()
        request.join(PATIENCE)
        assert [(a.status_code, a.text) for a in answer] == [(400, "answered: held and released")]
        # uvicorn re-raises the signal once it has drained: "ended by SIGTERM", cleanly
        assert server.wait(timeout=PATIENCE) == -signal.SIGTERM
    finally:
        _cleanup(server, tmp_path)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with suppress(OSError):
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent has not reaped it yet


@pytest.mark.pg
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_the_supervisor_is_killed_with_sigkill(
    pg_migrated: str, tmp_path: Path
) -> None:
    port = _free_port()
    server = _serve(port, pg_migrated, "--workers", "2", "--no-upgrade", cwd=tmp_path)
    try:
        _until(lambda: _answers(port), "the workers to answer", STARTUP)
        _until(lambda: len(_children(server.pid)) >= 2, "two workers")
        workers = [pid for pid in _children(server.pid) if _alive(pid)]
        assert len(workers) >= 2
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=PATIENCE)
        _until(lambda: not any(_alive(pid) for pid in workers), "the orphaned workers to exit")
        assert _refuses(port)  # nobody is left accepting (and crediting)
    finally:
        _cleanup(server, tmp_path)


def _refusals(text: str) -> float:
    found = re.search(r'^billfold_rate_limit_refusals_total\{limit="api_key"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.mark.pg
def test_every_worker_answers_metrics_summed_over_all_workers(
    pg_migrated: str, tmp_path: Path
) -> None:
    engine = Engine.from_url(pg_migrated)
    try:
        code = f"m{os.getpid()}"
        engine.create_biller(Biller(code=code, name="指标中学", kind=BillerKind.SCHOOL))
        secret = create_key(engine, code, Scope.READ).secret
    finally:
        engine.close()
    port = _free_port()
    server = _serve(port, pg_migrated, "--workers", "2", "--no-upgrade", cwd=tmp_path)
    try:
        _until(lambda: _answers(port), "the workers to answer", STARTUP)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as client:
            refused = 0
            for _ in range(10):  # 40 tokens of burst: some of 100 quick requests are refused
                answers = [client.get("/v1/billers").status_code for _ in range(100)]
                refused += answers.count(429)
                if refused:
                    break
        assert refused > 0
        scrapes: list[str] = []
        for _ in range(8):  # new connections: both workers answer some of them
            scrapes.append(httpx.get(f"{base}/metrics", timeout=10).text)
        assert {_refusals(text) for text in scrapes} == {float(refused)}
        assert all("billfold_outbox_backlog" in text for text in scrapes)
    finally:
        _cleanup(server, tmp_path)


def _lookups(port: int, forwarded_for: str, times: int) -> list[int]:
    url = f"http://127.0.0.1:{port}/pay/b/w1"
    headers = {"X-Forwarded-For": forwarded_for}
    with httpx.Client(headers=headers, timeout=10) as client:
        return [client.get(url, params={"identifier": "0101"}).status_code for _ in range(times)]


@pytest.mark.parametrize("trusted", [True, False])
def test_the_lookup_rate_follows_forwarded_addresses_only_from_trusted_proxies(
    tmp_path: Path, trusted: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = Engine.from_url(url, upgrade=True)
    try:
        engine.create_biller(Biller(code="w1", name="城东水务", kind=BillerKind.UTILITY))
    finally:
        engine.close()
    port = _free_port()
    proxies = "127.0.0.1" if trusted else "10.9.9.9"  # the test connects from 127.0.0.1
    server = _serve(port, url, "--forwarded-allow-ips", proxies, cwd=tmp_path)
    try:
        _until(lambda: _answers(port), "the server to answer", STARTUP)
        first = _lookups(port, "203.0.113.1", 15)  # 10 at once, then one per 5 s
        assert first.count(200) >= 10 and 429 in first
        other = _lookups(port, "203.0.113.2", 1)  # another client behind the proxy …
        # … has its own rate when the proxy is trusted; otherwise the header is ignored and
        # every request is the proxy's own (127.0.0.1), already over its rate
        assert other == ([200] if trusted else [429])
    finally:
        _cleanup(server, tmp_path)
