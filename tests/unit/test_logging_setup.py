"""The log format: JSON for machines, the console renderer for people."""

from __future__ import annotations

import io
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
