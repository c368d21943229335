"""``billfold worker``: run every background duty (docs/jobs.md).

On PostgreSQL the duties are procrastinate tasks and any number of workers, on any number
of machines, share them (scale-out mode; needs the ``worker`` extra). On SQLite — or with
``--single-machine`` — one process runs them on a simple schedule loop (single-machine
mode). ``--once`` runs each scheduled duty once and exits, in either mode.

SIGTERM or SIGINT finishes the duty in hand, then exits 0; so does the death of the
process that started the worker (unless ``--no-exit-with-parent``). Bad configuration
prints ``error: <message>`` on stderr and exits 1.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from billfold.adapters.cli.common import DbUrl, connect, fail, stop_on_signals
from billfold.errors import BillfoldError
from billfold.extras import requires_extra

if TYPE_CHECKING:  # the engine, the duties and their HTTP clients load when the worker runs
    from billfold.adapters.outbox.reminders.message import ReminderSender
    from billfold.engine import Engine
    from billfold.jobs.config import WorkerConfig
    from billfold.jobs.duties import Duties, Ports

__all__ = ["app"]

app = typer.Typer(help="Run the background duties: outbox, expiry, requery, auto-debit, ...")


@app.callback(invoke_without_command=True)
def worker(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Schedules and settings, TOML or JSON (docs/jobs.md)"),
    ] = None,
    channels: Annotated[
        str | None,
        typer.Option(
            help="MODULE:FUNCTION or file.py:FUNCTION giving the channels for requery and "
            "refunds (default: BILLFOLD_CHANNELS; none: those duties are skipped)"
        ),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Each duty once, then exit")] = False,
    single_machine: Annotated[
        bool,
        typer.Option("--single-machine", help="The one-process loop, even on PostgreSQL"),
    ] = False,
    heartbeat: Annotated[
        float, typer.Option(min=0.5, max=300, help="Seconds between heartbeats")
    ] = 10.0,
    stalled_after: Annotated[
        float,
        typer.Option(
            min=1,
            max=3600,
            help="A worker silent this long is gone; its job is run again (scale-out mode)",
        ),
    ] = 30.0,
    name: Annotated[str | None, typer.Option(help="Worker name (default: host:pid)")] = None,
    install_schema: Annotated[
        bool,
        typer.Option(
            "--install-schema",
            help="Create procrastinate's tables in a PostgreSQL "
            "database migrated without the 'worker' extra, then exit",
        ),
    ] = False,
    exit_with_parent_: Annotated[
        bool,
        typer.Option(
            "--exit-with-parent/--no-exit-with-parent",
            help="Stop when the process that started this one dies",
        ),
    ] = True,
    database_url: DbUrl = None,
) -> None:
    """Run the background duties until SIGTERM (the duty in hand finishes first)."""
    from billfold.adapters.db.connect import database_url_from_env
    from billfold.adapters.jobs.heartbeat import Heartbeat, worker_name
    from billfold.adapters.jobs.lifecycle import exit_with_parent
    from billfold.jobs.config import load_config
    from billfold.jobs.duties import Duties
    from billfold.jobs.loop import run_all_once

    if exit_with_parent_:  # first: a parent that dies while this one starts counts too
        exit_with_parent(_terminate_self)
    try:
        settings = load_config(config)
    except BillfoldError as exc:
        fail(exc.message)
    url = database_url_from_env(database_url)
    engine = connect(url)
    if install_schema:
        _install_schema(engine)
        return
    scale_out = engine.db.dialect.name == "postgresql" and not single_machine and not once
    stop = threading.Event()
    label = name or worker_name()
    try:
        if scale_out:  # refused before any beat: a worker that cannot run never looks alive
            with requires_extra("worker"):
                from billfold.adapters.jobs import queue
            queue.check_schema(engine.db)
        with ExitStack() as stack:
            ports = _ports(engine, settings, channels, stack)
            duties = Duties(engine, settings, ports, stop)
            mode = "procrastinate" if scale_out else "single-machine"
            stack.enter_context(Heartbeat(engine, label, mode, heartbeat))
            if once:
                typer.echo(json.dumps(run_all_once(duties), ensure_ascii=False, default=str))
            elif scale_out:
                _scale_out(duties, url, stop, label, heartbeat, stalled_after)
            else:
                _single_machine(duties, stop)
    except BillfoldError as exc:
        fail(exc.message)
    finally:
        engine.close()


def _ports(engine: Engine, config: WorkerConfig, spec: str | None, stack: ExitStack) -> Ports:
    from billfold.adapters.outbox.bureau_push import HttpxBureauTransport
    from billfold.adapters.outbox.transport import HttpxTransport
    from billfold.jobs.duties import Ports
    from billfold.testing.sandbox.autodebit import SandboxBank
    from billfold.testing.sandbox.gateway import SandboxGateway

    source = spec or os.environ.get("BILLFOLD_CHANNELS")
    found = {}
    if source:
        # the loader `billfold serve --channels` uses; it lives in the server's package
        with requires_extra("server"):
            from billfold.adapters.http.channel_wiring import load_factory
        found = dict(load_factory(source)(engine))
    webhooks = stack.enter_context(HttpxTransport(config.get("outbox.timeout")))
    bureau = stack.enter_context(HttpxBureauTransport(config.get("bureau.timeout")))
    # like `billfold autodebit run`: this build has no real bank connector
    bank = SandboxBank(SandboxGateway(engine.clock))
    reminders = _reminder_senders(engine, config, stack)
    return Ports(webhooks=webhooks, bank=bank, channels=found, bureau=bureau, reminders=reminders)


def _reminder_senders(
    engine: Engine, config: WorkerConfig, stack: ExitStack
) -> dict[str, ReminderSender]:
    """SMS and WeChat senders: the providers' sandbox unless ``reminders.mode = "live"``."""
    from billfold.adapters.outbox.reminders.aliyun_sms import AliyunSms
    from billfold.adapters.outbox.reminders.message import HttpxPoster
    from billfold.adapters.outbox.reminders.wechat_subscribe import StableTokens, WechatSubscribe
    from billfold.channels.secrets import EnvSecrets
    from billfold.testing.sandbox.reminders import sandbox_senders

    if config.get("reminders.mode") != "live":
        return sandbox_senders(engine.clock)[0]
    http = stack.enter_context(HttpxPoster(config.get("reminders.timeout")))
    secrets = EnvSecrets()
    return {
        "sms": AliyunSms(http, secrets, engine.clock),
        "wechat": WechatSubscribe(http, StableTokens(http, secrets, engine.clock)),
    }


def _install_schema(engine: Engine) -> None:
    try:
        if engine.db.dialect.name != "postgresql":
            fail("--install-schema: procrastinate runs on PostgreSQL; SQLite needs nothing")
        with requires_extra("worker"):
            from billfold.adapters.jobs.schema import apply_schema

            with engine.db.begin() as conn:
                made = apply_schema(conn)
    except BillfoldError as exc:
        fail(exc.message)
    finally:
        engine.close()
    typer.echo("procrastinate's tables created" if made else "procrastinate's tables exist")


def _terminate_self() -> None:
    """The parent died: stop as SIGTERM stops the worker (the duty in hand finishes)."""
    os.kill(os.getpid(), signal.SIGTERM)


def _single_machine(duties: Duties, stop: threading.Event) -> None:
    from billfold.jobs.loop import run_loop

    with stop_on_signals(stop):
        run_loop(duties)


def _scale_out(
    duties: Duties,
    url: str,
    stop: threading.Event,
    label: str,
    heartbeat: float,
    stalled_after: float,
) -> None:
    from billfold.adapters.jobs import queue  # available: checked before start-up

    job_app = queue.build_app(duties, url, stalled_after=stalled_after)
    queue.run_worker(job_app, stop, name=label, heartbeat=heartbeat, stalled_after=stalled_after)
