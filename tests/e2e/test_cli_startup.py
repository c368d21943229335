"""``billfold --help`` and every group's and command's ``--help`` start light: what they
import is counted in a fresh interpreter (modules, not time — timings are for benchmarks)."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
import typer

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

#: What a command imports when it runs, never to print help: the database layer, the
#: server, HTTP clients, XLSX, QR, PDF and Polars, structlog (configured for commands that
#: run), pydantic (typer converts a command's own options through it), rich (tables and
#: progress bars; help is click's plain layout, not typer's rich panels), and billfold's
#: engine, adapters, scenario packs and use cases.
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
    "fpdf",
    "polars",
    "cryptography",
    "procrastinate",
    "jinja2",
    "pydantic",
    "rich",
    "structlog",
    "billfold.engine",
    "billfold.adapters.db",
    "billfold.adapters.http",
    "billfold.adapters.jobs",
    "billfold.adapters.outbox",
    "billfold.packs.campus",
    "billfold.packs.government",
    "billfold.packs.presale",
    "billfold.packs.utility",
    "billfold.settlement.reconciler",
    "billfold.settlement.settler",
    "billfold.settlement.exports",
    "billfold.channels.autodebit",
)

#: Imports every ``--help`` of a list (fork after the console script's own import: each
#: child starts as ``billfold`` does and reports what it imported).
WALK_PROBE = """
import contextlib, io, json, os, sys
from billfold.adapters.cli.entry import main
found = {}
for path in json.loads(sys.stdin.read()):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        sys.argv = ["billfold", *path, "--help"]
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code
        with os.fdopen(write, "w") as pipe:
            json.dump({"code": code, "modules": sorted(sys.modules)}, pipe)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        found[" ".join(path)] = json.loads(pipe.read())
    os.waitpid(pid, 0)
print(json.dumps(found))
"""


def imported(*args: str) -> tuple[dict[str, object], list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    return result, result["modules"]


def probed(probe: str, paths: list[list[str]], timeout: float) -> dict[str, Any]:
    """What ``probe`` (:data:`WALK_PROBE` or a variant) found for each command path: its exit
    code and the modules it imported, by the path joined with spaces."""
    done = subprocess.run(
        [sys.executable, "-c", probe],
        input=json.dumps(paths),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def heavy_in(modules: list[str]) -> list[str]:
    return [h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules)]


def every_command_path() -> list[list[str]]:
    """Every group and command of the ``billfold`` app (hidden ones aside), from the app
    itself: a new group or command is walked without being listed here."""
    from billfold.adapters.cli.app import app

    root = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(group: Any, ctx: Any, path: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            found.append([*path, name])
            if hasattr(command, "list_commands"):
                walk(command, type(ctx)(command, parent=ctx, info_name=name), [*path, name])

    walk(root, typer.Context(root, info_name="billfold"), [])
    return found


def test_billfold_help_lists_every_group_and_imports_no_database_http_xlsx_or_qr() -> None:
    result, modules = imported("--help")
    assert result["code"] == 0
    shown = re.sub(r"-\s+", "-", " ".join(str(result["help"]).split()))  # wrapped at hyphens
    for sub in SUBAPPS:
        assert f"{sub.name} {' '.join(sub.help.split())}" in shown  # whole, not cut to "..."
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


def test_billfold_help_imports_typer_billfold_and_few_other_modules() -> None:
    """Counted against what ``import typer`` imports in the same interpreter: ``--help``
    adds billfold's light modules and at most a score of others (rich's help panels, say,
    would add over a hundred)."""
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys, typer; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    typer_modules = set(json.loads(done.stdout))
    result, modules = imported("--help")
    assert result["code"] == 0
    added = [m for m in modules if m not in typer_modules]
    others = [m for m in added if m != "billfold" and not m.startswith("billfold.")]
    assert len(others) <= 20, others
    assert "Commands:" in str(result["help"])  # click's plain layout, no panels


def test_a_groups_help_lists_its_list_commands_without_looking_their_filters_up() -> None:
    result, modules = imported("bills", "--help")
    assert "List and search bills, newest first." in str(result["help"])
    assert "billfold.collection.lists" not in modules  # the filters are for `bills list --help`


def test_a_command_on_a_migrated_database_reads_no_migration_script(db_url: str) -> None:
    """Whether the database is at billfold's newest revision is one query on every start:
    Alembic and its scripts are imported only when a migration runs or the answer is no."""
    result, modules = imported("billers", "list", "--database-url", db_url)
    assert result["code"] == 0 and "timezone" in str(result["help"])
    assert [m for m in modules if m.partition(".")[0] in {"alembic", "mako"}] == []


#: What a command that reads the database does not need: the server, HTTP clients, XLSX,
#: QR, PDF, Polars and cryptography; Alembic (the database is at the newest revision);
#: structlog (nothing is logged), pydantic (typer's conversion of values already plain);
#: billfold's use cases that change money, the bill importer, the settlement desks and
#: their statement parsers, the scenario packs and the other adapters.
NOT_FOR_READING = (
    "fastapi", "starlette", "uvicorn", "httpx", "openpyxl", "qrcode", "PIL", "fpdf",
    "polars", "cryptography", "procrastinate", "jinja2", "alembic", "mako", "structlog",
    "pydantic", "billfold.collection.importer", "billfold.collection.confirming",
    "billfold.collection.refunding", "billfold.collection.ordering",
    "billfold.settlement.parsers", "billfold.settlement.reconciler",
    "billfold.settlement.settler", "billfold.settlement.exports",
    "billfold.adapters.db.recon", "billfold.adapters.db.statement_ingest",
    "billfold.adapters.http", "billfold.adapters.jobs", "billfold.adapters.outbox",
    "billfold.packs", "billfold.adapters.db.schema.all_tables",
    # the domain enums only the other areas' CHECK constraints read
    "billfold.channels.pos_batch", "billfold.collection.mandate", "billfold.settlement.escrow",
    "billfold.settlement.banking", "billfold.settlement.run", "billfold.settlement.batch",
    "billfold.settlement.complaint", "billfold.settlement.discrepancy",
    "billfold.settlement.splits",
    # the core repositories these reads do not use (each is made on first use)
    "billfold.adapters.db.bills", "billfold.adapters.db.orders", "billfold.adapters.db.ledger",
    "billfold.adapters.db.journal_chain", "billfold.adapters.db.channels",
)  # fmt: skip

#: The schema's modules a command that reads the core tables builds: the shared base, the
#: core tables with their CHECKs and the journal's triggers; no desk's, scenario's or
#: console's tables, nor the journal chains' (only the journal's writes keep them).
CORE_SCHEMA = {
    "billfold.adapters.db.schema", "billfold.adapters.db.schema.base",
    "billfold.adapters.db.schema.checks", "billfold.adapters.db.schema.core",
    "billfold.adapters.db.schema.journal_guard",
}  # fmt: skip

#: Each command as ``billfold <command>`` runs it, after the console script's own import:
#: what it imported (a child forked per command, as WALK_PROBE).
RUN_PROBE = WALK_PROBE.replace(
    'sys.argv = ["billfold", *path, "--help"]', 'sys.argv = ["billfold", *path]'
)


def test_a_command_reading_the_database_imports_only_what_it_runs(db_url: str) -> None:
    assert RUN_PROBE != WALK_PROBE
    sqlite = db_url.startswith("sqlite")  # then PostgreSQL's dialect is not needed either
    at = ["--database-url", db_url]
    paths = [
        ["billers", "list", *at],
        ["payments", "list", *at],
        ["bills", "show", "nobody", "nothing", *at],
        ["db", "upgrade", *at],  # at the newest revision already: nothing to run
    ]
    found = probed(RUN_PROBE, paths, timeout=300)
    assert {path: r["code"] for path, r in found.items()} == {
        " ".join(paths[0]): 0, " ".join(paths[1]): 0, " ".join(paths[2]): 1,
        " ".join(paths[3]): 0,
    }  # fmt: skip  # the bill does not exist: exit 1, having read the database
    unneeded = [*NOT_FOR_READING, *(["sqlalchemy.dialects.postgresql"] if sqlite else [])]
    needless = {
        path: [n for n in unneeded if any(m == n or m.startswith(n + ".") for m in r["modules"])]
        for path, r in found.items()
    }
    assert needless == {path: [] for path in found}
    tables = {
        path: sorted(m for m in r["modules"] if m.startswith("billfold.adapters.db.schema"))
        for path, r in found.items()
    }
    assert {path: sorted(set(names) - CORE_SCHEMA) for path, names in tables.items()} == {
        path: [] for path in found
    }  # the other areas' tables are not built


def test_the_root_help_of_each_group_is_the_groups_own() -> None:
    for sub in SUBAPPS:
        assert importlib.import_module(sub.module).app.info.help == sub.help, sub.name


def test_the_copies_kept_for_help_match_their_source() -> None:
    from billfold.adapters.cli.keys import DEFAULT_GRACE_HOURS
    from billfold.adapters.http.keys import DEFAULT_GRACE
    from billfold.channels import qr
    from billfold.maker_checker import KINDS

    assert tuple(sorted(KINDS)) == KIND_NAMES
    assert DEFAULT_GUID == qr.DEFAULT_GUID
    assert DEFAULT_GRACE.total_seconds() / 3600 == DEFAULT_GRACE_HOURS


def test_the_walk_finds_every_group_and_their_commands() -> None:
    paths = {" ".join(p) for p in every_command_path()}
    assert {sub.name for sub in SUBAPPS} | {"db", "billers", "bills"} <= paths
    assert {"serve keys rotate", "refunds bank-transfer file", "outbox dead requeue"} <= paths
    assert "db upgrade" in paths and "worker" in paths


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the probe forks one child per command")
def test_every_groups_and_commands_help_imports_nothing_heavy() -> None:
    paths = every_command_path()
    found = probed(WALK_PROBE, paths, timeout=600)
    assert len(found) == len(paths)
    failed = {path: result["code"] for path, result in found.items() if result["code"] != 0}
    assert failed == {}
    heavy = {path: heavy_in(r["modules"]) for path, r in found.items() if heavy_in(r["modules"])}
    assert heavy == {}
    ours = {
        path: n
        for path, r in found.items()
        if (n := len([m for m in r["modules"] if m.startswith("billfold")])) > 40
    }
    assert ours == {}  # a group's help imports its module and light domain values only


def test_the_walk_probe_sees_a_heavy_import() -> None:
    """The check above can fail: a command that imports the engine is reported."""
    probe = WALK_PROBE.replace(" main()\n", " import billfold.engine; main()\n", 1)
    assert probe != WALK_PROBE
    result = probed(probe, [["db"]], timeout=120)["db"]
    assert "billfold.engine" in heavy_in(result["modules"])
