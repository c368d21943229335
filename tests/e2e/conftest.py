"""Fixtures for the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


# -- the console in a browser (tests/e2e/webdriver.py) ---------------------------------------
@pytest.fixture(scope="module")
def console_seed() -> Callable[[Any], None] | None:
    """More data for the module's console site: override in a test module with a fixture of
    the same name returning ``seed(engine)``."""
    return None


@pytest.fixture(scope="module")
def console(
    tmp_path_factory: pytest.TempPathFactory, console_seed: Callable[[Any], None] | None
) -> Iterator[Any]:
    """``billfold serve`` with the console, over a seeded SQLite database, for the module:
    a ``webdriver.ConsoleSite`` (``.base``, ``.login(browser, username)``, ``.engine()``)."""
    from webdriver import console_site  # type: ignore[import-not-found]

    with console_site(tmp_path_factory.mktemp("console"), console_seed) as site:
        yield site


@pytest.fixture(scope="module")
def console_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium at 1280 px for the module (``webdriver.Browser``); skipped
    without Chromium and chromedriver."""
    from webdriver import CHROMEDRIVER, CHROMIUM, chromedriver  # type: ignore[import-not-found]

    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("the browser test needs Chromium and chromedriver on PATH")
    with chromedriver(tmp_path_factory.mktemp("fonts")) as browser:
        yield browser
