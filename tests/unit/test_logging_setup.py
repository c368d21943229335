"""The log format: JSON for machines, the console renderer for people."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
import structlog

from billfold.logging import configure_logging, wants_json


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_goes_to_pipes_and_files_and_never_to_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BILLFOLD_ENV", raising=False)
    monkeypatch.delenv("BILLFOLD_LOG_FORMAT", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert wants_json()
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert not wants_json()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setenv("BILLFOLD_ENV", "dev")
    assert not wants_json()
    monkeypatch.setenv("BILLFOLD_LOG_FORMAT", "json")  # said outright, it wins
    assert wants_json()


def test_the_console_shows_the_masked_traceback_below_the_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(json=False, level="INFO")
    try:
        raise RuntimeError("payer 13812345678 not found")
    except RuntimeError:
        structlog.get_logger().exception("lookup failed")
    text = stream.getvalue()
    assert not text.startswith("{") and "lookup failed" in text
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: payer 138****5678 not found" in text and "13812345678" not in text
    configure_logging(json=True)


#: configure_logging_when_used in a fresh interpreter (this one has structlog already): the
#: standard library's first record, then structlog's first import, each written as
#: configured — JSON at warning level, masked.
DEFERRED = """
import json, logging, sys
from billfold.logging import configure_logging_when_used
configure_logging_when_used(level=sys.argv[1])
assert "structlog" not in sys.modules, "imported before anything was logged"
logging.getLogger("sqlalchemy.pool").info("not at this level")
assert "structlog" not in sys.modules, "a record below the level configured logging"
if sys.argv[2] == "stdlib":
    logging.getLogger("sqlalchemy.pool").warning("payer %s", "13812345678")
else:
    import structlog
    structlog.get_logger("billfold").warning("lookup", phone="13812345678")
    structlog.get_logger("billfold").info("not at this level")
"""


@pytest.mark.parametrize("first", ["stdlib", "structlog"])
def test_logging_configured_when_used_writes_the_first_record_as_configured(first: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLFOLD_")}
    done = subprocess.run(
        [sys.executable, "-c", DEFERRED, "WARNING", first],
        capture_output=True, text=True, timeout=60, env={**env, "BILLFOLD_LOG_FORMAT": "json"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert len(lines) == 1 and lines[0]["level"] == "warning", done.stderr
    assert "13812345678" not in done.stderr and "138****5678" in done.stderr
