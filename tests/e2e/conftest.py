"""Fixtures for the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

RunBenchmark = Callable[..., subprocess.CompletedProcess[str]]


def _run_benchmark(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<script>`` with ``args`` in a fresh interpreter and capture its output.

    Every ``*_PG_URL`` variable is left out of its environment, so PostgreSQL is skipped
    unless a test passes ``--pg-url`` itself.
    """
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PG_URL")}
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


@pytest.fixture
def run_benchmark() -> RunBenchmark:
    """``run_benchmark("confirm.py", "--smoke")``: a benchmark script's finished process."""
    return _run_benchmark
