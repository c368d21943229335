"""A worker's life: it stops when asked (SIGTERM, SIGINT) or when its parent dies.

``billfold worker`` started as a child (by a supervisor script, a test, ``billfold serve``'s
own tooling) must not outlive its parent and keep working unseen. On Linux the kernel is
asked to send SIGTERM when the parent goes (``prctl(PR_SET_PDEATHSIG)``, through ctypes);
everywhere, a thread also watches ``os.getppid()`` change. Either way the worker stops the
way SIGTERM stops it: the duty in hand finishes, then it exits. A worker whose parent is
PID 1 (systemd, a container's init) was not started as anyone's child and is left alone.

Note: PR_SET_PDEATHSIG fires when the parent *thread* that started the worker ends; start
workers from a thread that lives as long as they should.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from collections.abc import Callable

import structlog

__all__ = ["exit_with_parent"]

log = structlog.get_logger("billfold.jobs")

PR_SET_PDEATHSIG = 1


def exit_with_parent(on_parent_death: Callable[[], None], poll_seconds: float = 1.0) -> bool:
    """Arrange for ``on_parent_death`` (and, on Linux, SIGTERM) when the parent dies.

    Returns ``False`` (nothing arranged) when the parent is PID 1."""
    parent = os.getppid()
    if parent <= 1:
        return False
    if sys.platform.startswith("linux"):
        _pdeathsig(signal.SIGTERM)

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                log.warning("jobs.parent_died", parent=parent)
                on_parent_death()
                return
            threading.Event().wait(poll_seconds)

    threading.Thread(target=watch, name="billfold-parent-watch", daemon=True).start()
    return True


def _pdeathsig(signum: int) -> None:
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
            log.warning("jobs.pdeathsig_refused", errno=ctypes.get_errno())
    except OSError as exc:
        log.warning("jobs.pdeathsig_unavailable", error=str(exc))
