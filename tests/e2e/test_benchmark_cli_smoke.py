"""The command-line start benchmark keeps working at smoke size (CI runs every benchmark with
``--smoke``): it times the yardsticks and billfold's commands and checks their answers. No
timing is asserted."""

from __future__ import annotations

import re
from collections.abc import Callable
from subprocess import CompletedProcess

RunBenchmark = Callable[..., CompletedProcess[str]]


def test_a_smoke_run_times_help_the_floor_and_database_commands(
    run_benchmark: RunBenchmark,
) -> None:
    done = run_benchmark("cli.py", "--smoke", "--backends", "sqlite,postgresql")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)" in out
    assert re.search(r"^machine: \d+ CPUs; load average ", out, re.M)
    seconds = r"(\s+\d+\.\d\d\d){4}"
    verdict = r"<= 0\.3 s: wall (PASS|BELOW), cpu (PASS|BELOW)"
    assert re.search(rf"^billfold --help{seconds}\s+{verdict}$", out, re.M), out
    assert re.search(rf"^sqlite: floor \(typer \+ Core SELECT\){seconds}\s*$", out, re.M), out
    assert re.search(rf"^sqlite: billers list{seconds}\s+{verdict}$", out, re.M), out
    assert re.search(
        r"^sqlite: CPU / the floor's: billers list x\d+\.\d\d, bills show x", out, re.M
    )
    assert "verified: every command answered, with the seeded biller, bill and revision" in out
    assert "PROBLEM" not in out


def test_bad_arguments_are_refused_by_name(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("cli.py", "--backends", "sqlite,oracle")
    assert done.returncode == 2 and "unknown backend oracle" in done.stderr
    done = run_benchmark("cli.py", "--repeat", "0")
    assert done.returncode == 2
    assert "--repeat: must be a whole number of 1 or more, got '0'" in done.stderr
