"""What a payer reminder costs, against a webhook delivery measured in the same run.

    python benchmarks/reminders.py [--n 2000] [--backends sqlite,postgresql] [--pg-url URL]
    python benchmarks/reminders.py --smoke

One throwaway database per backend, migrated; a biller with ``n`` bills falling due in three
days and SMS reminder settings (not timed). Then, timed: one reminders pass — the due-soon
events written, fanned out into reminders, each SMS built, signed (HMAC-SHA1) and posted to
the sandbox provider, and recorded — and, on the same database in the same minutes, the
delivery of ``n`` webhook events to an in-memory receiver. Prints wall and CPU time per
item for each and their ratio (machine load hits both alike), and the machine's load.
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script, this folder comes first on sys.path and benchmarks/http.py would shadow the
# standard library's ``http`` (which httpx imports)
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from billfold import Biller, BillerKind, Engine  # noqa: E402
from billfold.adapters.outbox import dispatcher as outbox  # noqa: E402
from billfold.adapters.outbox.reminders import api  # noqa: E402
from billfold.clock import FixedClock  # noqa: E402
from billfold.collection.reminder import ReminderChannel, ReminderSettings  # noqa: E402
from billfold.logging import configure_logging  # noqa: E402
from billfold.testing import scratch_pg_database  # noqa: E402
from billfold.testing.sandbox.reminders import SandboxReminderApi, sandbox_senders  # noqa: E402
from billfold.testing.webhooks import FakeTransport  # noqa: E402

SECRET = "bench-sms-secret-0123456789"


@contextmanager
def _database(backend: str, pg_url: str | None) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'remind.db'}"
        return
    with scratch_pg_database(pg_url or "", "bench_remind") as url:
        yield url


def _set_up(engine: Engine, n: int) -> None:
    engine.create_biller(Biller(code="b1", name="基准中学", kind=BillerKind.SCHOOL))
    head = "bill_no,payer_id,amount,payer_phone,due_date\n"
    rows = "".join(f"B{i},P{i},4880.00,138{i:08d},2026-09-04\n" for i in range(n))
    engine.import_bills("b1", (head + rows).encode())
    settings = ReminderSettings(
        ReminderChannel.SMS,
        {"due_soon": "SMS_1"},
        sign_name="基准中学",
        quiet_start="00:00",
        quiet_end="00:00",
        credentials={"access_key_id": "LTAI", "access_key_secret_env": "BENCH_SMS"},
    )
    api.configure(engine, "b1", settings, actor="bench")
    outbox.add_endpoint(engine, "b1", "https://b1.example/hooks", SECRET, "*", actor="bench")


def _timed(job: object) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    job()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def run(backend: str, n: int, pg_url: str | None) -> tuple[float, float, float, float]:
    """Wall and CPU seconds per reminder, then per webhook delivery."""
    clock = FixedClock(datetime(2026, 9, 1, 2, 0, tzinfo=UTC))
    with _database(backend, pg_url) as url:
        engine = Engine.from_url(url, clock=clock, upgrade=True)
        try:
            _set_up(engine, n)
            outbox.run_once(engine, FakeTransport(), clock, batch=10 * n)  # the import: none
            box = SandboxReminderApi(sms_keys={"LTAI": SECRET})
            senders, _ = sandbox_senders(clock, {"BENCH_SMS": SECRET}, box)

            def remind() -> None:
                summary = api.run_reminders(engine, senders, batch=10 * n)
                if summary["sent"] != n:
                    raise SystemExit(f"{backend}: sent {summary['sent']} of {n} reminders")

            reminder = _timed(remind)
            fake = FakeTransport()
            with engine.uow() as uow:
                b1 = uow.billers.get_by_code("b1")
                for i in range(n):
                    uow.outbox.add("bench.event", b1.id if b1 else None, {"i": i}, clock.now())
                uow.commit()

            def deliver() -> None:
                stats = outbox.run_once(engine, fake, clock, batch=10 * n)
                if stats.delivered != 2 * n:  # the reminder events are delivered too
                    raise SystemExit(f"{backend}: delivered {stats.delivered} of {2 * n}")

            webhook = _timed(deliver)
        finally:
            engine.close()
    return reminder[0] / n, reminder[1] / n, webhook[0] / (2 * n), webhook[1] / (2 * n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("BILLFOLD_TEST_PG_URL"))
    parser.add_argument("--smoke", action="store_true", help="A tiny run (CI): n = 50.")
    args = parser.parse_args()
    n = 50 if args.smoke else args.n
    if n < 1:
        parser.error("--n must be at least 1")
    configure_logging(json=True, level="WARNING")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print("backend       n  remind_wall_ms  remind_cpu_ms  webhook_wall_ms  webhook_cpu_ms  ratio")
    for backend in args.backends.split(","):
        if backend == "postgresql" and not args.pg_url:
            print("postgresql: skipped (set BILLFOLD_TEST_PG_URL or pass --pg-url)")
            continue
        if backend not in ("sqlite", "postgresql"):
            parser.error(f"--backends: {backend!r} is not sqlite or postgresql")
        rw, rc, ww, wc = run(backend, n, args.pg_url)
        print(
            f"{backend:<10} {n:>4}  {rw * 1000:>14.3f}  {rc * 1000:>13.3f}  {ww * 1000:>15.3f}  "
            f"{wc * 1000:>14.3f}  {rw / ww:>5.2f}"
        )
    print("ratio: wall time of one reminder / one webhook delivery, same run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
