"""Command-line values the benchmark scripts share (each script runs on its own as
``python benchmarks/<name>.py``, so this module sits beside them on ``sys.path``)."""

from __future__ import annotations

import argparse
import os

__all__ = ["BACKENDS", "backends", "count", "pg_url"]

#: The databases a benchmark runs on.
BACKENDS = ("sqlite", "postgresql")


def count(value: str) -> int:
    """A whole number of 1 or more (``--n``, ``--workers`` …); argparse names the option."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {value!r}")
    return int(value)


def backends(value: str) -> list[str]:
    """``--backends``: a comma-separated choice among :data:`BACKENDS`."""
    chosen = [b.strip() for b in value.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown backend {', '.join(unknown) or repr(value)} "
            f"(choose from {', '.join(BACKENDS)})"
        )
    return chosen


def pg_url(given: str | None) -> str | None:
    """The PostgreSQL server to benchmark on: ``--pg-url``, else ``BILLFOLD_BENCH_PG_URL``,
    else ``BILLFOLD_TEST_PG_URL``; ``None`` skips PostgreSQL."""
    return (
        given or os.environ.get("BILLFOLD_BENCH_PG_URL") or os.environ.get("BILLFOLD_TEST_PG_URL")
    )
