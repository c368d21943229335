"""Running the API under uvicorn: the fast stack, TCP_NODELAY on every accepted socket, workers.

uvicorn's HTTP protocols (h11 and httptools alike) never touch TCP_NODELAY: they leave it to
the event loop. uvloop sets it on every TCP connection it accepts; asyncio sets it only when
the listening socket reports ``proto == IPPROTO_TCP``. A listener made with ``proto`` 0 — by
uvicorn's multi-worker supervisor before it passed IPPROTO_TCP (Kludex/uvicorn#3149), by a
gunicorn worker, or by ``fd=`` — hands asyncio accepted sockets with Nagle's algorithm on,
and every keep-alive response then waits for the client's delayed ACK (~40 ms on Linux).

So billfold does not depend on the loop or on how the listener was made: its protocol
classes set TCP_NODELAY themselves as each connection is accepted, in every worker.

Shutdown: SIGTERM (or Ctrl-C) makes uvicorn stop accepting, finish the requests in flight,
and exit; with several workers the supervisor passes SIGTERM to each. A worker must not
outlive its supervisor (after a ``kill -9`` of it, orphans would keep accepting and
crediting with nobody to stop them): :func:`exit_with_parent` asks Linux for SIGTERM when
the parent dies (``PR_SET_PDEATHSIG``) and, for every other system and for the race before
the request was made, watches ``getppid()``.

Workers' health: uvicorn's supervisor pings each worker and kills one that does not answer
within ``timeout_worker_healthcheck`` (5 s by default) — including one still starting: a
spawned worker answers only once Python has started and unpickled its configuration (which
imports billfold). On a loaded machine that takes longer than 5 s, and every worker was
killed and replaced before it could serve, forever. billfold gives a worker
:data:`WORKER_HEALTHCHECK_S` to answer.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Literal

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "HTTP_CHOICES",
    "LOOP_CHOICES",
    "WORKER_HEALTHCHECK_S",
    "NoDelayH11Protocol",
    "ServerOptions",
    "exit_with_parent",
    "multi_process_refusal",
    "run",
    "set_nodelay",
]

#: How long uvicorn's supervisor waits for a worker to answer its ping before killing it: a
#: worker starting on a loaded machine needs more than uvicorn's 5 s.
WORKER_HEALTHCHECK_S = 60

HttpChoice = Literal["auto", "httptools", "h11"]
LoopChoice = Literal["auto", "uvloop", "asyncio"]
HTTP_CHOICES: tuple[HttpChoice, ...] = ("auto", "httptools", "h11")
LOOP_CHOICES: tuple[LoopChoice, ...] = ("auto", "uvloop", "asyncio")


def set_nodelay(transport: asyncio.BaseTransport) -> bool:
    """Turn Nagle's algorithm off on ``transport``'s TCP socket; False if it has none."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # not a TCP socket (a Unix domain socket, say)
        return False
    return True


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with TCP_NODELAY set on each accepted connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)


HAVE_HTTPTOOLS = importlib.util.find_spec("httptools") is not None
HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None

if HAVE_HTTPTOOLS:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, with TCP_NODELAY set on each accepted connection."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            set_nodelay(transport)
            super().connection_made(transport)


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How ``billfold serve`` runs uvicorn."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    http: HttpChoice = "auto"
    loop: LoopChoice = "auto"
    #: Proxies whose X-Forwarded-For/-Proto uvicorn believes (comma-separated addresses or
    #: networks, "*" for any); None: uvicorn's default (FORWARDED_ALLOW_IPS, else 127.0.0.1).
    forwarded_allow_ips: str | None = None

    def protocol(self) -> type[asyncio.Protocol]:
        """The HTTP protocol class: httptools when installed (``auto``), else h11."""
        if self.http == "h11" or not HAVE_HTTPTOOLS:
            if self.http == "httptools":
                raise RuntimeError("--http httptools: httptools is not installed")
            return NoDelayH11Protocol
        return NoDelayHttpToolsProtocol

    def loop_name(self) -> str:
        """The event loop: uvloop when installed (``auto``), else asyncio."""
        if self.loop == "uvloop" and not HAVE_UVLOOP:
            raise RuntimeError("--loop uvloop: uvloop is not installed")
        if self.loop == "asyncio" or not HAVE_UVLOOP:
            return "asyncio"
        return "uvloop"

    def address(self) -> str:
        """Where the server listens, as a URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def describe(self) -> str:
        stack = f"{self.protocol().__name__.removeprefix('NoDelay').removesuffix('Protocol')}"
        return f"{stack.lower()} + {self.loop_name()}, {self.workers} worker(s), TCP_NODELAY"


def multi_process_refusal(database_url: str, workers: int) -> str | None:
    """Why ``workers`` processes cannot share ``database_url``, or None when they can."""
    if workers <= 1 or not database_url.startswith("sqlite"):
        return None
    return (
        f"--workers {workers} needs PostgreSQL: SQLite serves one process "
        "(use --workers 1, or a postgresql:// database URL)"
    )


def run(app: str, options: ServerOptions, *, factory: bool = True) -> None:
    """Serve the ASGI app named by ``app`` (``module:attribute``) until stopped."""
    import uvicorn

    uvicorn.run(
        app,
        factory=factory,
        host=options.host,
        port=options.port,
        workers=options.workers,
        http=options.protocol(),
        loop=options.loop_name(),
        log_level="warning",
        log_config=None,  # uvicorn's records go through billfold's logging (masked, JSON)
        proxy_headers=True,  # the client address from trusted proxies only (rate limits)
        forwarded_allow_ips=options.forwarded_allow_ips,
        access_log=False,  # billfold logs each request itself, with its request id
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,  # a slow start is not a hang
    )


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_SECONDS = 1.0


def exit_with_parent(parent_pid: int, *, poll: float = PARENT_POLL_SECONDS) -> None:
    """Make this process exit (SIGTERM: it drains, then stops) once ``parent_pid`` is no longer
    its parent — at once through ``PR_SET_PDEATHSIG`` on Linux, and within ``poll`` seconds
    through a watcher thread everywhere (the parent may have died before the request)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    def watch() -> None:
        stop = threading.Event()
        while os.getppid() == parent_pid:
            stop.wait(poll)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="billfold-parent-watch", daemon=True).start()
