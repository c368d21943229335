"""Test doubles shipped for applications that embed billfold: test your code without mocks.

* :class:`FixedClock` — a clock that moves only when told (re-exported from billfold.clock).
* :func:`memory_engine` — a migrated billfold :class:`~billfold.engine.Engine` on in-memory SQLite.
* :func:`capture_logs` — structlog's log capture, with billfold's masking applied.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog.testing

from billfold.clock import FixedClock
from billfold.engine import Engine
from billfold.logging import mask_personal_data

__all__ = ["FixedClock", "capture_logs", "memory_engine"]


def memory_engine(clock: FixedClock | None = None) -> Engine:
    """A fresh billfold on an in-memory SQLite database, migrated to the newest schema."""
    return Engine.from_url("sqlite://", clock=clock or FixedClock(), upgrade=True)


@contextmanager
def capture_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Capture structlog events (after billfold's masking) as a list of dicts."""
    with structlog.testing.capture_logs(processors=[mask_personal_data]) as logs:
        yield logs
