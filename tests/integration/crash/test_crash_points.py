"""Crash-point simulation (issue 12): every money use case, crashed after each of its
statements on SQLite and PostgreSQL, then retried, leaves the books balanced, no payment half
written, every outbox event once, and the same state as an uncrashed run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from crash_cases import CASES, SCHOOL, school  # type: ignore[import-not-found]

from billfold import Engine
from billfold.clock import FixedClock
from billfold.testing.crash import (
    CrashCase,
    PostgresScratch,
    ScratchDatabase,
    SqliteScratch,
    crash_every_statement,
    summary,
)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)]


def clock() -> FixedClock:
    return FixedClock(datetime(2026, 9, 1, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_migrated"))
    return "sqlite"


def scratch(backend: str, tmp_path: Path, template: Path, name: str) -> ScratchDatabase:
    """An empty, migrated database for one use case."""
    if backend == "sqlite":
        return SqliteScratch(tmp_path / f"{name}.db", template)
    db = PostgresScratch(backend)
    db.restore()  # nothing kept yet: every table emptied
    return db


def test_every_money_use_case_survives_a_crash_after_each_of_its_statements(
    backend: str, tmp_path: Path, sqlite_template: Path
) -> None:
    reports = []
    for n, case in enumerate(CASES):
        db = scratch(backend, tmp_path, sqlite_template, f"case{n}")
        reports.append(crash_every_statement(db, case, clock))
    print()
    print(summary(reports, "SQLite" if backend == "sqlite" else "PostgreSQL"))
    problems = [line for r in reports for line in r.problems]
    assert problems == [], "\n".join(problems[:40])
    assert all(r.crash_points >= 1 for r in reports), [r.name for r in reports]
    assert sum(r.crash_points for r in reports) == sum(r.statements for r in reports)
    assert [r.name for r in reports] == [c.name for c in CASES]
    # resolving moves the money and closes the discrepancy in one transaction (issue 12)
    (resolution,) = [r for r in reports if r.name == "discrepancy resolution"]
    assert resolution.commits == 1


def test_the_harness_reports_a_retry_that_is_not_idempotent(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """A client that sends a new request id with its retry waives twice: the crash after the
    commit (the answer lost) shows it, in the waivers, the bill and the outbox."""
    calls = iter(range(1000))

    def careless(engine: Engine, bill_no: object) -> object:
        return engine.waive(
            SCHOOL, str(bill_no), 2000, reason="r", granted_by="g", request_id=f"new-{next(calls)}"
        )

    case = CrashCase(
        "careless waiver",
        lambda engine: school(engine, "100.00") and "B0001",
        careless,
        ignore={"waivers": ("request_id",)},  # differs every time, by the client's fault
    )
    report = crash_every_statement(SqliteScratch(tmp_path / "c.db", sqlite_template), case, clock)
    last = f"careless waiver, crash after statement {report.statements}"
    assert report.crash_points == report.statements > 1
    assert {line.split(": ")[0] for line in report.problems} == {last}
    assert any(line.startswith(f"{last}: waivers: 2 rows, expected 1") for line in report.problems)
    assert any("outbox event ('bill.waived'" in line for line in report.problems)
