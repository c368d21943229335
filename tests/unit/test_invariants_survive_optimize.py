"""Invariants are checks that raise billfold errors, not ``assert`` statements that
``python -O`` strips (ruff's S101 refuses an assert in billfold/)."""

from __future__ import annotations

import subprocess
import sys


def test_a_broken_invariant_raises_under_python_dash_o() -> None:
    code = "from billfold.adapters.db.orders import _ts; _ts(None)"
    run = subprocess.run(
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert run.returncode != 0
    assert "InvariantViolated: a required timestamp is missing" in run.stderr
