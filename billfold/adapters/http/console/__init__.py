"""The back office's web console at ``/console``: server-rendered pages (Jinja2), in
Chinese, under a strict Content-Security-Policy, for back-office users who log in.

Every module of this package that has a ``router`` (built with :func:`guard.pages` or
:func:`guard.public`) is mounted by :func:`mount` — a new page is a new module, nothing
else to wire. ``docs/console.md`` shows how to write one.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter, FastAPI

from billfold.adapters.http.console.guard import User, pages
from billfold.adapters.http.console.sessions import SessionRules
from billfold.adapters.http.console.web import ConsoleState, Refusal, console_key
from billfold.clock import Clock
from billfold.engine import Engine

__all__ = ["SessionRules", "mount"]


def mount(app: FastAPI, engine: Engine, clock: Clock, rules: SessionRules | None = None) -> None:
    """Serve the console on ``app``."""
    app.state.console = ConsoleState(engine, clock, rules or SessionRules(), console_key(engine))
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name in ("router", "session_router"):
            router = getattr(module, name, None)
            if isinstance(router, APIRouter):
                app.include_router(router)
    app.include_router(_unknown())  # last: any other /console path is a page saying so


def _unknown() -> APIRouter:
    router = pages()

    @router.get("/{rest:path}")
    def unknown(rest: str, user: User) -> None:
        raise Refusal(404, "没有这个页面")

    return router
