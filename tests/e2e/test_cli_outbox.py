"""``billfold outbox``, run as an operator would, delivering to a real HTTP receiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine
from billfold.adapters.cli.app import app
from billfold.adapters.outbox.dispatcher import verify_webhook
from billfold.testing.webhooks import RecordingReceiver

runner = CliRunner()
SECRET = "s1-webhook-secret-0123456789"
BILLFOLD = [sys.executable, "-c", "from billfold.adapters.cli.app import app; app()"]


def run(db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["outbox", *args, "--database-url", db_url])
    return result.exit_code, result.stdout, result.stderr


def _paid_bill(engine: Engine) -> None:
    """A biller whose counter payment has put payment.confirmed and bill.paid in the outbox."""
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", b"bill_no,payer_id,amount\nT1,2024001,10.00\n")
    order = engine.create_order("s1", ["T1"])
    engine.confirm("counter", "C1", order.order_no, 1000)


def test_endpoints_add_then_list_shows_it_but_never_the_secret(db_url: str, engine: Engine) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    url = "https://s1.example/hooks"
    code, out, err = run(db_url, "endpoints", "add", "s1", url, "--secret", SECRET)
    assert (code, err) == (0, "")
    assert out == f"endpoint 1 for s1: {url} (*)\n"
    code, out, _ = run(db_url, "endpoints", "add", "s1", url + "/b", "--events", "payment.*")
    assert code == 0 and "endpoint 2 for s1" in out
    generated = out.split("secret (shown only now; give it to the receiver): ")[1].strip()
    assert len(generated) >= 32

    code, out, _ = run(db_url, "endpoints", "list")
    assert code == 0
    assert out.splitlines() == [f"1\ts1\tactive\t*\t{url}", f"2\ts1\tactive\tpayment.*\t{url}/b"]
    assert SECRET not in out and generated not in out

    code, out, _ = run(db_url, "endpoints", "deactivate", "2", "--reason", "moved")
    assert (code, out) == (0, "endpoint 2 deactivated\n")
    assert run(db_url, "endpoints", "list", "--biller", "s1")[1].count("\n") == 1
    assert "2\ts1\tinactive" in run(db_url, "endpoints", "list", "--all")[1]


def test_endpoint_mistakes_exit_1_with_the_reason(db_url: str, engine: Engine) -> None:
    code, _, err = run(db_url, "endpoints", "add", "nope", "https://x.example/", "--secret", SECRET)
    assert (code, err) == (1, "error: biller 'nope' does not exist\n")
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    code, _, err = run(db_url, "endpoints", "add", "s1", "https://x.example/", "--secret", "pw")
    assert code == 1 and err.startswith("error: secret: must be 16 to 128 printable ASCII")
    code, _, err = run(db_url, "endpoints", "deactivate", "7")
    assert (code, err) == (1, "error: webhook endpoint 7 does not exist\n")
    assert run(db_url, "endpoints", "list")[1] == "no endpoints\n"


def test_run_once_delivers_signed_webhooks_to_the_receiver(db_url: str, engine: Engine) -> None:
    _paid_bill(engine)
    with RecordingReceiver() as receiver:
        assert run(db_url, "endpoints", "add", "s1", receiver.url, "--secret", SECRET)[0] == 0
        code, out, _ = run(db_url, "run", "--once")
        again = run(db_url, "run", "--once")[1]
    assert code == 0, out
    assert out.strip().endswith(
        "fanned out 2 events into 2 deliveries; delivered 2, retrying 0, dead 0"
    )
    assert again.strip().endswith("delivered 0, retrying 0, dead 0")
    types = []
    for got in receiver.received:
        verified = verify_webhook(SECRET, got.headers, got.body, datetime.now(UTC))
        assert got.header("X-Billfold-Event-Id") == verified.event_id
        types.append(verified.event_type)
    assert sorted(types) == ["bill.paid", "payment.confirmed"]


def test_dead_deliveries_are_listed_and_requeued(db_url: str, engine: Engine) -> None:
    _paid_bill(engine)
    with RecordingReceiver(status=500) as receiver:
        run(db_url, "endpoints", "add", "s1", receiver.url, "--events", "bill.*")
        code, out, _ = run(db_url, "run", "--once", "--max-attempts", "1")
        assert code == 0 and out.strip().endswith("delivered 0, retrying 0, dead 1")
        code, out, _ = run(db_url, "dead", "list")
        fields = out.strip().split("\t")
        assert code == 0
        assert fields[1:3] == ["s1", "bill.paid"]
        assert fields[4:] == ["endpoint 1", "1 attempts", "HTTP 500"]
        receiver.status = 200
        code, out, _ = run(db_url, "dead", "requeue", fields[0], "--reason", "fixed")
        assert code == 0 and f"delivery {fields[0]} (bill.paid {fields[3]}) requeued" in out
        code, out, _ = run(db_url, "run", "--once")
    assert out.strip().endswith("delivered 1, retrying 0, dead 0")
    assert [r.header("X-Billfold-Event-Id") for r in receiver.received] == [fields[3]] * 2
    assert run(db_url, "dead", "list")[1] == "no dead deliveries\n"
    code, _, err = run(db_url, "dead", "requeue", fields[0])
    assert code == 1 and "is delivered, not dead" in err


def test_run_keeps_delivering_until_sigterm_then_exits_cleanly(db_url: str, engine: Engine) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    with RecordingReceiver() as receiver:
        run(db_url, "endpoints", "add", "s1", receiver.url, "--secret", SECRET)
        process = subprocess.Popen(
            [*BILLFOLD, "outbox", "run", "--interval", "0.1", "--database-url", db_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "BILLFOLD_LOG_LEVEL": "WARNING"},
        )
        try:
            time.sleep(0.5)
            _paid_bill_events_only(engine)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(receiver.received) < 1:
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 0, err
    assert len(receiver.received) == 1
    assert out.strip().endswith("delivered 1, retrying 0, dead 0")


def _paid_bill_events_only(engine: Engine) -> None:
    with engine.uow() as uow:
        biller = uow.billers.get_by_code("s1")
        assert biller is not None
        uow.outbox.add("bill.paid", biller.id, {"bill_no": "T1"}, engine.clock.now())
        uow.commit()
