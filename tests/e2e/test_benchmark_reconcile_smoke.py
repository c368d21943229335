"""The reconciliation benchmark keeps working: a smoke-sized run verifies itself; bad
arguments are refused by name. No timing is asserted."""

from __future__ import annotations

import re
from collections.abc import Callable
from subprocess import CompletedProcess

RunBenchmark = Callable[..., CompletedProcess[str]]


def test_a_smoke_run_finds_exactly_the_seeded_discrepancies(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("reconcile.py", "--smoke", "--backends", "sqlite,postgresql")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)" in out
    assert re.search(r"^sqlite\s+3000\s+raw\s+\d+\.\d\s+\d+\s+matched 2997", out, re.M), out
    assert re.search(r"^sqlite\s+3000\s+billfold\s+\d+\.\d\s+\d+\s+matched 2997, 6 disc", out, re.M)
    assert re.search(r"^sqlite\s+ratio billfold/raw \d+\.\d\d \(target <= 3\.00: ", out, re.M)
    assert "verified: exactly the seeded discrepancies" in out
    assert "PROBLEM" not in out


def test_bad_arguments_are_refused_by_name(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("reconcile.py", "--backends", "sqlite,oracle")
    assert done.returncode == 2 and "unknown backend oracle" in done.stderr
    done = run_benchmark("reconcile.py", "--n", "0")
    assert done.returncode == 2
    assert "--n: must be a whole number of 1 or more, got '0'" in done.stderr
