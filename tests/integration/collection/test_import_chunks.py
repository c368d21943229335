"""Large imports are written in chunks, each its own transaction: other writers get in between
chunks, an interrupted import is finished by running it again, and a bad line anywhere in
the file still stops the whole file before anything is written."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.clock import FixedClock
from billfold.collection import importer
from billfold.collection.importer import ImportMode
from billfold.errors import ImportFailed

N = 300  # six chunks of 50


@pytest.fixture
def water(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr(importer, "CHUNK", 50)
    engine.create_biller(Biller(code="w1", name="自来水", kind=BillerKind.UTILITY))
    return engine


def bill_file(n: int = N, *, bad_line: int | None = None) -> bytes:
    lines = ["bill_no,payer_id,payer_name,amount"]
    for i in range(n):
        amount = "-1.00" if bad_line == i + 2 else f"{10 + i}.50"
        lines.append(f"W{i:04d},{i // 2:04d},周{i // 2}号,{amount}")
    return ("\n".join(lines) + "\n").encode()


def counts(engine: Engine) -> tuple[int, int, int, int]:
    """Bills, distinct bill numbers, items and payers stored."""
    with engine.uow() as uow:
        one = uow.conn.execute
        return (
            int(one(select(func.count()).select_from(t.bills)).scalar_one()),
            int(one(select(func.count(func.distinct(t.bills.c.bill_no)))).scalar_one()),
            int(one(select(func.count()).select_from(t.bill_items)).scalar_one()),
            int(one(select(func.count()).select_from(t.payers)).scalar_one()),
        )


def test_another_writer_gets_in_between_chunks_of_a_long_import(
    water: Engine, db_url: str, clock: FixedClock
) -> None:
    """Before chunked commits the import held SQLite's write lock to the end, and a biller
    created meanwhile failed with 'database is locked' after the 30 s busy timeout."""
    first_chunk = threading.Event()
    biller_created = threading.Event()
    outcome: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        if not first_chunk.is_set():
            first_chunk.set()
            biller_created.wait(timeout=90)

    def run() -> None:
        try:
            outcome["report"] = water.import_bills("w1", bill_file(), progress=progress)
        except Exception as exc:  # reported by the assertions below
            outcome["error"] = exc

    importing = threading.Thread(target=run)
    importing.start()
    try:
        assert first_chunk.wait(timeout=90)
        other = Engine.from_url(db_url, clock=clock)
        try:
            other.create_biller(Biller(code="g1", name="燃气公司", kind=BillerKind.UTILITY))
            seen_meanwhile = counts(other)
        finally:
            other.close()
    finally:
        biller_created.set()
        importing.join(timeout=120)
    assert "error" not in outcome, outcome
    assert seen_meanwhile[0] == 50  # the first chunk was committed, the rest not yet written
    assert (outcome["report"].created, outcome["report"].unchanged) == (N, 0)
    assert counts(water) == (N, N, N, N // 2)
    assert water.biller("g1").name == "燃气公司"


def test_an_interrupted_import_run_again_ends_with_exactly_the_files_bills(
    water: Engine,
) -> None:
    done: list[int] = []

    def interrupt_after_two_chunks(lines: int, total: int) -> None:
        done.append(lines)
        if len(done) == 2:
            raise KeyboardInterrupt  # Ctrl-C, a crash: the two committed chunks stay

    with pytest.raises(KeyboardInterrupt):
        water.import_bills("w1", bill_file(), progress=interrupt_after_two_chunks)
    assert counts(water)[0] == 100
    assert not [a for a in water.audit_log("biller", "w1") if a["action"] == "import_bills"]

    report = water.import_bills("w1", bill_file())
    assert (report.created, report.unchanged, report.errors) == (N - 100, 100, [])
    assert counts(water) == (N, N, N, N // 2)  # nothing doubled, nothing missing
    again = water.import_bills("w1", bill_file())
    assert (again.created, again.unchanged) == (0, N)
    assert counts(water) == (N, N, N, N // 2)
    imports = [a for a in water.audit_log("biller", "w1") if a["action"] == "import_bills"]
    assert [(a["after"]["created"], a["after"]["unchanged"]) for a in imports] == [
        (N - 100, 100),
        (0, N),
    ]


def test_a_bad_line_in_the_last_chunk_stops_the_file_before_the_first_chunk_is_written(
    water: Engine,
) -> None:
    progress: list[int] = []
    with pytest.raises(ImportFailed) as caught:
        water.import_bills(
            "w1",
            bill_file(bad_line=N + 1),
            file_name="big.csv",
            progress=lambda d, _: progress.append(d),
        )
    assert caught.value.message == "big.csv: 1 line(s) rejected; nothing was imported"
    assert caught.value.errors == [f"line {N + 1}: amount: '-1.00' is negative"]
    assert counts(water) == (0, 0, 0, 0)
    assert progress == []


def test_valid_lines_mode_writes_every_chunk_but_the_bad_line(water: Engine) -> None:
    report = water.import_bills("w1", bill_file(bad_line=N + 1), mode=ImportMode.VALID_LINES)
    assert (report.created, report.rejected) == (N - 1, 1)
    assert counts(water)[:3] == (N - 1, N - 1, N - 1)


def test_a_payers_name_is_the_stored_one_else_the_first_the_file_gives(water: Engine) -> None:
    text = (
        "bill_no,payer_id,payer_name,amount\n"
        "W1,0101,,1.00\n"
        "W2,0101,周先生,2.00\n"
        "W3,0101,吴女士,3.00\n"
        "W4,0102,郑先生,4.00\n"
    )
    report = water.import_bills("w1", text.encode())
    assert [str(c) for c in report.changes] == [
        "line 4: payer_name: 0101: the file says '吴女士', billfold has '周先生'; "
        "the stored name is kept"
    ]
    later = "bill_no,payer_id,payer_name,amount\nW5,0102,王先生,5.00\nW6,0103,,6.00\n"
    report = water.import_bills("w1", later.encode())
    assert [str(c) for c in report.changes] == [
        "line 2: payer_name: 0102: the file says '王先生', billfold has '郑先生'; "
        "the stored name is kept"
    ]
    names = {p.identifier: p.name for _, p, _ in water.bills_for("0101")[:1]}
    names |= {p.identifier: p.name for _, p, _ in water.bills_for("0102")[:1]}
    names |= {p.identifier: p.name for _, p, _ in water.bills_for("0103")[:1]}
    assert names == {"0101": "周先生", "0102": "郑先生", "0103": None}


def test_a_large_chunk_refreshes_the_planners_statistics_on_postgresql(
    engine: Engine, db_url: str
) -> None:
    """A first large import into an empty database: the tables are analyzed, so the next
    chunk's lookups by bill number use the index instead of scanning (only PostgreSQL keeps
    such statistics)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the planner's statistics are PostgreSQL's")
    engine.create_biller(Biller(code="w1", name="自来水", kind=BillerKind.UTILITY))
    report = engine.import_bills("w1", bill_file(1200))
    assert (report.created, report.errors) == (1200, [])
    assert counts(engine) == (1200, 1200, 1200, 600)
    with engine.uow() as uow:
        planned = uow.conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = 'bills'::regclass"
        ).scalar_one()
    assert planned == 1200
