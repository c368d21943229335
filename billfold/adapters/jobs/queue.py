"""Scale-out mode: the duties as procrastinate tasks on billfold's PostgreSQL database.

Every duty with a periodic schedule becomes a task ``billfold.<duty>`` deferred by
procrastinate's periodic deferrer (cron in UTC, see :func:`billfold.jobs.schedule.cron`).
Each task has a *queueing lock* named after its duty, so however many workers tick, at
most one run of a duty waits in the queue; two may still run at once (one started, one
waiting picked up by another worker), which every duty is built for. A periodic tick is
deferred once per timestamp, across all workers (procrastinate's periodic defers table).

``billfold.settle`` is deferred by ``billfold.reconcile`` for each business date it
reconciled (when the settle schedule is ``after reconcile``), with a queueing lock per date.

``billfold.stalled`` (every 10 s) puts back the jobs of a worker that stopped beating
(killed -9, machine lost): procrastinate's own recipe for stalled jobs. A periodic duty's
next tick would do the work anyway; the job is retried so that nothing waits for it.

Jobs that succeed are deleted; failed ones stay in ``procrastinate_jobs`` for a look.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import structlog
from procrastinate import App, JobContext, PsycopgConnector
from procrastinate import exceptions as pq_errors
from procrastinate.jobs import Status
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from billfold.errors import ConfigurationError
from billfold.jobs.duties import Duties
from billfold.jobs.schedule import DUTIES, After, Daily, Every, cron

__all__ = ["build_app", "conninfo", "run_worker"]

log = structlog.get_logger("billfold.jobs")

STALLED_CRON = "* * * * * */10"


def conninfo(url: str) -> str:
    """libpq's form of a billfold database URL (``postgresql+psycopg://`` → ``postgresql://``)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def build_app(duties: Duties, url: str, *, stalled_after: float = 30.0) -> App:
    """A procrastinate app whose tasks call ``duties`` (see the module docs)."""
    app = App(connector=PsycopgConnector(conninfo=conninfo(url)))
    zone = duties.config.timezone
    now = datetime.now(UTC)
    settle_after = isinstance(duties.config.schedule("settle"), After)

    @app.task(name="billfold.settle_day")
    def settle_day(on: str) -> None:
        duties.run("settle", on=on)

    async def reconcile_then_settle(timestamp: int) -> None:
        summary = await asyncio.to_thread(duties.run, "reconcile")
        for day in summary.get("dates", []):
            lock = f"billfold.settle.{day}"
            with suppress(pq_errors.AlreadyEnqueued):  # a draft for that date already waits
                await settle_day.configure(queueing_lock=lock).defer_async(on=day)

    for duty in DUTIES:
        schedule = duties.config.schedule(duty)
        if not isinstance(schedule, Every | Daily):
            continue
        func: Callable[..., Any] = _periodic(duties, duty)
        if duty == "reconcile" and settle_after:
            func = reconcile_then_settle
        task = app.task(name=f"billfold.{duty}", queueing_lock=f"billfold.{duty}")(func)
        app.periodic(cron=cron(schedule, zone, now))(task)

    @app.periodic(cron=STALLED_CRON)
    @app.task(name="billfold.stalled", queueing_lock="billfold.stalled", pass_context=True)
    async def stalled(context: JobContext, timestamp: int) -> None:
        await _put_back_stalled(context.app, stalled_after)

    return app


def _periodic(duties: Duties, duty: str) -> Callable[..., None]:
    def run(timestamp: int) -> None:
        duties.run(duty)

    return run


async def _put_back_stalled(app: App, stalled_after: float) -> None:
    manager = app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        if job.id is None:
            continue
        try:
            await manager.retry_job(job)
            log.warning("jobs.stalled_retried", job=job.id, task=job.task_name)
        except pq_errors.ConnectorException:
            # its queueing lock is taken by a run already waiting: that run does the work
            await manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
            log.warning("jobs.stalled_dropped", job=job.id, task=job.task_name)


def check_schema(db: Any) -> None:
    """Refuse to start, saying what to do, when procrastinate's tables are missing."""
    if not inspect(db).has_table("procrastinate_jobs"):
        raise ConfigurationError(
            "procrastinate's tables are missing (the database was migrated without the "
            "'worker' extra): run `billfold worker --install-schema` once"
        )


def run_worker(
    app: App,
    stop: threading.Event,
    *,
    name: str,
    heartbeat: float,
    stalled_after: float,
) -> None:
    """Run procrastinate's worker until SIGTERM/SIGINT: the job in hand finishes, then it
    returns. One job at a time per worker process."""
    asyncio.run(_run(app, stop, name, heartbeat, stalled_after))


async def _run(
    app: App,
    stop: threading.Event,
    name: str,
    heartbeat: float,
    stalled_after: float,
) -> None:
    loop = asyncio.get_running_loop()
    async with app.open_async():
        worker = asyncio.create_task(
            app.run_worker_async(
                name=name,
                concurrency=1,
                install_signal_handlers=False,
                delete_jobs="successful",
                update_heartbeat_interval=heartbeat,
                stalled_worker_timeout=stalled_after,
                fetch_job_polling_interval=1.0,
            )
        )

        def request_stop() -> None:
            if not stop.is_set():
                log.info("jobs.stopping", worker=name)
            stop.set()
            worker.cancel()  # procrastinate then waits for the job in hand

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, request_stop)

        try:
            await worker
        except asyncio.CancelledError:
            if not stop.is_set():
                raise
