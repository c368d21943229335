"""Getting a statement into the staging table: streamed in one process, or — for a big,
line-oriented file — parsed by the real parser in several worker processes at once.

Parsing and validating a line costs far more than loading it, so a million-line channel bill
is read faster by two processes than by one. The split knows nothing of the format:

1. the parser is run over the head of the file until it yields its first line; the lines
   before that one (header row, comment lines) are the *preamble*;
2. the file is cut at line ends into byte ranges, one per worker;
3. each worker parses the preamble followed by its range with the ordinary
   :func:`~billfold.settlement.parsers.parse`, and turns line numbers back into the
   file's own (so errors and discrepancies name the real line);
4. the workers send staging rows in batches through a bounded queue; this process writes
   them with the bulk path as they come (``seq`` keeps the file's order).

Only files whose records never span lines are split: WeChat Pay's trade bill always, CSV
files only when they contain no double quote at all (a quoted value could hold a line
break). Everything else — XML, MT940, small files — is parsed in one stream.

Workers are forked, and only from a process that runs a single thread: a fork copies locks
in whatever state other threads left them, so a multi-threaded host (a web server with a
thread pool) parses in one stream instead. (``spawn`` would re-run the host's main script
in every worker.) The workers only read the file and parse; they never touch the database
connection they inherit, and leave through ``os._exit`` without closing it.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from billfold.adapters.db.recon import SqlRecon
from billfold.adapters.db.statement_match import FrameMatch, PaymentsRead
from billfold.adapters.db.statement_stage import (
    CHUNK,
    StageWriter,
    create_stage,
    drop_stage,
    frame_rows,
    frame_summary,
    index_stage,
    load_frame,
    load_stage,
    stage_rows,
    table_summary,
)
from billfold.errors import InvariantViolated
from billfold.settlement.engine_records import EnginePayment
from billfold.settlement.parsers import columnar
from billfold.settlement.source import ParseRequest, Progress, Source, chunks
from billfold.settlement.statement import LineError, StatementError, StatementLine
from billfold.settlement.totals import StageSummary

__all__ = ["ParseRequest", "SplitPlan", "SqlStatements", "ingest", "plan_split"]

#: Files smaller than this are parsed in one stream.
SPLIT_THRESHOLD = 64 * 1024 * 1024
#: Files of a format :mod:`~billfold.settlement.parsers.columnar` reads, this big or bigger,
#: are read by it when polars is installed (smaller ones are not worth its start).
COLUMNAR_THRESHOLD = 1024 * 1024
_SEQ_SPAN = 10**12  # seq numbers of worker j start at j * _SEQ_SPAN + 1
_READ = 1 << 20
_SPLITTABLE = {"wechatpay": False, "alipay": True, "generic-csv": True}  # True: csv quoting


@dataclass(frozen=True, slots=True)
class Part:
    start: int  # byte offset of the part's first line
    end: int  # byte offset just past its last line
    first_line: int  # 1-based number of its first line in the file


@dataclass(frozen=True, slots=True)
class SplitPlan:
    preamble: bytes
    preamble_lines: int
    parts: tuple[Part, ...]


def _file_chunks(path: Path, start: int, end: int, prefix: bytes = b"") -> Iterator[bytes]:
    if prefix:
        yield prefix
    with path.open("rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            block = handle.read(min(_READ, left))
            if not block:
                return
            left -= len(block)
            yield block


def plan_split(path: Path, request: ParseRequest, workers: int) -> SplitPlan | None:
    """How to cut ``path`` for ``workers`` processes, or ``None`` to parse it in one stream."""
    quoting = _SPLITTABLE.get(request.format)
    size = path.stat().st_size
    if quoting is None or workers < 2 or size < SPLIT_THRESHOLD:
        return None
    if quoting and _contains(path, b'"'):
        return None
    first = _first_data_line(path, request)
    if first is None:
        return None
    offsets = _line_offsets(path, first)
    if offsets is None:
        return None
    start, preamble = offsets
    cuts = [start]
    with path.open("rb") as handle:
        for j in range(1, workers):
            handle.seek(start + (size - start) * j // workers)
            handle.readline()  # to the next line end
            cuts.append(max(handle.tell(), cuts[-1]))
    cuts.append(size)
    cuts[0] = 0  # the first part starts with the preamble itself
    lines = _count_lines(path, cuts)
    parts = tuple(
        Part(cuts[j], cuts[j + 1], lines[j]) for j in range(workers) if cuts[j] < cuts[j + 1]
    )
    return SplitPlan(preamble, first - 1, parts) if len(parts) > 1 else None


def _contains(path: Path, needle: bytes) -> bool:
    with path.open("rb") as handle:
        while block := handle.read(_READ):
            if needle in block:
                return True
    return False


def _first_data_line(path: Path, request: ParseRequest) -> int | None:
    """The number of the first line the parser yields (a line or a line error)."""
    head = ParseRequest(
        request.format, request.channel, request.source_file, "quarantine", request.encoding,
        request.column_map,
    )  # fmt: skip
    reader = head.reader(_file_chunks(path, 0, min(path.stat().st_size, 4 * _READ)))
    try:
        for line in reader:
            found = [e.line for e in reader.errors]
            return min([line.source_line, *found])
    except StatementError:
        return None
    return min((e.line for e in reader.errors), default=None)


def _line_offsets(path: Path, line_number: int) -> tuple[int, bytes] | None:
    """The byte offset where ``line_number`` starts, and the bytes before it."""
    with path.open("rb") as handle:
        preamble = b""
        for _ in range(line_number - 1):
            line = handle.readline()
            if not line:
                return None
            preamble += line
        return len(preamble), preamble


def _count_lines(path: Path, cuts: list[int]) -> list[int]:
    """The 1-based line number at each cut (cuts are at line starts, in order)."""
    numbers: list[int] = []
    seen = 1
    position = 0
    with path.open("rb") as handle:
        for cut in cuts:
            while position < cut:
                block = handle.read(min(_READ, cut - position))
                if not block:
                    break
                seen += block.count(b"\n")
                position += len(block)
            numbers.append(seen)
    return numbers


def _worker(
    index: int,
    path: str,
    part: Part,
    preamble: bytes,
    preamble_lines: int,
    request: ParseRequest,
    out: Any,
) -> None:
    """Parse one part; send ("rows", rows, bytes), ("error", LineError), ("fatal", errors)."""
    try:
        prefix = preamble if index else b""
        offset = part.first_line - preamble_lines - 1 if index else 0
        read = [0, 0]  # bytes read, bytes reported

        def counted() -> Iterator[bytes]:
            for block in _file_chunks(Path(path), part.start, part.end, prefix):
                read[0] += len(block)
                yield block

        reader = request.reader(counted())
        rows = stage_rows(reader, first_seq=index * _SEQ_SPAN + 1, line_offset=offset)
        sent = 0
        while batch := list(islice(rows, CHUNK // 4)):
            for error in reader.errors[sent:]:
                out.put(("error", _moved(error, offset)))
            sent = len(reader.errors)
            out.put(("rows", batch, read[0] - read[1]))
            read[1] = read[0]
        for error in reader.errors[sent:]:
            out.put(("error", _moved(error, offset)))
        out.put(("done", index, read[0] - read[1]))
    except StatementError as exc:
        offset = part.first_line - preamble_lines - 1 if index else 0
        out.put(("fatal", [_moved(e, offset) for e in exc.errors]))
    except BaseException as exc:  # pragma: no cover - reported to the parent, which raises
        out.put(("crash", f"{type(exc).__name__}: {exc}"))


def _moved(error: LineError, offset: int) -> LineError:
    return LineError(error.file, error.line + offset, error.field, error.message)


def ingest(
    conn: Connection,
    source: Path | bytes,
    chunks: Callable[[], Iterator[bytes]],
    request: ParseRequest,
    *,
    workers: int | None = None,
    progress: Callable[[int], object] | None = None,
    columnar_read: bool = True,
) -> tuple[list[LineError], StageSummary | None]:
    """Load the statement into the staging table; returns the quarantined line errors, and
    the statement's summary when it was read column by column (else ``None``: the table's
    own, :func:`~.statement_stage.table_summary`, is the one).

    ``chunks`` streams the source for the one-process path. ``workers`` defaults to the
    machine's CPUs (at most 4) for files that can be split. A rejected line or a file error
    raises :class:`StatementError` (the caller's transaction then loads nothing).
    ``columnar_read=False``: the columnar reader was tried already and declined the file.
    """
    read = _read_columnar(source, request, progress) if columnar_read else None
    if read is not None:
        if read.errors and request.on_error == "reject":
            raise StatementError([read.errors[0]])
        return read.errors, load_frame(conn, read.frame)
    count = workers if workers is not None else min(4, os.cpu_count() or 1)
    forkable = "fork" in multiprocessing.get_all_start_methods()
    alone = threading.active_count() == 1
    split = isinstance(source, Path) and forkable and alone
    plan = plan_split(source, request, count) if split and isinstance(source, Path) else None
    if plan is None:
        reader = request.reader(chunks())
        load_stage(conn, reader)
        return list(reader.errors), None
    if not isinstance(source, Path):
        raise InvariantViolated("expected isinstance(source, Path)")
    return _ingest_parts(conn, source, plan, request, progress), None


def _read_columnar(
    source: Path | bytes, request: ParseRequest, progress: Callable[[int], object] | None
) -> columnar.Columns | None:
    """The statement read column by column (see :mod:`~billfold.settlement.parsers.columnar`),
    or ``None``: another format, polars not installed, a small file, or one that reader
    leaves to the streaming parser."""
    if request.format not in columnar.FORMATS or request.column_map or not columnar.available():
        return None
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    if size < COLUMNAR_THRESHOLD:
        return None
    # a path's bytes are handed on, not kept here: the reader drops them once decoded
    read = columnar.read(
        source if isinstance(source, bytes) else source.read_bytes(), request.options()
    )
    if read is not None and progress is not None:
        progress(size)
    return read


def _ingest_parts(
    conn: Connection,
    path: Path,
    plan: SplitPlan,
    request: ParseRequest,
    progress: Callable[[int], object] | None,
) -> list[LineError]:
    context = multiprocessing.get_context("fork")
    channel: Any = context.Queue(maxsize=64)
    procs = [
        context.Process(
            target=_worker,
            args=(j, str(path), part, plan.preamble, plan.preamble_lines, request, channel),
            daemon=True,
        )
        for j, part in enumerate(plan.parts)
    ]
    for proc in procs:
        proc.start()
    try:
        with StageWriter(conn) as writer:
            errors = _drain(channel, procs, writer, request, progress)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=10)
        channel.close()
    return sorted(errors, key=lambda e: e.line)


def _drain(
    channel: Any,
    procs: list[Any],
    writer: StageWriter,
    request: ParseRequest,
    progress: Callable[[int], object] | None,
) -> list[LineError]:
    """Write the workers' rows as they come until every worker is done; a worker's fatal
    error, a rejected line or a dead worker ends the load."""
    errors: list[LineError] = []
    finished = 0
    while finished < len(procs):
        try:
            message = channel.get(timeout=5)
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(
                    f"a statement parser process died (exit code {dead[0].exitcode})"
                ) from None
            continue
        kind = message[0]
        if kind in ("rows", "done") and progress is not None:
            progress(message[2])
        if kind == "rows":
            writer.write(message[1])
        elif kind == "error":
            if request.on_error == "reject":
                raise StatementError([message[1]])
            errors.append(message[1])
        elif kind == "fatal":
            raise StatementError(message[1])
        elif kind == "crash":
            raise RuntimeError(f"a statement parser process failed: {message[1]}")
        else:
            finished += 1
    return errors


#: PostgreSQL settings for the rest of a run's transaction (``SET LOCAL``: they end with it).
#: A million-line run hashes the day's payments and the staged lines and sorts the lines for
#: their index: with the defaults (4 MB, 64 MB) each spills to disk in batches. JIT compiling
#: the matching query costs more than it saves on one pass.
RUN_SETTINGS = {"work_mem": "256MB", "maintenance_work_mem": "256MB", "jit": "off"}


class SqlStatements:
    """The staging port (:class:`billfold.settlement.ports.StatementStaging`) on one
    connection.

    A big WeChat Pay bill is read column by column and matched in polars against the day's
    payments, read from the database while the file is read (:mod:`.statement_match`):
    nothing is written to the database for it. Any other statement goes to the run's
    staging table (see the module docs), indexed for the matching joins of
    :class:`~.recon.SqlRecon`, and dropped when the run is stored."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._summary: StageSummary | None = None
        self._match: FrameMatch | None = None

    def stage(
        self,
        source: Source,
        request: ParseRequest,
        *,
        day: date | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
    ) -> list[LineError]:
        tried = False
        if day is not None and _columnar_candidate(source, request):
            payments = PaymentsRead(self.conn, request.channel, day)
            try:
                read = _read_columnar(source, request, progress)
                payments.join()
                tried = True
                if read is not None:
                    errors = read.errors
                    if errors and request.on_error == "reject":
                        raise StatementError([errors[0]])
                    rows = frame_rows(read.frame)
                    # the file's frame is let go before the payments' is made: rows holds
                    # copies of its text columns (cut to the table's widths)
                    del read
                    self._summary = frame_summary(rows)
                    self._match = FrameMatch(self.conn, rows, payments.frame(), day)
                    return errors
            finally:
                payments.close()
        if self.conn.dialect.name == "postgresql":
            for name, value in RUN_SETTINGS.items():
                self.conn.exec_driver_sql(f"SET LOCAL {name} = '{value}'")
        create_stage(self.conn)
        errors, self._summary = ingest(
            self.conn,
            source,
            lambda: chunks(source, progress),
            request,
            workers=workers,
            progress=progress,
            columnar_read=not tried,
        )
        index_stage(self.conn)
        return errors

    def summary(self) -> StageSummary:
        """The staged statement's totals groups and merchant ids: kept from the frame when
        it was read column by column, else read from the table."""
        if self._summary is None:
            self._summary = table_summary(self.conn)
        return self._summary

    def paying_billers(self) -> list[int] | None:
        """The billers with a payment of the run's channel and day, from the payments read
        for a statement matched in polars (a ``DISTINCT`` over the day's payments, 0.2 s of
        a million-payment run, saved); ``None`` for one in the staging table."""
        return self._match.paying_billers() if self._match is not None else None

    # -- the staged statement against the engine's records ----------------------------------
    def payment_exceptions(
        self, channel: str, day: date, check_fees: bool, source_file: str
    ) -> list[tuple[StatementLine, EnginePayment | None]]:
        """Payment and reversal lines that do not match cleanly, with the payment named."""
        if self._match is not None:
            return self._match.payment_exceptions(channel, check_fees, source_file)
        return SqlRecon(self.conn).payment_exceptions(channel, day, check_fees, source_file)

    def engine_only_payments(
        self, channel: str, merchant_id: str, day: date
    ) -> list[EnginePayment]:
        """Payments of ``day`` holding money that no payment or reversal line mentions."""
        if self._match is not None:
            return self._match.engine_only_payments(channel, merchant_id)
        return SqlRecon(self.conn).engine_only_payments(channel, merchant_id, day)

    def engine_totals(self, channel: str, merchant_id: str, day: date) -> tuple[int, int]:
        """How many payments of ``day`` hold money, and how much, in the run's scope."""
        if self._match is not None:
            return self._match.engine_totals(channel, merchant_id)
        return SqlRecon(self.conn).engine_totals(channel, merchant_id, day)

    def refund_lines(self, channel: str, source_file: str) -> list[StatementLine]:
        """The statement's refund lines, in file order."""
        if self._match is not None:
            return self._match.refund_lines(channel, source_file)
        return SqlRecon(self.conn).refund_lines(channel, source_file)

    def unstage(self) -> None:
        self._summary = None
        if self._match is not None:
            self._match = None
        else:
            drop_stage(self.conn)


def _columnar_candidate(source: Source, request: ParseRequest) -> bool:
    """Whether :func:`_read_columnar` will try the file (it may still decline it)."""
    if request.format not in columnar.FORMATS or request.column_map or not columnar.available():
        return False
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    return size >= COLUMNAR_THRESHOLD
