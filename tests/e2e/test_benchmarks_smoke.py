"""The confirm-path benchmark keeps working: a smoke-sized run, and its bad-input messages.

No timing is asserted here; the benchmark prints ratios, it does not judge them in tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from subprocess import CompletedProcess

#: billfold against the external yardstick (the minimal confirmation transaction by hand)
YARDSTICK_LINE = re.compile(
    r"^sqlite\s+yardstick\s+(?P<wall>\d+\.\d\d)\s+(?P<cpu>\d+\.\d\d)\s+>= 0\.30\s+(yes|NO)\s+"
    r"(?P<ours>\d+)/5$",
    re.MULTILINE,
)
#: billfold against the replay of its own statements (the second baseline)
REPLAY_LINE = re.compile(
    r"^sqlite\s+replay\s+(?P<wall>\d+\.\d\d)\s+(?P<cpu>\d+\.\d\d)\s+"
    r"(?P<ours>\d+)/(?P<theirs>\d+)$",
    re.MULTILINE,
)

CHAIN_LINE = re.compile(r"^sqlite\s+\d+\.\d\s+\d+\.\d\s+-?\d+\.\d%", re.MULTILINE)

RunBenchmark = Callable[..., CompletedProcess[str]]


def test_smoke_run_on_sqlite_prints_a_ratio_and_verifies_the_books(
    run_benchmark: RunBenchmark,
) -> None:
    done = run_benchmark("confirm.py", "--smoke", "--backends", "sqlite")
    assert done.returncode == 0, done.stdout + done.stderr
    yardstick = YARDSTICK_LINE.search(done.stdout)
    assert yardstick is not None, done.stdout
    assert float(yardstick["wall"]) > 0 and float(yardstick["cpu"]) > 0
    replay = REPLAY_LINE.search(done.stdout)
    assert replay is not None, done.stdout
    assert float(replay["wall"]) > 0
    assert replay["ours"] == replay["theirs"]  # the replay sends billfold's statements
    assert yardstick["ours"] == replay["ours"]
    assert "WARNING" not in done.stdout
    assert CHAIN_LINE.search(done.stdout), done.stdout  # chained against unchained, same run
    assert "verified: every order credited exactly once; check_books() == []" in done.stdout


def test_postgresql_without_a_url_is_skipped_with_a_note(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("confirm.py", "--smoke", "--n", "3", "--backends", "sqlite,postgresql")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)" in done.stdout
    assert re.search(r"^sqlite\s+3\s", done.stdout, re.MULTILINE), done.stdout


def test_an_unknown_backend_is_refused_by_name(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("confirm.py", "--backends", "sqlite,oracle")
    assert done.returncode == 2
    assert "unknown backend oracle (choose from sqlite, postgresql)" in done.stderr


def test_a_count_below_one_is_refused(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("confirm.py", "--n", "0")
    assert done.returncode == 2
    assert "--n: must be a whole number of 1 or more, got '0'" in done.stderr


def test_the_journal_guard_benchmark_has_a_smoke_run_for_ci(run_benchmark: RunBenchmark) -> None:
    """CI runs every benchmark with ``--smoke`` (.ci/run)."""
    done = run_benchmark("journal_guard.py", "--smoke", "--backends", "sqlite")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^sqlite\s+50\s+\d+\.\d\s+\d+\.\d\s", done.stdout, re.MULTILINE), done.stdout


def test_the_reminders_benchmark_has_a_smoke_run_for_ci(run_benchmark: RunBenchmark) -> None:
    """CI runs every benchmark with ``--smoke`` (.ci/run); no timing is judged here."""
    done = run_benchmark("reminders.py", "--smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^sqlite\s+50\s+\d+\.\d{3}\s+\d+\.\d{3}\s", done.stdout, re.MULTILINE), (
        done.stdout
    )
    assert done.stdout.startswith("load: ")
