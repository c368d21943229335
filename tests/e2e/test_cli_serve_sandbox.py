"""``billfold serve --sandbox`` plays every channel in one process, so it refuses to share
the work with more workers or with an operator's own channels."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from billfold.adapters.cli.app import app

runner = CliRunner()
REFUSAL = "--sandbox plays every channel in one process: drop --workers and --channels"


def test_the_sandbox_refuses_more_workers(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # refused before any connection
    result = runner.invoke(app, ["serve", "--sandbox", "--workers", "2", "--database-url", url])
    assert result.exit_code == 1
    assert REFUSAL in result.stderr


def test_the_sandbox_refuses_other_channels(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    args = ["serve", "--sandbox", "--channels", "x.y:z", "--database-url", url]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert REFUSAL in result.stderr
    assert not (tmp_path / "b.db").exists()  # nothing was set up
