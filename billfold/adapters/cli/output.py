"""The command line's two consoles, ``out`` (stdout) and ``err`` (stderr), made on first use:
rich is imported when a command prints, not when ``billfold --help`` starts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["err", "out"]


class _Console:
    """A rich ``Console`` created when first used (its attributes are the console's)."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return getattr(self._console, name)


out: Any = _Console(stderr=False)
err: Any = _Console(stderr=True)
