"""What an operator reads: the demo's every line free of personal data and secrets, commands
quiet unless ``-v``, and people's terminals spared JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billfold.adapters.cli.app import app
from billfold.demo.gov_presale import BUREAU_SECRET
from billfold.testing.leaks import find_leaks

MAIN = "from billfold.adapters.cli.app import main; main()"
runner = CliRunner()


@pytest.mark.slow
def test_every_line_the_demo_writes_is_free_of_personal_data_and_secrets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLFOLD_")}
    url = f"sqlite:///{tmp_path / 'd.db'}"
    command = [sys.executable, "-c", MAIN, "-v", "demo", "--database-url", url]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    logged = [json.loads(line) for line in done.stderr.splitlines()]  # JSON: not a terminal
    assert len(logged) > 20 and {"info"} <= {line["level"] for line in logged}
    leaks = [
        (where, line, find_leaks(line, [BUREAU_SECRET]))
        for where, text in (("stdout", done.stdout), ("stderr", done.stderr))
        for line in text.splitlines()
        if find_leaks(line, [BUREAU_SECRET])
    ]
    assert leaks == []


def test_a_command_logs_only_warnings_and_errors_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BILLFOLD_LOG_LEVEL", raising=False)
    quiet = runner.invoke(
        app, ["db", "upgrade", "--database-url", f"sqlite:///{tmp_path / 'a.db'}"]
    )
    assert quiet.exit_code == 0 and quiet.stderr == ""
    loud = runner.invoke(
        app, ["-vv", "db", "upgrade", "--database-url", f"sqlite:///{tmp_path / 'b.db'}"]
    )
    assert loud.exit_code == 0
    lines = [json.loads(line) for line in loud.stderr.splitlines()]
    # alembic talks at INFO on every schema check: heard from only when debugging, routed
    assert any(line["logger"] == "alembic.runtime.migration" for line in lines)
    assert {line["level"] for line in lines} <= {"debug", "info"}
