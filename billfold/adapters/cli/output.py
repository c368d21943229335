"""The command line's consoles, made on first use: rich is imported when a command prints,
not when ``billfold --help`` starts. ``out`` (stdout) and ``err`` (stderr) are the plain ones;
a group with its own settings makes its own with :func:`console`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["console", "err", "out"]


class _Console:
    """A rich ``Console`` created with its settings when first used (its attributes are the
    console's)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self._settings = settings
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._settings)
        return getattr(self._console, name)


def console(**settings: Any) -> Any:
    """A console made on first use with rich's ``Console(**settings)``."""
    return _Console(settings)


out: Any = console()
err: Any = console(stderr=True)
