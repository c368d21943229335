"""Test doubles for webhook delivery, shipped for people who embed billfold.

:class:`FakeTransport` answers in memory with scripted outcomes; :class:`RecordingReceiver`
is a real HTTP server on 127.0.0.1 that records what it is sent (for end-to-end tests of the
httpx transport and the CLI). Both are thread-safe.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from billfold.testing.local_http import BackgroundHttpServer, QuietHandler

__all__ = ["FakeTransport", "RecordingReceiver", "SentWebhook"]


@dataclass(frozen=True, slots=True)
class SentWebhook:
    url: str
    headers: dict[str, str]
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lower), None)

    @property
    def event_id(self) -> str:
        """The ``X-Billfold-Event-Id`` header ("" when it is missing)."""
        return self.header("X-Billfold-Event-Id") or ""

    def json(self) -> Any:
        return json.loads(self.body)


class FakeTransport:
    """Records every send; answers ``default_status`` unless an outcome was scripted.

    ``respond(url, 500, 500, OSError("refused"), 200)`` makes the next sends to ``url``
    answer 500 twice, then raise, then 200; afterwards ``default_status`` again.
    """

    def __init__(self, default_status: int = 200) -> None:
        self.default_status = default_status
        self.sent: list[SentWebhook] = []
        self._script: dict[str, deque[int | Exception]] = defaultdict(deque)
        self._lock = threading.Lock()

    def respond(self, url: str, *outcomes: int | Exception) -> None:
        with self._lock:
            self._script[url].extend(outcomes)

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        with self._lock:
            self.sent.append(SentWebhook(url, dict(headers), body))
            queue = self._script.get(url)
            outcome = queue.popleft() if queue else self.default_status
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def event_ids(self) -> list[str]:
        with self._lock:
            return [s.event_id for s in self.sent]


class RecordingReceiver(BackgroundHttpServer):
    """``with RecordingReceiver() as rx:`` serves ``rx.url``; POSTs land in ``rx.received``.

    ``delay`` seconds pass between recording a POST and answering it: a slow receiver, for
    catching a sender in the middle of its work."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.received: list[SentWebhook] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        SentWebhook(receiver.url + self.path[1:], dict(self.headers), body)
                    )
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)
        self.url = self.base_url

    def event_ids(self) -> list[str]:
        """The ``X-Billfold-Event-Id`` of every POST received, repeats included."""
        with self._lock:
            return [s.event_id for s in self.received]
