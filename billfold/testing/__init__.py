"""Test doubles shipped for applications that embed billfold: test your code without mocks.

* :class:`FixedClock` — a clock that moves only when told (re-exported from billfold.clock).
* :func:`memory_engine` — a migrated billfold :class:`~billfold.engine.Engine` on in-memory SQLite.
* :func:`capture_logs` — structlog's log capture, with billfold's masking applied.
* :func:`scratch_pg_database` — a PostgreSQL database that exists only inside a ``with`` block.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog.testing
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from billfold.clock import FixedClock
from billfold.engine import Engine
from billfold.errors import InvariantViolated
from billfold.logging import mask_personal_data, structure_exception

__all__ = [
    "FixedClock",
    "capture_logs",
    "memory_engine",
    "orders_for_every_bill",
    "scratch_pg_database",
]


def memory_engine(clock: FixedClock | None = None) -> Engine:
    """A fresh billfold on an in-memory SQLite database, migrated to the newest schema."""
    return Engine.from_url("sqlite://", clock=clock or FixedClock(), upgrade=True)


@contextmanager
def capture_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Capture structlog events (after billfold's masking) as a list of dicts, at every level
    whatever the configured one (a command line configured for warnings only, say); an
    exception logged with ``exc_info`` is the ``exception`` field, ``{type, message,
    traceback}``."""
    processors = [structure_exception, mask_personal_data]
    wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs(processors=processors) as logs:
            yield logs
    finally:
        structlog.configure(wrapper_class=wrapper)


_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,29}")


@contextmanager
def scratch_pg_database(server_url: str, prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database on the server at ``server_url`` and yield its URL.

    The database is named ``<prefix>_<pid>_<random hex>``; the URL uses psycopg 3. On leaving
    the block, every connection still open to it is terminated and the database is dropped.
    ``server_url`` must name a database the user may connect to and a role allowed to create
    databases (``postgresql://postgres@127.0.0.1:5432/postgres``, say).
    """
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(
            f"database name prefix {prefix!r} must be lower-case letters, digits and "
            "underscores, start with a letter and be at most 30 characters"
        )
    url = make_url(server_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


def orders_for_every_bill(
    engine: Engine, biller_code: str, bill_no_prefix: str = ""
) -> list[tuple[str, int]]:
    """One order per open bill of ``biller_code`` (whose number starts with the prefix),
    written straight through the repository in one transaction: setup for benchmarks and
    load tests, where creating thousands of orders one by one would be the thing measured.
    Returns ``(order_no, total_fen)`` pairs; order numbers are ``"O" + bill_no``."""
    from billfold.collection.allocation import allocate
    from billfold.collection.order import DEFAULT_ORDER_TTL, Order

    now = engine.clock.now()
    today = engine.today(biller_code)
    made: list[tuple[str, int]] = []
    with engine.uow() as uow:
        biller = uow.billers.get_by_code(biller_code)
        if not (biller is not None and biller.id is not None):
            raise InvariantViolated("expected biller is not None and biller.id is not None")
        for bill in uow.bills.for_biller(biller.id):
            if not bill.bill_no.startswith(bill_no_prefix):
                continue
            lines = allocate([bill], today)
            order = Order(
                order_no=f"O{bill.bill_no}",
                biller_id=biller.id,
                payer_id=bill.payer_id,
                total_fen=sum(line.amount_fen for line in lines),
                created_at=now,
                expires_at=now + DEFAULT_ORDER_TTL,
                lines=lines,
            )
            uow.orders.add(order, today, None)
            made.append((order.order_no, order.total_fen))
        uow.commit()
    return made
