"""The command line refuses control characters in any option or argument before a command
runs (NUL fails on PostgreSQL and SQLite would store it), and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from billfold.adapters.cli.app import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["billers", "create", "s\x001", "学校", "--kind", "school"], "'s\\x001'"),
        (["billers", "create", "s1", "学\x07校", "--kind", "school"], "'学\\x07校'"),
    ],
)
def test_a_control_character_in_an_argument_is_refused_and_nothing_is_written(
    tmp_path: Path, args: list[str], shown: str
) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--database-url", url]).exit_code == 0
    result = runner.invoke(app, [*args, "--database-url", url])
    assert result.exit_code == 2
    assert f"argument {shown} contains a control character" in result.output
    listed = runner.invoke(app, ["billers", "list", "--database-url", url])
    assert listed.exit_code == 0 and "s1" not in listed.stdout
