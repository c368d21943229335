"""``billfold worker`` in single-machine mode (SQLite), run as an operator would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine
from billfold.adapters.cli.app import app
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.jobs import worker_heartbeats
from billfold.adapters.outbox import dispatcher as outbox
from billfold.testing.webhooks import RecordingReceiver

runner = CliRunner()
SECRET = "worker-webhook-secret-0123456789"
BILLFOLD = [sys.executable, "-c", "from billfold.adapters.cli.app import main; main()"]


def paid_school(engine: Engine, url: str) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", b"bill_no,payer_id,amount\nT1,2024001,10.00\n")
    order = engine.create_order("s1", ["T1"])
    engine.confirm("counter", "C1", order.order_no, 1000)
    outbox.add_endpoint(engine, "s1", url, SECRET, "*", actor="t")


def heartbeats(engine: Engine) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(worker_heartbeats)).scalar())


def wait_for(check: object, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_once_runs_each_duty_and_prints_what_each_did(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = Engine.from_url(url, upgrade=True)
    with RecordingReceiver() as receiver:
        paid_school(engine, receiver.url)
        result = runner.invoke(app, ["worker", "--once", "--database-url", url])
    assert result.exit_code == 0, result.stderr
    assert '"outbox": {"events_fanned_out": 2, "deliveries_created": 2, "delivered": 2' in (
        result.stdout
    )
    assert '"requery": {"skipped": "no channels (--channels or BILLFOLD_CHANNELS)"}' in (
        result.stdout
    )
    assert len(receiver.received) == 2
    assert heartbeats(engine) == 1
    engine.close()


def test_a_bad_config_exits_1_naming_the_setting_and_runs_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = Engine.from_url(url, upgrade=True)
    config = tmp_path / "worker.toml"
    config.write_text('[schedule]\nexpiry = "every 7m"\n')
    result = runner.invoke(app, ["worker", "--config", str(config), "--database-url", url])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: schedule.expiry: every 420 s does not divide a minute, an hour or a day "
        "evenly (1-30 s, 1-30 m, 1-24 h dividing 60 or 24)\n"
    )
    assert heartbeats(engine) == 0
    engine.close()


def test_sigterm_finishes_the_duty_in_hand_then_exits_0(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = Engine.from_url(url, upgrade=True)
    with RecordingReceiver(delay=1.0) as receiver:
        paid_school(engine, receiver.url)
        with open(tmp_path / "worker.log", "wb") as log:
            worker = subprocess.Popen(
                [*BILLFOLD, "worker", "--heartbeat", "1", "--database-url", url], stderr=log
            )
        try:
            assert wait_for(lambda: len(receiver.received) == 1)  # mid-delivery, 1 s to answer
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
    with engine.db.connect() as conn:
        deliveries = t.outbox_deliveries
        delivered = conn.execute(
            select(func.count()).where(deliveries.c.status == "delivered")
        ).scalar()
    # what was sent before the exit was answered and recorded: nothing left in flight
    assert delivered == len(receiver.received) >= 1
    assert heartbeats(engine) == 1
    engine.close()


PARENT = """
import subprocess, sys, time
child = subprocess.Popen(sys.argv[1:])
print(child.pid, flush=True)
time.sleep(600)
"""


def test_the_worker_exits_when_the_process_that_started_it_dies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = Engine.from_url(url, upgrade=True)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, *BILLFOLD, "worker", "--database-url", url],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert wait_for(lambda: heartbeats(engine) == 1)  # the worker is up
        parent.kill()
        parent.wait()
        assert wait_for(lambda: not _running(child))
    finally:
        if _running(child):
            os.kill(child, signal.SIGKILL)
        engine.close()


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by init, or lingers as 'Z')."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


HIDING = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
sys.argv = ["billfold", *sys.argv[2:]]
from billfold.adapters.cli.entry import main
main()
"""


def test_single_machine_mode_needs_neither_procrastinate_nor_the_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    Engine.from_url(url, upgrade=True).close()
    hidden = "procrastinate,fastapi,uvicorn,starlette"
    done = subprocess.run(
        [sys.executable, "-c", HIDING, hidden, "worker", "--once", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"expiry": {"expired": 0}' in done.stdout
