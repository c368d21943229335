"""The bill-import and QR benchmarks keep working at smoke size (CI runs every benchmark
with ``--smoke``); no timing is asserted, the benchmarks print their ratios."""

from __future__ import annotations

import re
from collections.abc import Callable
from subprocess import CompletedProcess

RunBenchmark = Callable[..., CompletedProcess[str]]


def test_the_import_benchmark_imports_checks_and_compares_with_a_raw_write(
    run_benchmark: RunBenchmark,
) -> None:
    done = run_benchmark("import.py", "--smoke", "--backends", "sqlite,postgresql")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^sqlite\s+2000\s+\d+\.\d\d\s+\d+\.\d\d\s", done.stdout, re.MULTILINE)
    assert "postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)" in done.stdout
    assert "verified: n bills, n items, n/2 payers stored" in done.stdout


def test_the_import_benchmark_refuses_an_unknown_backend(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("import.py", "--backends", "sqlite,oracle")
    assert done.returncode == 2
    assert "unknown backend oracle (choose from sqlite, postgresql)" in done.stderr


def test_the_qr_benchmark_renders_the_same_pixels_as_qrcode(run_benchmark: RunBenchmark) -> None:
    done = run_benchmark("qr.py", "--smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^ratio \(qrcode / billfold\): wall \d+\.\d\d, cpu \d+\.\d\d", done.stdout,
                     re.MULTILINE)  # fmt: skip
    assert "verified: the same pixels on both sides" in done.stdout
