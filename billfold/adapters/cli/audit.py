"""``billfold audit list``: who did what, when and why (filters: actor, action, target)."""

from __future__ import annotations

import typer

from billfold.adapters.cli.listing import add_list_command

__all__ = ["app"]

app = typer.Typer(help="The audit log: who did what, when and why.", no_args_is_help=True)

add_list_command(app, "audit", "List audit entries, newest first.")
