"""``billfold serve``: run the HTTP API under uvicorn; ``billfold serve keys …``: API keys."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Annotated

import typer

from billfold.adapters.cli.common import DbUrl, fail
from billfold.adapters.cli.keys import app as keys_app
from billfold.errors import BillfoldError
from billfold.extras import require_installed

if TYPE_CHECKING:
    from billfold.adapters.http.server import ServerOptions

# without the server extra ``billfold serve`` says so in one line; FastAPI, uvicorn and the
# engine themselves are imported when the server starts, not to print the help
require_installed("server", "argon2", "fastapi", "python_multipart", "uvicorn")

__all__ = ["BANK_APP_MARKERS_ENV", "app", "bank_app_markers_from_env", "build_app"]

#: Set by ``billfold serve --workers N`` (N > 1): the supervisor's pid, which each worker
#: watches so that it exits when the supervisor dies.
SUPERVISOR_ENV = "BILLFOLD_SERVE_SUPERVISOR"
#: prometheus-client's directory for the counters of several processes (multiprocess mode).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: The banks' own apps' User-Agent tokens, comma-separated (``--bank-app-marker``).
BANK_APP_MARKERS_ENV = "BILLFOLD_BANK_APP_MARKERS"

app = typer.Typer(help="The HTTP API (FastAPI + uvicorn) and its API keys.")
app.add_typer(keys_app, name="keys")


def bank_app_markers_from_env() -> tuple[str, ...]:
    """The markers in ``BILLFOLD_BANK_APP_MARKERS`` (comma-separated; blanks ignored)."""
    text = os.environ.get(BANK_APP_MARKERS_ENV, "")
    return tuple(part.strip() for part in text.split(",") if part.strip())


def build_app() -> object:
    """uvicorn's factory (each worker builds its own engine from BILLFOLD_DATABASE_URL and
    its bank-app markers from BILLFOLD_BANK_APP_MARKERS)."""
    from billfold.adapters.db.connect import database_url_from_env
    from billfold.adapters.http import cashier_sandbox, channel_wiring
    from billfold.adapters.http.app import create_app
    from billfold.adapters.http.server import exit_with_parent
    from billfold.clock import SystemClock
    from billfold.engine import Engine
    from billfold.logging import configure_logging

    configure_logging()  # a spawned worker does not run the CLI's callback
    supervisor = os.environ.get(SUPERVISOR_ENV, "")
    if supervisor.isdigit() and int(supervisor) != os.getpid():
        exit_with_parent(int(supervisor))  # never outlive the supervisor (kill -9 of it)
    markers = bank_app_markers_from_env()
    engine = Engine.from_url(database_url_from_env(None), clock=SystemClock())
    if os.environ.get(cashier_sandbox.ENV_VAR) == "1":
        return cashier_sandbox.sandbox_app(engine, bank_app_markers=markers)
    spec = os.environ.get(channel_wiring.ENV_VAR)
    channels = channel_wiring.load_factory(spec)(engine) if spec else None
    # one bucket per key in the database, whatever the number of workers
    return create_app(engine, channels, shared_rate_limit=True, bank_app_markers=markers)


def _marker_refusal(markers: list[str], source: str) -> str | None:
    """Why the bank-app markers from ``source`` cannot be used, or ``None``."""
    from billfold.channels.wallet_routing import WalletRouter

    for marker in markers:
        if "," in marker:
            return f"{source} {marker!r}: a marker cannot contain a comma"
    try:
        WalletRouter(markers)
    except BillfoldError as exc:
        return f"{source}: {exc.message}"
    return None


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (more than 1 needs PostgreSQL)")
    ] = 1,
    http: Annotated[
        str, typer.Option(help="HTTP parser: auto (httptools when installed), httptools, h11")
    ] = "auto",
    loop: Annotated[
        str, typer.Option(help="Event loop: auto (uvloop when installed), uvloop, asyncio")
    ] = "auto",
    channels: Annotated[
        str | None,
        typer.Option(
            help="MODULE:FUNCTION or file.py:FUNCTION returning the channels, by name, "
            "whose notifications /v1/notify/{channel} receives (called with the engine)"
        ),
    ] = None,
    sandbox: Annotated[
        bool,
        typer.Option(
            help="Sandbox channels for the configured billers and the payer pages' sandbox "
            "pay button (one worker; for demos and tests, never with real money)"
        ),
    ] = False,
    bank_app_marker: Annotated[
        list[str] | None,
        typer.Option(
            "--bank-app-marker",
            help="A User-Agent token of a bank's own app (repeatable; 3+ characters): the "
            "payer pages opened in that app pay through mobile banking when the biller takes "
            f"it (default: {BANK_APP_MARKERS_ENV}, comma-separated)",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses "
            "or networks; default: FORWARDED_ALLOW_IPS or 127.0.0.1); nobody else's is"
        ),
    ] = None,
    database_url: DbUrl = None,
    upgrade: Annotated[bool, typer.Option(help="Run the migrations before serving")] = True,
) -> None:
    """Serve the API (httptools and uvloop when installed; TCP_NODELAY on every connection)."""
    if ctx.invoked_subcommand is not None:
        return
    from billfold.adapters.db.connect import database_url_from_env
    from billfold.adapters.http import cashier_sandbox, channel_wiring
    from billfold.adapters.http.server import (
        HTTP_CHOICES,
        LOOP_CHOICES,
        ServerOptions,
        multi_process_refusal,
    )
    from billfold.engine import Engine

    url = database_url_from_env(database_url)
    refusal = multi_process_refusal(url, workers)
    if refusal:
        fail(refusal)
    if sandbox and (workers > 1 or channels):
        fail("--sandbox plays every channel in one process: drop --workers and --channels")
    if http not in HTTP_CHOICES:
        fail(f"--http {http!r}: choose from {', '.join(HTTP_CHOICES)}")
    if loop not in LOOP_CHOICES:
        fail(f"--loop {loop!r}: choose from {', '.join(LOOP_CHOICES)}")
    markers = list(bank_app_marker or [])
    refusal = (
        _marker_refusal(markers, "--bank-app-marker")
        if markers
        else _marker_refusal(list(bank_app_markers_from_env()), BANK_APP_MARKERS_ENV)
    )
    if refusal:
        fail(refusal)
    options = ServerOptions(host, port, workers, http, loop, forwarded_allow_ips)
    try:
        options.protocol(), options.loop_name()
        if channels:
            channel_wiring.load_factory(channels)  # a bad name fails here, not in each worker
    except (RuntimeError, BillfoldError) as exc:
        fail(str(exc.message if isinstance(exc, BillfoldError) else exc))
    os.environ["BILLFOLD_DATABASE_URL"] = url
    os.environ[cashier_sandbox.ENV_VAR] = "1" if sandbox else ""
    if channels:
        os.environ[channel_wiring.ENV_VAR] = channels
    if markers:
        os.environ[BANK_APP_MARKERS_ENV] = ",".join(m.strip() for m in markers)
    if upgrade:  # before the readiness check that open_engine does: this is what makes it ready
        Engine.from_url(url, upgrade=True).close()
    _run(options)


def _run(options: ServerOptions) -> None:
    """Run the server; with several workers, each watches this process and the workers'
    counters meet in one metrics directory (made here unless PROMETHEUS_MULTIPROC_DIR is set,
    and removed afterwards)."""
    from billfold.adapters.http.server import run as run_server

    made = None
    if options.workers > 1:
        os.environ[SUPERVISOR_ENV] = str(os.getpid())
        if not os.environ.get(METRICS_DIR_ENV):
            made = tempfile.mkdtemp(prefix="billfold-metrics-")
            os.environ[METRICS_DIR_ENV] = made
    typer.echo(f"billfold serve: listening on {options.address()} ({options.describe()})")
    try:
        run_server("billfold.adapters.cli.serve:build_app", options)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
