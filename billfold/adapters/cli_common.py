"""What the command-line groups share: opening the engine and failing with a clear message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from billfold.adapters.db import database_url_from_env
from billfold.clock import SystemClock
from billfold.engine import Engine
from billfold.errors import BillfoldError

__all__ = ["fail", "open_engine"]


def fail(message: str) -> NoReturn:
    """Print ``error: message`` to stderr and exit 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def open_engine(url: str | None) -> Iterator[Engine]:
    """An engine on ``url`` (or BILLFOLD_DATABASE_URL); billfold errors exit 1, saying why."""
    engine = Engine.from_url(database_url_from_env(url), clock=SystemClock())
    try:
        yield engine
    except BillfoldError as exc:
        fail(exc.message)
    finally:
        engine.close()
