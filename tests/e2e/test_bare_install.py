"""``pip install billfold`` with no extras gives a working engine.

A fresh virtual environment gets billfold from this repository (a real, non-editable install,
so the packaged migrations are what runs) and nothing else; the embedding guide's examples
(docs/embedding.md, as written, on SQLite in memory) then run in it. None of the extras'
libraries is there, the guide did not need them, and what does need one says which.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTRAS_MODULES = ["fastapi", "uvicorn", "qrcode", "PIL", "openpyxl", "typer", "rich", "psycopg"]

CHECK = """
import importlib.util, json, re, sys
from pathlib import Path

extras = sys.argv[1].split(",")
installed = [m for m in extras if importlib.util.find_spec(m) is not None]
text = Path(sys.argv[2]).read_text(encoding="utf-8")
blocks = re.findall(r"```python\\n(.*?)```", text, flags=re.S)
namespace = {}
for number, block in enumerate(blocks, start=1):
    block = block.replace('"sqlite:///embedded.db"', '"sqlite://"')
    exec(compile(block, f"embedding.md block {number}", "exec"), namespace)

import billfold
from billfold.errors import BillfoldError
from billfold.extras import MissingExtra

refusals = {}
def refused(name, action):
    try:
        action()
    except MissingExtra as exc:
        refusals[name] = exc.message

from billfold.channels.qr_render import render_png
from billfold.adapters.db.connect import make_engine
refused("qr", lambda: render_png("000201"))
refused("server", lambda: __import__("billfold.adapters.http"))
refused("postgres", lambda: make_engine("postgresql://nobody@127.0.0.1:1/none"))
print(json.dumps({
    "billfold": billfold.__file__,
    "blocks": len(blocks),
    "installed": installed,
    "imported": sorted({m.split(".")[0] for m in sys.modules} & set(extras)),
    "books": namespace["engine"].check_books(),
    "refusals": refusals,
}))
"""


def _copy_source(into: Path) -> Path:
    """The files a build reads, so that building does not write into the repository."""
    source = into / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "billfold", source / "billfold", ignore=shutil.ignore_patterns("__pycache__")
    )
    return source


@pytest.mark.slow
def test_the_bare_core_install_runs_the_embedding_guide_without_any_extra(
    tmp_path: Path,
) -> None:
    guide = (ROOT / "docs" / "embedding.md").read_text(encoding="utf-8")
    assert guide.count('"sqlite:///embedded.db"') == 1  # the one URL swapped for memory below
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         str(_copy_source(tmp_path))],
        capture_output=True, text=True, env=env, timeout=240, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]

    run = subprocess.run(
        [python, "-I", "-c", CHECK, ",".join(EXTRAS_MODULES), ROOT / "docs" / "embedding.md"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["billfold"].startswith(str(venv)), report["billfold"]  # not the repository
    assert report["blocks"] >= 5
    assert report["installed"] == [] and report["imported"] == []
    assert report["books"] == []
    assert report["refusals"] == {
        extra: f"this needs the '{extra}' extra: pip install 'billfold[{extra}]'"
        for extra in ("qr", "server", "postgres")
    }

    script = subprocess.run(
        [venv / "bin" / "billfold", "--help"], capture_output=True, text=True, env=env,
        timeout=60, check=False,
    )  # fmt: skip
    assert (script.returncode, script.stdout) == (2, "")
    assert script.stderr == "billfold: this needs the 'cli' extra: pip install 'billfold[cli]'\n"
