"""``billfold users …``: back-office users — create, list, disable, roles, password. Every
change is audited with ``--actor`` and ``--reason``; a password is read from the terminal
(hidden, twice) or from stdin with ``--password-stdin``, never from the command line."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from billfold.adapters.cli.common import DbUrl, fail, open_engine
from billfold.merchants.roles import Role

if TYPE_CHECKING:  # the server extra's password hashing is imported when a command runs
    from billfold.adapters.http.users import BackofficeUser

__all__ = ["app"]

app = typer.Typer(help="Back-office users (the web console's logins) and their roles.")

Actor = Annotated[str, typer.Option("--actor", help="Who does this, for the audit log.")]
Reason = Annotated[str, typer.Option("--reason", help="Why, for the audit log.")]
ROLES = ", ".join(r.value for r in Role)


def _line(user: BackofficeUser) -> str:
    from billfold.merchants.roles import format_roles

    scope = user.biller_code or "全部商户"
    state = "启用" if user.active else f"停用 {user.disabled_at:%Y-%m-%d}"
    password = "已设密码" if user.has_password else "未设密码"
    roles = format_roles(user.roles)
    return f"{user.username:<16} {user.display_name:<12} {roles:<32} {scope:<10} {state} {password}"


@app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Login name: a-z, 0-9, '.', '_', '-'")],
    display_name: Annotated[str, typer.Argument(help="The person's name as shown")],
    roles: Annotated[str, typer.Option("--roles", help=f"Comma-separated: {ROLES}")],
    actor: Actor,
    reason: Reason,
    biller: Annotated[
        str | None, typer.Option("--biller", help="Only this biller (default: every biller)")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Create a user (then give a password with `billfold users password`)."""
    from billfold.adapters.http.users import create_user
    from billfold.merchants.roles import format_roles

    with open_engine(database_url) as engine:
        user = create_user(
            engine, username, display_name, roles, biller_code=biller, actor=actor, reason=reason
        )
    typer.echo(f"user {user.username} created ({format_roles(user.roles)})")


@app.command("list")
def users_list(
    include_disabled: Annotated[bool, typer.Option("--all", help="Disabled users too")] = False,
    database_url: DbUrl = None,
) -> None:
    """List users (never their password hashes)."""
    from billfold.adapters.http.users import list_users

    with open_engine(database_url) as engine:
        found = list_users(engine, include_disabled=include_disabled)
    if not found:
        typer.echo("没有用户")
    typer.echo(f"{'用户名':<13} {'姓名':<10} {'角色':<30} {'范围':<8} 状态")
    for user in found:
        typer.echo(_line(user))


@app.command("disable")
def users_disable(username: str, actor: Actor, reason: Reason, database_url: DbUrl = None) -> None:
    """Stop a user logging in (their history stays)."""
    from billfold.adapters.http.users import disable_user

    with open_engine(database_url) as engine:
        user = disable_user(engine, username, actor=actor, reason=reason)
    typer.echo(f"user {user.username} disabled")


@app.command("roles")
def users_roles(
    username: str,
    roles: Annotated[str, typer.Argument(help=f"Comma-separated: {ROLES}")],
    actor: Actor,
    reason: Reason,
    database_url: DbUrl = None,
) -> None:
    """Replace a user's roles."""
    from billfold.adapters.http.users import set_roles
    from billfold.merchants.roles import format_roles

    with open_engine(database_url) as engine:
        user = set_roles(engine, username, roles, actor=actor, reason=reason)
    typer.echo(f"user {user.username} now has {format_roles(user.roles)}")


@app.command("password")
def users_password(
    username: str,
    actor: Actor,
    reason: Reason,
    from_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    database_url: DbUrl = None,
) -> None:
    """Set a user's password (stored as an argon2id hash)."""
    from billfold.adapters.http.users import set_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        fail("password: empty")
    with open_engine(database_url) as engine:
        user = set_password(engine, username, password, actor=actor, reason=reason)
    typer.echo(f"password set for {user.username}")
