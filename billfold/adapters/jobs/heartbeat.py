"""The worker's heartbeat thread: a row in ``worker_heartbeats`` touched every N seconds.

It runs beside the duties, on its own connection and transaction, so a long duty never
delays a beat. A failed beat (database restarting) is logged and the next one tried.
"""

from __future__ import annotations

import os
import socket
import threading

import structlog
from sqlalchemy.exc import SQLAlchemyError

from billfold.adapters.db.heartbeats import beat
from billfold.engine import Engine

__all__ = ["Heartbeat", "worker_name"]

log = structlog.get_logger("billfold.jobs")


def worker_name() -> str:
    """``host:pid``: unique among the workers on one database."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}"


class Heartbeat:
    """``with Heartbeat(engine, name, mode, every=10):`` beats until the block ends."""

    def __init__(self, engine: Engine, name: str, mode: str, every: float) -> None:
        self.engine = engine
        self.name = name
        self.mode = mode
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="billfold-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.beat()  # the first beat before any duty: a worker that cannot write says so now
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def beat(self) -> None:
        beat(
            self.engine.db,
            self.name,
            mode=self.mode,
            host=socket.gethostname(),
            pid=os.getpid(),
            now=self.engine.clock.now(),
        )

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
            except SQLAlchemyError as exc:
                log.warning("jobs.heartbeat_failed", error=type(exc).__name__)
