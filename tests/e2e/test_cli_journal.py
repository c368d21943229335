"""``billfold journal seal | verify | export``, and the standalone script of docs/journal.md
run (as a biller would, in a fresh interpreter) against an export and a received seal."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine, FixedClock
from billfold.adapters.cli.app import app
from billfold.adapters.db import schema as t

runner = CliRunner()
DOC = Path(__file__).resolve().parents[2] / "docs" / "journal.md"
PAID = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def url(tmp_path: Path) -> str:
    address = f"sqlite:///{tmp_path / 'j.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--database-url", address]).exit_code == 0
    engine = Engine.from_url(address, clock=FixedClock(PAID))
    engine.create_biller(Biller(code="w1", name="自来水公司", kind=BillerKind.UTILITY))
    engine.import_bills("w1", b"bill_no,payer_id,amount\nW1,1001,88.00\nW2,1002,12.34\n")
    for n, bill in enumerate(("W1", "W2")):
        order = engine.create_order("w1", [bill])
        engine.confirm("wechat", f"WX{n}", order.order_no, order.total_fen)
    engine.close()
    return address


def _run(*args: str) -> tuple[int, str, str]:
    done = runner.invoke(app, list(args))
    return done.exit_code, done.stdout, done.stderr


def _script(tmp_path: Path) -> Path:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    path = tmp_path / "verify_journal.py"
    path.write_text(blocks[0], encoding="utf-8")
    return path


def _biller_verifies(script: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(script), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_seal_verify_and_export_then_the_biller_verifies_with_the_docs_script(
    url: str, tmp_path: Path
) -> None:
    code, out, _err = _run("journal", "seal", "--date", "2026-09-01", "--database-url", url)
    assert code == 0
    assert re.match(r"sealed w1 2026-09-01: 2 entries, chain at #2 [0-9a-f]{16}…, digest", out)
    code, again, _err = _run("journal", "seal", "--date", "2026-09-01", "--database-url", url)
    assert code == 0 and again.startswith("already sealed w1 2026-09-01: 2 entries")
    assert _run("journal", "verify", "--database-url", url) == (
        0,
        "OK: 2 chains, 2 entries and 1 seals verified\n",  # w1 and the (empty) system chain
        "",
    )
    export = tmp_path / "w1.jsonl"
    code, out, _err = _run(
        "journal", "export", "--biller", "w1", "--out", str(export), "--database-url", url
    )
    assert code == 0 and out == f"{export}: 2 entries and 1 seals of w1\n"

    # the seal as the biller's webhook received it: the journal.sealed event's body
    received = tmp_path / "sealed.json"
    with Engine.from_url(url).uow() as uow:
        body = uow.conn.execute(
            select(t.outbox_events.c.payload).where(
                t.outbox_events.c.event_type == "journal.sealed"
            )
        ).scalar_one()
    received.write_text(body, encoding="utf-8")
    assert json.loads(body)["data"]["biller"] == "w1"

    script = _script(tmp_path)
    ok = _biller_verifies(script, export, received)
    assert (ok.returncode, ok.stdout) == (0, "OK: 2 entries of w1, 2 seals\n"), ok.stderr

    lines = export.read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[2])
    entry["postings"][0]["amount_fen"] += 1  # the biller is shown one fen more
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join([*lines[:2], json.dumps(entry), *lines[3:]]) + "\n", "utf-8")
    bad = _biller_verifies(script, tampered)
    assert bad.returncode == 1
    assert (
        bad.stdout
        == f"FAIL: entry {entry['id']} (#2) altered: its content does not give its hash\n"
    )

    shortened = tmp_path / "shortened.jsonl"  # the last entry left out, the seal kept
    shortened.write_text("\n".join([lines[0], lines[1], lines[3]]) + "\n", "utf-8")
    cut = _biller_verifies(script, shortened, received)
    assert cut.returncode == 1 and cut.stdout.startswith(
        "FAIL: seal w1 2026-09-01: its entry_count is 2"
    )


def test_verify_names_a_raw_sql_tamper_and_exits_1(url: str) -> None:
    engine = Engine.from_url(url)
    with engine.db.begin() as conn:
        for name in conn.execute(
            text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'journal_postings'"
            )
        ).scalars():
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        conn.execute(text("UPDATE journal_postings SET amount_fen = 1 WHERE id = 1"))
        entry = conn.execute(text("SELECT entry_id FROM journal_postings WHERE id = 1")).scalar()
    engine.close()
    code, out, err = _run("journal", "verify", "--database-url", url)
    assert (code, out) == (1, "")
    assert err == f"error: w1 #1 (entry {entry}) altered: its content does not give its hash\n"


def test_bad_input_is_refused_by_name_and_changes_nothing(url: str, tmp_path: Path) -> None:
    def seals() -> int:
        with Engine.from_url(url).uow() as uow:
            return int(
                uow.conn.execute(select(func.count()).select_from(t.outbox_events)).scalar_one()
            )

    before = seals()
    assert _run("journal", "seal", "--date", "2026-13-01", "--database-url", url) == (
        1,
        "",
        "error: --date: '2026-13-01' is not a date like 2026-09-01\n",
    )
    assert _run("journal", "seal", "--biller", "nope", "--database-url", url) == (
        1,
        "",
        "error: biller 'nope' has no journal\n",
    )
    future = _run("journal", "seal", "--date", "2999-01-01", "--database-url", url)
    assert future[0] == 1 and future[2].startswith("error: date: 2999-01-01 is not over yet")
    assert _run("journal", "verify", "--from", "yesterday", "--database-url", url) == (
        1,
        "",
        "error: --from: 'yesterday' is not a date like 2026-09-01\n",
    )
    missing = tmp_path / "none.jsonl"
    code, _out, err = _run(
        "journal", "export", "--biller", "nope", "--out", str(missing), "--database-url", url
    )
    assert (code, err) == (1, "error: biller 'nope' has no journal\n")
    assert not missing.exists()
    assert seals() == before
