"""The HTTP notifications benchmark keeps working: a smoke-sized run, and its bad-input messages.

No timing is asserted here; the benchmark prints figures, it does not judge them in tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from subprocess import CompletedProcess

ROW = re.compile(
    r"^sqlite\s+1 worker, (?P<http>\w+)\s+(?P<requests>\d+)\s+(?P<rate>\d+)\s+\d+\.\d\s+\d+\.\d"
    r"\s+\d+\s+\d+\.\d\d\s+\d+\s+\d+\.\d\d$",
    re.MULTILINE,
)
# CPU per request, ms, client + server + database, for the http, minimal, in-process and confirm
# sides
CPU_ROW = re.compile(
    r"^sqlite\s+1 worker, (?P<http>\w+)(\s+\d+\.\d\d \+ \d+\.\d\d \+ \d+\.\d\d){4}$",
    re.MULTILINE,
)
VERIFIED = (
    "verified: every order credited exactly once, repeats answered SUCCESS; check_books() == []"
)

RunBenchmark = Callable[..., CompletedProcess[str]]


def test_smoke_run_serves_notifications_with_repeats_and_verifies_the_books(
    run_benchmark: RunBenchmark,
) -> None:
    done = run_benchmark("http.py", "--smoke", "--backends", "sqlite", "--http", "h11,httptools")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {m["http"]: m for m in ROW.finditer(done.stdout)}
    assert set(rows) == {"h11", "httptools"}, done.stdout
    for row in rows.values():
        assert int(row["requests"]) == 48  # 40 orders and 8 repeats
        assert int(row["rate"]) > 0
    assert {m["http"] for m in CPU_ROW.finditer(done.stdout)} == {"h11", "httptools"}
    assert VERIFIED in done.stdout
    assert "FAILED" not in done.stdout


def test_postgresql_without_a_url_is_skipped_with_a_note(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("http.py", "--smoke", "--n", "3", "--backends", "sqlite,postgresql")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)" in done.stdout
    assert re.search(r"^sqlite\s+1 worker, (httptools|h11)\s+4\s", done.stdout, re.MULTILINE), (
        done.stdout
    )


def test_bad_arguments_are_refused_by_name(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("http.py", "--http", "h11,h3")
    assert done.returncode == 2
    assert "unknown HTTP parser h3 (choose from auto, httptools, h11)" in done.stderr
    done = run_benchmark("http.py", "--repeat-rate", "1.5")
    assert done.returncode == 2
    assert "--repeat-rate: must be between 0 and 1, got '1.5'" in done.stderr
    done = run_benchmark("http.py", "--workers", "0")
    assert done.returncode == 2
    assert "--workers: must be a whole number of 1 or more, got '0'" in done.stderr
