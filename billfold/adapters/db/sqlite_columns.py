"""A SQLite query read column by column (Apache Arrow's ADBC SQLite driver) in a child process.

Python's ``sqlite3`` makes a Python object of every value it returns: a million payments of
eight columns cost 3.5–5 s of CPU under the GIL. ADBC's SQLite driver (the ``fast`` extra)
returns Arrow columns instead, which polars takes without a copy of its own and without
pyarrow (the Arrow PyCapsule interface).

Why another process: the driver carries its own copy of SQLite, built into its library. Two
copies of SQLite in one process must not open the same database file: POSIX file locks
belong to the process, so when one copy closes the file every lock the other holds on it
is released (SQLite's "How To Corrupt" §2.2.1). Measured: after an ADBC connection was
opened and closed beside a ``BEGIN IMMEDIATE`` of ``sqlite3``, another process took the
write lock the transaction still thought it held. A child process holds locks of its own.
It opens the file read-only, runs the query and writes the result to a temporary file as
Arrow IPC, while the parent does other work; a thread of the parent waits for it.

What the child sees: the database as last committed. That is what the caller's transaction
sees only if the caller holds the write lock since its snapshot was taken (``BEGIN
IMMEDIATE``, :func:`~.connect.make_engine`: nobody else can commit) and has changed nothing
in it yet: :func:`snapshot_file` says so, or returns ``None`` and the caller reads on its own
connection.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the child process imports neither SQLAlchemy nor the engine's modules
    from sqlalchemy import Connection

__all__ = ["ChildRead", "ChildReadError", "available", "quote", "snapshot_file"]


def available() -> bool:
    """Whether the ADBC SQLite driver and polars are installed (the ``fast`` extra)."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("adbc_driver_sqlite", "adbc_driver_manager", "polars")
    )


def snapshot_file(conn: Connection) -> str | None:
    """The database file from which another process reads exactly what ``conn``'s transaction
    sees, or ``None``: an in-memory or temporary database, no transaction begun by
    :func:`~.connect.make_engine`'s ``BEGIN IMMEDIATE``, or rows already changed in it."""
    from billfold.adapters.db.connect import BEGUN_AT

    raw: Any = conn.connection.driver_connection
    if not raw.in_transaction or conn.info.get(BEGUN_AT) != raw.total_changes:
        return None
    for _seq, name, file in raw.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return str(file) or None
    return None


#: Rows a block of the child's read spans, by ``id`` (the table's integer primary key): the
#: child holds one block at a time (a few MB) instead of the whole result
BLOCK = 131_072
#: Rows of an Arrow batch from the driver (its default, 1,024, makes a million rows cost
#: 30 % more CPU and a thousand chunks)
BATCH_ROWS = 65_536


class ChildRead:
    """``SELECT columns FROM table WHERE where`` (SQL text) run on the database ``file`` by
    a child process while the caller works.

    The child reads in one read transaction a block of :data:`BLOCK` ids at a time (the
    table's ``id`` must be its integer primary key) and writes each block to a file of a
    temporary folder as Arrow IPC. :meth:`frame` waits for the child and returns a polars
    frame, its columns named ``names`` (``None`` if no row matched); it raises
    :class:`ChildReadError` if the child failed (the caller then reads on its own).
    :meth:`close` stops a child whose result is not wanted and removes its files."""

    def __init__(
        self, file: str, table: str, columns: Sequence[str], where: str, names: Sequence[str]
    ) -> None:
        self._names = names
        self._err = b""
        self._folder = tempfile.mkdtemp(prefix="billfold-read-")
        request = {"file": file, "table": table, "columns": list(columns), "where": where}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={**os.environ, "POLARS_MAX_THREADS": "1"},  # the parent's are busy
            )
        except BaseException:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        payload = json.dumps({**request, "block": BLOCK, "out": self._folder}).encode()
        self._thread = threading.Thread(
            target=self._communicate, args=(payload,), name="recon-sqlite-read", daemon=True
        )
        self._thread.start()

    def _communicate(self, payload: bytes) -> None:
        _, self._err = self._proc.communicate(payload)

    def frame(self) -> Any:
        import polars as pl

        self._thread.join()
        try:
            if self._proc.returncode != 0:
                message = self._err.decode(errors="replace").strip().splitlines()
                raise ChildReadError(message[-1] if message else f"exit {self._proc.returncode}")
            files = sorted(os.listdir(self._folder), key=lambda name: int(name.split(".")[0]))
            blocks = [_read_block(pl, os.path.join(self._folder, name)) for name in files]
        finally:
            self.close()
        if not blocks:
            return None
        read = pl.concat(blocks, rechunk=False)
        return read.rename(dict(zip(read.columns, self._names, strict=True)))

    def close(self) -> None:
        """Stop the child if it still runs (a read-only reader: nothing to undo) and remove
        its files."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._thread.join()
        shutil.rmtree(self._folder, ignore_errors=True)


def _read_block(pl: Any, path: str) -> Any:
    """One block's file into memory (polars would map a file named to it: its pages would
    count twice, in the mapping and in the frame made from it)."""
    with open(path, "rb") as block:
        return pl.read_ipc(block.read())


class ChildReadError(RuntimeError):
    """The child process could not read the database."""


def quote(value: str) -> str:
    """``value`` as an SQL string literal (the child's queries take no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def _main() -> None:
    """The child: a request ``{"file", "table", "columns", "where", "block", "out"}`` on
    standard input; Arrow IPC files ``0.arrow``, ``1.arrow`` … in the folder ``out``."""
    import adbc_driver_sqlite.dbapi as adbc
    import polars as pl

    request = json.loads(sys.stdin.buffer.read())
    uri = "file:" + request["file"].replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    table, where = request["table"], request["where"]
    columns = ", ".join(f"{sql} AS c{i}" for i, sql in enumerate(request["columns"]))
    # autocommit off (the DB-API default): every query in one read transaction
    with adbc.connect(uri) as conn, conn.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {table} WHERE {where}")
        low, high = pl.DataFrame(cursor.fetch_arrow()).row(0)
        if low is None:
            return
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
        block = int(request["block"])
        for n, first in enumerate(range(low, high + 1, block)):
            cursor.execute(
                f"SELECT {columns} FROM {table} "
                f"WHERE {where} AND id >= {first} AND id < {first + block}"
            )
            frame = pl.DataFrame(cursor.fetch_arrow())
            if frame.height:
                frame.write_ipc(os.path.join(request["out"], f"{n}.arrow"))


if __name__ == "__main__":
    _main()
