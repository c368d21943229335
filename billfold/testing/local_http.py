"""A real HTTP server on 127.0.0.1, served from a background thread inside a ``with`` block.

The test doubles that stand in for a remote system over HTTP (the fake housing bureau, the
webhook receiver) are built on it: they supply a request handler, it supplies the port.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = ["BackgroundHttpServer", "QuietHandler"]


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no access log to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class BackgroundHttpServer:
    """Bind a port on 127.0.0.1 at construction; serve while inside ``with``; close on exit."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
