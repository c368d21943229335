"""Command-line values and the machine's load, which the benchmark scripts share (each script
runs on its own as ``python benchmarks/<name>.py``, so this module sits beside them on
``sys.path``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

__all__ = ["BACKENDS", "backends", "count", "load", "pg_url"]

#: The databases a benchmark runs on.
BACKENDS = ("sqlite", "postgresql")


def count(value: str) -> int:
    """A whole number of 1 or more (``--n``, ``--workers`` …); argparse names the option."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {value!r}")
    return int(value)


def choices(allowed: Sequence[str], what: str) -> Callable[[str], list[str]]:
    """An option's comma-separated choice among ``allowed`` (``what`` names one in the
    refusal, which lists every unknown value)."""

    def parse(value: str) -> list[str]:
        chosen = [v.strip() for v in value.split(",") if v.strip()]
        unknown = [v for v in chosen if v not in allowed]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or repr(value)} "
                f"(choose from {', '.join(allowed)})"
            )
        return chosen

    return parse


#: ``--backends``: a comma-separated choice among :data:`BACKENDS`.
backends = choices(BACKENDS, "backend")


def pg_url(given: str | None) -> str | None:
    """The PostgreSQL server to benchmark on: ``--pg-url``, else ``BILLFOLD_BENCH_PG_URL``,
    else ``BILLFOLD_TEST_PG_URL``; ``None`` skips PostgreSQL."""
    return (
        given or os.environ.get("BILLFOLD_BENCH_PG_URL") or os.environ.get("BILLFOLD_TEST_PG_URL")
    )


def load() -> str:
    """The load average over 1, 5 and 15 minutes, as the benchmarks print it."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"
