"""Running the API under uvicorn: the fast stack, TCP_NODELAY on every accepted socket, workers.

uvicorn's HTTP protocols (h11 and httptools alike) never touch TCP_NODELAY: they leave it to
the event loop. uvloop sets it on every TCP connection it accepts; asyncio sets it only when
the listening socket reports ``proto == IPPROTO_TCP``. A listener made with ``proto`` 0 — by
uvicorn's multi-worker supervisor before it passed IPPROTO_TCP (Kludex/uvicorn#3149), by a
gunicorn worker, or by ``fd=`` — hands asyncio accepted sockets with Nagle's algorithm on,
and every keep-alive response then waits for the client's delayed ACK (~40 ms on Linux).

So billfold does not depend on the loop or on how the listener was made: its protocol
classes set TCP_NODELAY themselves as each connection is accepted, in every worker.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
from dataclasses import dataclass
from typing import Literal

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "HTTP_CHOICES",
    "LOOP_CHOICES",
    "NoDelayH11Protocol",
    "ServerOptions",
    "multi_process_refusal",
    "run",
    "set_nodelay",
]

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
        access_log=False,  # billfold logs each request itself, with its request id
    )
