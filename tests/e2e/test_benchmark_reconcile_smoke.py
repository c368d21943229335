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
    number = r"\s+\d+\.\d\d"
    # wall, CPU, the server's CPU ("-": SQLite has no server), peak memory
    seen = rf"{number}{number}\s+-\s+\d+"
    assert re.search(rf"^sqlite\s+3000\s+raw{seen}\s+one process; matched 2997", out, re.M), out
    assert re.search(rf"^sqlite\s+3000\s+raw x\d+{seen}\s+read by \d+ proc", out, re.M)
    assert re.search(rf"^sqlite\s+3000\s+billfold{seen}\s+matched 2997, 6 disc", out, re.M)
    assert re.search(
        r"^sqlite\s+wall \d+\.\d\d s \(target <= 5 s: PASS\); billfold/raw x\d+: wall ", out, re.M
    )
    assert re.search(r"CPU \d+\.\d\d \(target <= 2\.00: (PASS|BELOW)\)", out)
    assert re.search(r"^machine: \d+ CPUs; load average ", out, re.M)
    assert "verified: exactly the seeded discrepancies" in out
    assert "PROBLEM" not in out


def test_bad_arguments_are_refused_by_name(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("reconcile.py", "--backends", "sqlite,oracle")
    assert done.returncode == 2 and "unknown backend oracle" in done.stderr
    done = run_benchmark("reconcile.py", "--n", "0")
    assert done.returncode == 2
    assert "--n: must be a whole number of 1 or more, got '0'" in done.stderr
