"""Command-line values the benchmark scripts share (each script runs on its own as
``python benchmarks/<name>.py``, so this module sits beside them on ``sys.path``)."""

from __future__ import annotations

import argparse

__all__ = ["count"]


def count(value: str) -> int:
    """A whole number of 1 or more (``--n``, ``--workers`` …); argparse names the option."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {value!r}")
    return int(value)
