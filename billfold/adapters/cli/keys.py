"""``billfold serve keys …``: API keys with their roles — create (the secret shown once),
list, rotate (the old secret lives on for a grace period), revoke; every change audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from billfold.adapters.cli.common import DbUrl, fail, open_engine
from billfold.merchants.roles import Role, format_roles, parse_roles

__all__ = ["app"]

app = typer.Typer(help="API keys: create (shown once), list, rotate, revoke.", no_args_is_help=True)

Actor = Annotated[str, typer.Option("--actor", help="Who does this, for the audit log.")]
Reason = Annotated[str, typer.Option("--reason", help="Why, for the audit log.")]
ROLES_HELP = ", ".join(r.value for r in Role)
#: ``billfold.adapters.http.keys.DEFAULT_GRACE`` in hours, copied so that the help does not
#: import the server (a test compares them).
DEFAULT_GRACE_HOURS = 24.0


@app.command("create")
def keys_create(
    biller: Annotated[str | None, typer.Argument(help="The biller's code")] = None,
    roles: Annotated[
        str | None, typer.Option("--roles", help=f"Comma-separated: {ROLES_HELP}")
    ] = None,
    scope: Annotated[
        str | None, typer.Option(help="read | write: the roles keys had before roles")
    ] = None,
    back_office: Annotated[bool, typer.Option(help="A key that sees every biller")] = False,
    label: Annotated[str, typer.Option(help="What the key is for")] = "",
    actor: Actor = "cli",
    reason: Reason = "",
    database_url: DbUrl = None,
) -> None:
    """Create a key and print its secret (shown this once only)."""
    if (biller is None) == (not back_office):
        fail("give a BILLER code, or --back-office for a key that sees every biller")
    if roles is not None and scope is not None:
        fail("give --roles or --scope, not both")
    from billfold.adapters.http.keys import Scope, create_key

    with open_engine(database_url) as engine:
        access = parse_roles(roles, field="--roles") if roles is not None else None
        wanted = access if access is not None else Scope.parse(scope or "read")
        created = create_key(engine, biller, wanted, label, actor=actor, reason=reason)
    who = created.key.biller_code or "back office"
    typer.echo(f"key {created.key.key_id} ({who}, {format_roles(created.key.roles)})")
    typer.echo(created.secret)
    typer.echo("store it now: the secret cannot be shown again", err=True)


@app.command("list")
def keys_list(
    biller: Annotated[str | None, typer.Option("--biller", help="Only this biller's")] = None,
    database_url: DbUrl = None,
) -> None:
    """List keys (never their secrets)."""
    from billfold.adapters.http.keys import list_keys

    with open_engine(database_url) as engine:
        for key in list_keys(engine, biller_code=biller):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            if key.previous_valid_until and not key.revoked_at:
                state = f"rotated, old until {key.previous_valid_until:%Y-%m-%d %H:%M}Z"
            who = key.biller_code or "back office"
            roles = format_roles(key.roles)
            typer.echo(f"{key.key_id}  {who:<16} {roles:<36} {state:<18} {key.label}")


@app.command("rotate")
def keys_rotate(
    key_id: str,
    grace_hours: Annotated[
        float,
        typer.Option(
            "--grace-hours",
            min=0,
            max=168,
            help="How long the old secret still works (0: not at all).",
        ),
    ] = DEFAULT_GRACE_HOURS,
    actor: Actor = "cli",
    reason: Reason = "",
    database_url: DbUrl = None,
) -> None:
    """Give a key a new secret (printed once); the old one works for --grace-hours more."""
    from billfold.adapters.http.keys import rotate_key

    with open_engine(database_url) as engine:
        grace = timedelta(hours=grace_hours)
        created = rotate_key(engine, key_id, grace=grace, actor=actor, reason=reason)
    until = created.key.previous_valid_until
    typer.echo(f"rotated key {key_id}")
    typer.echo(created.secret)
    ends = f"until {until:%Y-%m-%d %H:%M}Z" if until else "no longer"
    typer.echo(f"the old secret works {ends}; store the new one now", err=True)


@app.command("revoke")
def keys_revoke(
    key_id: str, actor: Actor = "cli", reason: Reason = "", database_url: DbUrl = None
) -> None:
    """Revoke a key; requests with it are refused at once."""
    from billfold.adapters.http.keys import revoke_key

    with open_engine(database_url) as engine:
        key = revoke_key(engine, key_id, actor=actor, reason=reason)
    typer.echo(f"revoked key {key.key_id}")
