"""``billfold serve --workers``: SQLite refused, TCP_NODELAY on every accepted socket, and
workers that start slowly (a loaded machine) are waited for, not killed.

The socket option is read on the server's side of the connection (the accepted socket
itself), never inferred from a timing.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner
from uvicorn.protocols.http.h11_impl import H11Protocol

from billfold.adapters.cli.app import app
from billfold.adapters.http.server import NoDelayH11Protocol, ServerOptions

runner = CliRunner()
MAIN = "from billfold.adapters.cli.app import main; main()"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _refused(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["serve", *args])
    return result.exit_code, result.stderr


def test_more_than_one_worker_on_sqlite_is_refused_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    db = tmp_path / "b.db"
    code, err = _refused("--workers", "2", "--database-url", f"sqlite:///{db}")
    assert code == 1
    assert err == (
        "error: --workers 2 needs PostgreSQL: SQLite serves one process "
        "(use --workers 1, or a postgresql:// database URL)\n"
    )
    assert not db.exists()  # refused before the migrations, before any server


def test_an_unknown_http_parser_or_loop_is_refused_by_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    code, err = _refused("--http", "zz", "--database-url", url)
    assert (code, err) == (1, "error: --http 'zz': choose from auto, httptools, h11\n")
    code, err = _refused("--loop", "tokio", "--database-url", url)
    assert (code, err) == (1, "error: --loop 'tokio': choose from auto, uvloop, asyncio\n")
    assert not (tmp_path / "b.db").exists()


def test_a_channels_factory_that_cannot_be_found_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    code, err = _refused("--channels", "no_colon", "--database-url", url)
    assert code == 1
    assert err == (
        "error: --channels 'no_colon': expected MODULE:FUNCTION or path/to/file.py:FUNCTION\n"
    )
    code, err = _refused("--channels", "billfold.nowhere:make", "--database-url", url)
    assert code == 1
    assert err.startswith("error: --channels 'billfold.nowhere:make': cannot import")
    code, err = _refused("--channels", "billfold.engine:no_such", "--database-url", url)
    assert (code, err) == (
        1,
        "error: --channels 'billfold.engine:no_such': billfold.engine has no function no_such\n",
    )
    missing = tmp_path / "gone.py"
    code, err = _refused("--channels", f"{missing}:make", "--database-url", url)
    assert (code, err) == (1, f"error: --channels '{missing}:make': no file {missing}\n")
    assert not (tmp_path / "b.db").exists()


# -- TCP_NODELAY, read from the accepted socket -------------------------------------------------


def _accepted_nodelay_here(client: socket.socket) -> int:
    """TCP_NODELAY of this process's accepted socket whose peer is ``client``."""
    want = client.getsockname()
    for name in os.listdir("/proc/self/fd"):
        with suppress(OSError):
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(int(name)))
            with sock:
                if sock.getpeername() == want:
                    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    raise AssertionError("the server's accepted socket was not found")


def _listener_with_proto_0(port: int) -> socket.socket:
    """A listening socket as uvicorn's supervisor made it before Kludex/uvicorn#3149 (and as
    gunicorn workers and ``fd=`` still do): proto 0, so asyncio leaves Nagle on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


async def _ok(scope: dict[str, object], receive: object, send: object) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


@contextmanager
def _server_in_thread(protocol: type, loop: str) -> Iterator[int]:
    port = _free_port()
    listener = _listener_with_proto_0(port)
    config = uvicorn.Config(_ok, http=protocol, loop=loop, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


def _nodelay_after_one_request(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.recv(1024).startswith(b"HTTP/1.1 200")
        return _accepted_nodelay_here(client)


def test_stock_h11_on_asyncio_leaves_nagle_on_with_a_proto_0_listener() -> None:
    """The failure billfold guards against (shows that the check below can fail)."""
    with _server_in_thread(H11Protocol, "asyncio") as port:
        assert _nodelay_after_one_request(port) == 0


@pytest.mark.parametrize("http", ["h11", "httptools"])
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_billfold_protocols_set_nodelay_on_every_accepted_socket(http: str, loop: str) -> None:
    protocol = ServerOptions(http=http, loop=loop).protocol()  # type: ignore[arg-type]
    assert protocol.__name__.startswith("NoDelay")
    with _server_in_thread(protocol, loop) as port:
        assert _nodelay_after_one_request(port) == 1
        assert _nodelay_after_one_request(port) == 1  # a second connection too


def test_the_h11_protocol_is_billfolds() -> None:
    assert ServerOptions(http="h11").protocol() is NoDelayH11Protocol


# -- the real `billfold serve --workers 2`, read across processes -------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
SYS_PIDFD_OPEN, SYS_PIDFD_GETFD = 434, 438  # the same number on every Linux architecture


def _fd_of(pid: int, fd: int) -> int:
    pidfd = _libc.syscall(SYS_PIDFD_OPEN, pid, 0)
    if pidfd < 0:
        raise OSError(ctypes.get_errno(), "pidfd_open")
    try:
        copy = _libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return int(copy)
    finally:
        os.close(pidfd)


def _family(pid: int) -> list[int]:
    found = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        with suppress(OSError):
            for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                found += _family(int(child))
    return found


def _accepted_nodelay_in(root: int, client: socket.socket) -> tuple[int, int]:
    """(pid, TCP_NODELAY) of the accepted socket, in whichever worker accepted ``client``."""
    want = client.getsockname()
    for pid in _family(root):
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                    continue
                copy = _fd_of(pid, int(name))
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.ENOSYS):
                    pytest.skip(f"cannot read another process's sockets here: {exc}")
                continue
            with socket.socket(fileno=copy) as sock, suppress(OSError):
                if sock.getpeername() == want:
                    return pid, sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    raise AssertionError("the server's accepted socket was not found")


@pytest.mark.pg
@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_two_workers_on_postgresql_set_nodelay_in_the_workers(pg_migrated: str, http: str) -> None:
    port = _free_port()
    command = [sys.executable, "-c", MAIN, "serve", "--workers", "2", "--port", str(port)]
    command += ["--http", http, "--loop", "asyncio", "--database-url", pg_migrated]
    server = subprocess.Popen(command, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            with suppress(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/v1/billers", timeout=1)
                break
            time.sleep(0.1)
        seen: dict[int, int] = {}
        for _ in range(40):  # until both workers have accepted one of our connections
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(b"GET /v1/billers HTTP/1.1\r\nHost: t\r\n\r\n")
                assert client.recv(4096).startswith(b"HTTP/1.1 401")
                pid, nodelay = _accepted_nodelay_in(server.pid, client)
                seen[pid] = nodelay
            if len(seen) == 2:
                break
        assert server.pid not in seen  # the workers accept, not the supervisor
        assert seen and set(seen.values()) == {1}, seen
    finally:
        server.terminate()
        server.wait(timeout=20)


#: Run by every Python process started with PYTHONPATH set to its folder: a worker spawned by
#: uvicorn's supervisor (``--multiprocessing-fork``) starts SLOW_START_S late, as on a loaded
#: machine, before it can answer the supervisor's ping.
SLOW_START = """
import sys, time
if "--multiprocessing-fork" in sys.argv:
    time.sleep({seconds})
"""
SLOW_START_S = 8  # more than uvicorn's default 5 s


@pytest.mark.pg
def test_workers_that_start_slowly_are_waited_for_not_killed(
    pg_migrated: str, tmp_path: Path
) -> None:
    (tmp_path / "sitecustomize.py").write_text(SLOW_START.format(seconds=SLOW_START_S))
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    port = _free_port()
    command = [sys.executable, "-c", MAIN, "serve", "--workers", "2", "--port", str(port)]
    command += ["--no-upgrade", "--database-url", pg_migrated]
    env = {**os.environ, "PYTHONPATH": path}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        started = time.monotonic()
        workers: set[int] = set()
        while time.monotonic() - started < 90:
            workers |= set(_family(server.pid)) - {server.pid}
            with suppress(httpx.TransportError):
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"no worker answered within 90 s; worker pids seen: {workers}")
        assert answer.status_code == 200
        assert time.monotonic() - started >= SLOW_START_S  # the slow start did happen
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_channels_factory_is_found_by_module_or_by_file(tmp_path: Path) -> None:
    from billfold.adapters.http.channel_wiring import load_factory

    source = tmp_path / "wiring.py"
    source.write_text(
        "from dataclasses import dataclass\n\n"
        "@dataclass\nclass Marker:\n    name: str\n\n"
        "def make(engine):\n    return {'marker': Marker('from a file')}\n"
    )
    from_file = load_factory(f"{source}:make")
    assert from_file(None).keys() == {"marker"}  # type: ignore[arg-type]
    assert load_factory(f"{source}:make") is from_file  # loaded once per process
    from billfold.adapters.cli.serve import build_app

    assert load_factory("billfold.adapters.cli.serve:build_app") is build_app
