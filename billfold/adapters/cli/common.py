"""What the command-line groups share: opening the engine and failing with a clear message."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from billfold.errors import BillfoldError, InvalidInput
from billfold.money import parse_yuan

if TYPE_CHECKING:  # the database layer is imported when a command opens it
    from billfold.engine import Engine

__all__ = ["DbUrl", "connect", "day_option", "fail", "open_engine", "yuan_option"]

#: The ``--database-url`` option every command that opens the engine takes.
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Database URL (default: BILLFOLD_DATABASE_URL or sqlite:///billfold.db)",
    ),
]


def fail(message: str) -> NoReturn:
    """Print ``error: message`` to stderr and exit 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def day_option(text: str, what: str) -> date:
    """``text`` (given as ``what``, e.g. ``--from``) as a date; anything else fails, saying so."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{what}: {text!r} is not a date like 2026-09-01")


def yuan_option(text: str, what: str) -> int:
    """``text`` (given as ``what``) as an amount in yuan, in fen; a bad amount fails."""
    try:
        return parse_yuan(text, field=what)
    except InvalidInput as exc:
        fail(exc.message)


def connect(url: str | None) -> Engine:
    """An engine on ``url`` (or BILLFOLD_DATABASE_URL); a database that is not migrated to
    this billfold's newest revision exits 1, saying what to run."""
    from billfold.adapters.db.connect import database_url_from_env
    from billfold.adapters.db.readiness import unready_reason
    from billfold.clock import SystemClock
    from billfold.engine import Engine

    address = database_url_from_env(url)
    engine = Engine.from_url(address, clock=SystemClock())
    reason = unready_reason(engine.db, address)
    if reason is not None:
        engine.close()
        fail(reason)
    return engine


@contextmanager
def open_engine(url: str | None) -> Iterator[Engine]:
    """An engine on ``url`` (or BILLFOLD_DATABASE_URL); billfold errors exit 1, saying why."""
    engine = connect(url)
    try:
        yield engine
    except BillfoldError as exc:
        fail(exc.message)
    finally:
        engine.close()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Inside the block, SIGINT and SIGTERM set ``stop`` (a loop finishes what it is doing
    and returns) instead of interrupting; the previous handlers come back afterwards."""

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
