"""The ``billfold`` script without an extra: one line naming it on stderr, exit 2, and the
commands that do not need it keep working. Each run is a fresh interpreter in which the
extra's libraries are hidden (``sys.modules[name] = None``: what a missing install looks like
to ``import``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUN_HIDING = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
sys.argv = ["billfold", *sys.argv[2:]]
from billfold.adapters.cli.entry import main
main()
"""


def billfold(hidden: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN_HIDING, hidden, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_serve_without_the_server_extra_names_it_in_one_line(tmp_path: Path) -> None:
    for args in (["serve", "--port", "8123"], ["serve", "keys", "list"]):
        done = billfold("fastapi,uvicorn,starlette", *args, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr == (
            "billfold: this needs the 'server' extra: pip install 'billfold[server]'\n"
        )
        assert done.stdout == ""


def test_without_typer_the_script_names_the_cli_extra(tmp_path: Path) -> None:
    done = billfold("typer,rich,click", "--help", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "billfold: this needs the 'cli' extra: pip install 'billfold[cli]'\n"


def test_the_demo_asks_for_the_all_extra_before_doing_anything(tmp_path: Path) -> None:
    done = billfold("qrcode,PIL", "demo", "--database-url", "sqlite:///d.db", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "billfold: this needs the 'all' extra: pip install 'billfold[all]'\n"
    assert list(tmp_path.iterdir()) == []  # no database, no out/ directory


def test_commands_without_the_server_extra_still_work(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    hidden = "fastapi,uvicorn,starlette"
    done = billfold(hidden, "db", "upgrade", "--database-url", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done = billfold(hidden, "billers", "create", "s1", "一中", "--kind", "school",
                    "--database-url", url, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "created biller s1" in done.stdout
    done = billfold(hidden, "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "serve" in done.stdout and "server" in done.stdout  # listed, saying what it needs
