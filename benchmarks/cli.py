"""Command-line start benchmark: how long ``billfold`` takes to start and answer, against
what Python, typer and SQLAlchemy alone take.

    python benchmarks/cli.py [--repeat 7] [--backends sqlite,postgresql] [--pg-url URL]
                             [--smoke]

Each case is a fresh process, timed from its start to its end: wall (``perf_counter``) and
its CPU (user + system of the child, from ``os.wait4``). The cases run interleaved — every
case once, then every case again, ``--repeat`` times — so that drift and the load of other
work hit all of them alike; the median and the fastest run are printed. Before that, billfold's
modules are compiled to bytecode (``compileall``), as installing a wheel does and as the
yardsticks' libraries are: a warm-up run does not write it where ``PYTHONDONTWRITEBYTECODE``
is set, and an editable install would then compile every module it imports on every start
(about a seventh of a listing's time on the development machine).

Yardsticks (what billfold cannot be faster than):

* ``python -c pass`` — the interpreter;
* ``import typer`` — the command-line library;
* **floor** — a script importing typer and SQLAlchemy Core that creates an engine on the same
  URL, runs one ``SELECT`` on the billers table and prints the rows: the least a command that
  reads the database does.

billfold: ``billfold --help`` and a few heavy groups' ``--help``; and on each database (a
throwaway one, migrated, with one biller and one bill; PostgreSQL: ``CREATE DATABASE
cli_bench_<pid>_<rand>``, dropped at the end, when a URL is given) the commands that open it:
``billers list``, ``bills list``, ``payments list``, ``bills show``, ``db upgrade`` (already at
the newest revision: nothing to do).

Target (issue 16, printed, not enforced): ``billfold --help`` and any command's start at most
0.3 s. Each command's output is checked (the seeded biller and bill, the revision); a wrong
answer or a failing command exits 1.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import _shared

TARGET = 0.30
BILLER = "CLIBENCH"
BILL_NO = "CB-0001"
#: The cases a smoke run keeps (by the end of their names).
SMOKE = ("billfold --help", "floor (typer + Core SELECT)", "billers list", "bills show")

#: The least a command that reads the database does (argv: the database URL).
FLOOR = """
import sys
import typer
from sqlalchemy import create_engine, text
url = sys.argv[1]
if url.startswith(("postgresql://", "postgres://")):
    url = "postgresql+psycopg://" + url.split("://", 1)[1]
engine = create_engine(url)
with engine.connect() as conn:
    rows = conn.execute(text("SELECT code, name, kind, status, timezone FROM billers")).all()
for row in rows:
    typer.echo(" ".join(str(v) for v in row))
"""


@dataclass
class Case:
    name: str
    argv: list[str]
    expect: str  # a text the output must contain
    kind: str  # "yardstick" or "billfold"
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def compile_billfold() -> int:
    """Compile billfold's modules to bytecode; how many files it looked at."""
    spec = importlib.util.find_spec("billfold")
    if spec is None or spec.origin is None:
        raise SystemExit("billfold is not importable here")
    package = Path(spec.origin).parent
    if not compileall.compile_dir(package, quiet=1):
        raise SystemExit(f"compiling {package} failed")
    return sum(1 for _ in package.rglob("*.py"))


def billfold_command() -> list[str]:
    """The console script beside this interpreter (what a person runs), else the same entry
    point through ``python -c``."""
    script = Path(sys.executable).parent / "billfold"
    if script.exists():
        return [str(script)]
    found = shutil.which("billfold")
    if found:
        return [found]
    return [sys.executable, "-c", "from billfold.adapters.cli.entry import main; main()"]


def run_once(case: Case, env: dict[str, str]) -> None:
    start = time.perf_counter()
    child = subprocess.Popen(
        case.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=False
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    case.walls.append(wall)
    case.cpus.append(usage.ru_utime + usage.ru_stime)
    text = output.decode("utf-8", "replace")
    if child.returncode != 0:
        problem = f"exit {child.returncode}: {text.strip()[-300:]}"
    elif case.expect not in text:
        problem = f"{case.expect!r} not in its output: {text.strip()[-300:]}"
    else:
        return
    if problem not in case.problems:
        case.problems.append(problem)


def seed(url: str) -> None:
    """Migrate the database and store one biller and one bill (not timed)."""
    from datetime import date

    from billfold import Bill, Biller, BillerKind, BillItem, Engine, Payer, SystemClock
    from billfold.collection.payer import IdentifierKind

    engine = Engine.from_url(url, clock=SystemClock(), upgrade=True)
    try:
        engine.create_biller(Biller(code=BILLER, name="命令行测速", kind=BillerKind.UTILITY))
        payer = Payer(IdentifierKind.ACCOUNT_NO, "ACC-1", name="张三")
        items = [BillItem("water", "水费", 12_345)]
        bill = Bill(0, BILL_NO, 0, items, due_date=date(2026, 9, 30), period="2026-09")
        engine.add_bill(BILLER, payer, bill)
    finally:
        engine.close()


@contextmanager
def database(backend: str, tmp: Path, pg_url: str | None) -> Iterator[str]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'cli-bench.db'}"
        seed(url)
        yield url
        return
    from billfold.testing import scratch_pg_database

    with scratch_pg_database(str(pg_url), "cli_bench") as url:
        seed(url)
        yield url


def db_cases(backend: str, url: str, billfold: list[str]) -> list[Case]:
    at = ["--database-url", url]
    return [
        Case(f"{backend}: floor (typer + Core SELECT)", [sys.executable, "-c", FLOOR, url],
             BILLER, "yardstick"),
        Case(f"{backend}: billers list", [*billfold, "billers", "list", *at], BILLER, "billfold"),
        Case(f"{backend}: bills list", [*billfold, "bills", "list", *at], BILL_NO, "billfold"),
        Case(f"{backend}: payments list", [*billfold, "payments", "list", *at], "", "billfold"),
        Case(f"{backend}: bills show", [*billfold, "bills", "show", BILLER, BILL_NO, *at],
             BILL_NO, "billfold"),
        Case(f"{backend}: db upgrade (no-op)", [*billfold, "db", "upgrade", *at],
             "database at revision", "billfold"),
    ]  # fmt: skip


def base_cases(billfold: list[str]) -> list[Case]:
    return [
        Case("python -c pass", [sys.executable, "-c", "pass"], "", "yardstick"),
        Case("import typer", [sys.executable, "-c", "import typer"], "", "yardstick"),
        Case("billfold --help", [*billfold, "--help"], "Commands:", "billfold"),
        Case("billfold serve --help", [*billfold, "serve", "--help"], "Commands:", "billfold"),
        Case("billfold reconcile --help", [*billfold, "reconcile", "--help"], "Commands:",
             "billfold"),
        Case("billfold bills list --help", [*billfold, "bills", "list", "--help"], "Usage:",
             "billfold"),
    ]  # fmt: skip


def report(cases: Sequence[Case], repeat: int) -> None:
    print(f"{'case':<44}{'wall med':>9}{'min':>7}{'cpu med':>9}{'min':>7}  target")
    for case in cases:
        wall, cpu = statistics.median(case.walls), statistics.median(case.cpus)
        verdict = ""
        if case.kind == "billfold":
            wall_ok = "PASS" if wall <= TARGET else "BELOW"
            cpu_ok = "PASS" if cpu <= TARGET else "BELOW"
            verdict = f"<= {TARGET:.1f} s: wall {wall_ok}, cpu {cpu_ok}"
        print(
            f"{case.name:<44}{wall:>9.3f}{min(case.walls):>7.3f}"
            f"{cpu:>9.3f}{min(case.cpus):>7.3f}  {verdict}"
        )
    floors = {c.name.split(":")[0]: c for c in cases if "floor" in c.name}
    for backend, floor in floors.items():
        ours = [c for c in cases if c.name.startswith(f"{backend}:") and c is not floor]
        base = statistics.median(floor.cpus)
        ratios = ", ".join(
            f"{c.name.split(': ', 1)[1]} x{statistics.median(c.cpus) / base:.2f}" for c in ours
        )
        print(f"{backend}: CPU / the floor's: {ratios}")
    print(f"(seconds; median and fastest of {repeat} runs, each a fresh process)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=_shared.count, default=7)
    parser.add_argument("--backends", type=_shared.backends, default="sqlite,postgresql")
    parser.add_argument("--pg-url")
    parser.add_argument(
        "--smoke", action="store_true", help="four cases once, no warm-up: seconds, for CI"
    )
    args = parser.parse_args(argv)
    repeat = 1 if args.smoke else args.repeat
    pg_url = _shared.pg_url(args.pg_url)
    billfold = billfold_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLFOLD_")}
    env["BILLFOLD_LOG_FORMAT"] = "json"  # the same renderer whether or not stderr is a terminal
    with (
        tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp_name,
        contextlib.ExitStack() as stack,
    ):
        cases = base_cases(billfold)
        for backend in args.backends:
            if backend == "postgresql" and not pg_url:
                print("postgresql: skipped (set BILLFOLD_BENCH_PG_URL or pass --pg-url)")
                continue
            url = stack.enter_context(database(backend, Path(tmp_name), pg_url))
            cases.extend(db_cases(backend, url, billfold))
        if args.smoke:  # the help, the floor and two commands, once, without warming up
            cases = [c for c in cases if c.name.endswith(SMOKE)]
        else:
            print(f"billfold: {compile_billfold()} modules compiled to bytecode first")
            for case in cases:  # warm up: the file system's cache
                run_once(case, env)
                case.walls.clear()
                case.cpus.clear()
        for _ in range(repeat):
            for case in cases:
                run_once(case, env)
        print(f"machine: {os.cpu_count()} CPUs; load average {_shared.load()} (1, 5, 15 min)")
        print(f"billfold: {' '.join(billfold)}")
        report(cases, repeat)
    problems = [(c.name, p) for c in cases for p in c.problems]
    for name, problem in problems:
        print(f"PROBLEM: {name}: {problem}")
    if not problems:
        print("verified: every command answered, with the seeded biller, bill and revision")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
