"""``billfold serve``: run the HTTP API under uvicorn; ``billfold serve keys …``: API keys."""

from __future__ import annotations

import importlib.util
import os
from typing import Annotated

import typer

from billfold.adapters.cli_common import fail, open_engine
from billfold.adapters.db import database_url_from_env
from billfold.adapters.http.keys import Scope, create_key, list_keys, revoke_key
from billfold.errors import BillfoldError

__all__ = ["app", "build_app"]

app = typer.Typer(help="The HTTP API (FastAPI + uvicorn) and its API keys.")
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.")
app.add_typer(keys_app, name="keys")

DbUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Database URL (default: BILLFOLD_DATABASE_URL)"),
]


def build_app() -> object:
    """uvicorn's factory (each worker builds its own engine from BILLFOLD_DATABASE_URL)."""
    from billfold.adapters.http.app import create_app
    from billfold.clock import SystemClock
    from billfold.engine import Engine

    return create_app(Engine.from_url(database_url_from_env(None), clock=SystemClock()))


def _fast(module: str, fallback: str, wanted: str) -> str:
    return wanted if importlib.util.find_spec(module) is not None else fallback


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
    database_url: DbUrl = None,
    upgrade: Annotated[bool, typer.Option(help="Run the migrations before serving")] = True,
) -> None:
    """Serve the API (httptools and uvloop when installed)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    os.environ["BILLFOLD_DATABASE_URL"] = database_url_from_env(database_url)
    if upgrade:
        with open_engine(None) as engine:
            engine.upgrade()
    uvicorn.run(
        "billfold.adapters.cli_serve:build_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=_fast("httptools", "h11", "httptools"),
        loop=_fast("uvloop", "asyncio", "uvloop"),
        log_level="warning",
        access_log=False,  # billfold logs each request itself, with its request id
    )


@keys_app.command("create")
def keys_create(
    biller: Annotated[str | None, typer.Argument(help="The biller's code")] = None,
    scope: Annotated[str, typer.Option(help="read | write")] = "read",
    back_office: Annotated[bool, typer.Option(help="A key that sees every biller")] = False,
    label: Annotated[str, typer.Option(help="What the key is for")] = "",
    database_url: DbUrl = None,
) -> None:
    """Create a key and print its secret (shown this once only)."""
    if (biller is None) == (not back_office):
        fail("give a BILLER code, or --back-office for a key that sees every biller")
    with open_engine(database_url) as engine:
        created = create_key(engine, biller, Scope.parse(scope), label)
    who = created.key.biller_code or "back office"
    typer.echo(f"key {created.key.key_id} ({who}, {created.key.scope.value})")
    typer.echo(created.secret)
    typer.echo("store it now: the secret cannot be shown again", err=True)


@keys_app.command("list")
def keys_list(database_url: DbUrl = None) -> None:
    """List keys (never their secrets)."""
    with open_engine(database_url) as engine:
        for key in list_keys(engine):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            who = key.biller_code or "back office"
            typer.echo(f"{key.key_id}  {who:<16} {key.scope.value:<5} {state:<18} {key.label}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, database_url: DbUrl = None) -> None:
    """Revoke a key; requests with it are refused at once."""
    try:
        with open_engine(database_url) as engine:
            key = revoke_key(engine, key_id)
    except BillfoldError as exc:  # pragma: no cover - open_engine reports billfold errors
        fail(exc.message)
    typer.echo(f"revoked key {key.key_id}")
