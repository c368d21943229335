"""``billfold suspense list``: money held for review (amount mismatch) or in suspense —
each with why, its latest refund's state and the actions left (credit after review,
refund, await or retry the refund)."""

from __future__ import annotations

import typer

from billfold.adapters.cli.listing import add_list_command

__all__ = ["app"]

app = typer.Typer(
    help="Suspense and held money: why it is there, its refund, what is left to do.",
    no_args_is_help=True,
)

add_list_command(app, "suspense", "List money held or in suspense, newest first.")
