"""``billfold --help`` and a command group's ``--help`` start light: what they import is
counted in a fresh interpreter (modules, not time — timings are for benchmarks)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from billfold.adapters.cli.app import SUBAPPS
from billfold.adapters.cli.approvals import KIND_NAMES
from billfold.adapters.cli.qr import DEFAULT_GUID

PROBE = """
import contextlib, io, json, sys
sys.argv = ["billfold", *sys.argv[1:]]
from billfold.adapters.cli.entry import main
with contextlib.redirect_stdout(io.StringIO()) as shown:
    try:
        main()
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "help": shown.getvalue(), "modules": sorted(sys.modules)}))
"""

#: What a command imports when it runs, never to print help.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "psycopg",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "openpyxl",
    "qrcode",
    "PIL",
    "cryptography",
    "procrastinate",
    "billfold.engine",
    "billfold.adapters.db",
    "billfold.adapters.http",
)


def imported(*args: str) -> tuple[dict[str, object], list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    return result, result["modules"]


def heavy_in(modules: list[str]) -> list[str]:
    return [h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules)]


def test_billfold_help_lists_every_group_and_imports_no_database_http_xlsx_or_qr() -> None:
    result, modules = imported("--help")
    assert result["code"] == 0
    for sub in SUBAPPS:
        assert sub.name in str(result["help"])
    assert heavy_in(modules) == []
    assert "structlog" not in modules  # logging is configured for commands that run
    ours = [m for m in modules if m.startswith("billfold")]
    assert not [m for m in ours if m.startswith("billfold.adapters.cli.") and m not in {
        "billfold.adapters.cli.app", "billfold.adapters.cli.bills",
        "billfold.adapters.cli.common", "billfold.adapters.cli.entry",
        "billfold.adapters.cli.listing", "billfold.adapters.cli.output",
        "billfold.adapters.cli.show",
    }]  # fmt: skip  # no command group's module
    assert len(ours) <= 40, ours


@pytest.mark.parametrize(
    "group",
    [
        "bills", "billers", "db", "channel", "statement", "outbox", "qr", "reconcile",
        "settle", "export", "campus", "utility", "gov", "presale", "refunds", "orders",
        "payments", "suspense", "audit", "approvals", "complaints", "journal", "autodebit",
        "users",
    ],
)  # fmt: skip
def test_a_groups_help_imports_no_database_http_xlsx_or_qr(group: str) -> None:
    result, modules = imported(group, "--help")
    assert result["code"] == 0
    assert heavy_in(modules) == []


def test_the_root_help_of_each_group_is_the_groups_own() -> None:
    for sub in SUBAPPS:
        assert importlib.import_module(sub.module).app.info.help == sub.help, sub.name


def test_the_copies_kept_for_help_match_their_source() -> None:
    from billfold.channels import qr
    from billfold.maker_checker import KINDS

    assert tuple(sorted(KINDS)) == KIND_NAMES
    assert DEFAULT_GUID == qr.DEFAULT_GUID
