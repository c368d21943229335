"""The reconciliation benchmark keeps working: a smoke-sized run verifies itself; bad
arguments are refused by name. No timing is asserted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "reconcile.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PG_URL")}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_a_smoke_run_finds_exactly_the_seeded_discrepancies() -> None:
    done = _run("--smoke", "--backends", "sqlite,postgresql")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)" in out
    assert re.search(r"^sqlite\s+3000\s+raw\s+\d+\.\d\s+\d+\s+matched 2997", out, re.M), out
    assert re.search(r"^sqlite\s+3000\s+billfold\s+\d+\.\d\s+\d+\s+matched 2997, 6 disc", out, re.M)
    assert re.search(r"^sqlite\s+ratio billfold/raw \d+\.\d\d \(target <= 3\.00: ", out, re.M)
    assert "verified: exactly the seeded discrepancies" in out
    assert "PROBLEM" not in out


def test_bad_arguments_are_refused_by_name() -> None:
    done = _run("--backends", "sqlite,oracle")
    assert done.returncode == 2 and "unknown backend oracle" in done.stderr
    done = _run("--n", "0")
    assert done.returncode == 2
    assert "--n: must be a whole number of 1 or more, got '0'" in done.stderr
