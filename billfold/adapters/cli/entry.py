"""The ``billfold`` console script. It imports the command line only when called, so that an
install without the ``cli`` extra (typer, rich) answers with one line instead of a traceback."""

from __future__ import annotations

import sys

from billfold.extras import MissingExtra, requires_extra

__all__ = ["EXIT_MISSING_EXTRA", "main"]

#: The exit status when a command needs an extra that is not installed.
EXIT_MISSING_EXTRA = 2


def main() -> None:
    """Run the command line; a missing extra prints ``billfold: this needs the 'X' extra: …``
    on stderr and exits 2, whether it is the CLI's own (typer, rich) or a command's."""
    try:
        with requires_extra("cli"):
            from billfold.adapters.cli.app import app
        app()
    except MissingExtra as exc:
        sys.stderr.write(f"billfold: {exc.message}\n")
        raise SystemExit(EXIT_MISSING_EXTRA) from None
