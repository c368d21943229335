"""Optional parts of billfold and the one way to say that one is missing.

``pip install billfold`` installs the engine alone. The HTTP server, the PostgreSQL driver,
QR rendering, XLSX exports and the command line are extras (``pip install 'billfold[qr]'``).
Code that needs an extra imports it lazily, at the point of use, inside
:func:`requires_extra`; a missing library then raises :class:`MissingExtra`, a
:class:`~billfold.errors.BillfoldError` whose one-line message names the extra to install,
instead of an ``ImportError`` traceback::

    with requires_extra("qr"):
        import qrcode
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec

from billfold.errors import ConfigurationError

__all__ = ["EXTRAS", "MissingExtra", "require_installed", "requires_extra"]

#: Each extra and the top-level modules it brings (what an import of it may miss).
EXTRAS: dict[str, frozenset[str]] = {
    "server": frozenset(
        {
            "fastapi",
            "starlette",
            "uvicorn",
            "multipart",
            "python_multipart",
            "argon2",
            "prometheus_client",
            "fastapi_offline",
            "jinja2",
            "markupsafe",
        }
    ),
    "postgres": frozenset({"psycopg"}),
    "qr": frozenset({"qrcode", "PIL"}),
    "pdf": frozenset({"fpdf", "fontTools", "qrcode", "PIL"}),
    "xlsx": frozenset({"openpyxl", "et_xmlfile"}),
    "fast": frozenset({"polars"}),
    "cli": frozenset({"typer", "rich", "click"}),
    "worker": frozenset({"procrastinate", "croniter", "asgiref"}),
}
EXTRAS["all"] = frozenset().union(*EXTRAS.values())


class MissingExtra(ConfigurationError):
    """An optional library is not installed; the message says which extra brings it."""

    code = "missing_extra"

    def __init__(self, extra: str) -> None:
        super().__init__(f"this needs the '{extra}' extra: pip install 'billfold[{extra}]'")
        self.extra = extra


@contextmanager
def requires_extra(extra: str) -> Iterator[None]:
    """Turn a failed import of one of ``extra``'s modules into :class:`MissingExtra`.

    Any other import error (a module of billfold itself, a library of another extra) passes
    through unchanged, so a real bug is not disguised as a missing extra.
    """
    modules = EXTRAS[extra]
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in modules:
            raise MissingExtra(extra) from None
        raise


def require_installed(extra: str, *modules: str) -> None:
    """Raise :class:`MissingExtra` unless each of ``modules`` (top-level names of ``extra``'s
    libraries) is installed: a look-up, not an import, so a command can say that its extra
    is missing without paying for importing it."""
    with requires_extra(extra):
        for name in modules:
            if find_spec(name) is None:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
