"""The console's web machinery: every page's security headers, its error pages, rendering a
template with the navigation of the user's roles, and redirects that carry a flash message.

Every route of the console uses :class:`ConsoleRoute`: whatever a page answers — a page, a
redirect, a refusal, an engine error — goes out with the strict Content-Security-Policy (no
inline script, nothing from elsewhere, forms posting only here, never in a frame), and an
error is shown as a Chinese page, not as the API's problem+json.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape

from billfold.adapters.http.problems import status_for
from billfold.clock import DEFAULT_TZ, Clock, ensure_utc
from billfold.engine import Engine
from billfold.errors import BillfoldError
from billfold.labels import label
from billfold.merchants.roles import Role
from billfold.money import format_yuan

if TYPE_CHECKING:
    from billfold.adapters.http.console.sessions import ConsoleUser, SessionRules

__all__ = [
    "CSP",
    "PREFIX",
    "ConsoleRoute",
    "ConsoleState",
    "LoginNeeded",
    "NavItem",
    "Refusal",
    "add_nav",
    "console_state",
    "done",
    "render",
    "when",
]

PREFIX = "/console"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
TEMPLATES = Path(__file__).parent / "templates"
KEY_ENV = "BILLFOLD_CONSOLE_KEY"


@dataclass
class ConsoleState:
    engine: Engine
    clock: Clock
    rules: SessionRules
    key: bytes  # signs the session cookie and the login form's token
    templates: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.templates = _environment()


def console_key(engine: Engine) -> bytes:
    """``BILLFOLD_CONSOLE_KEY`` (the same on every process serving one database), else a key
    derived from the engine's cursor key."""
    configured = os.environ.get(KEY_ENV)
    if configured:
        return configured.encode()
    return hashlib.sha256(b"billfold-console|" + engine.cursor_key).digest()


def console_state(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


class Refusal(Exception):
    """A page that cannot be shown or an action that cannot be done: an error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LoginNeeded(Exception):
    """No live session: the browser goes to the login page."""


@dataclass(frozen=True, slots=True)
class NavItem:
    """An entry of the navigation bar, shown to users holding one of ``roles`` (any user
    when empty); ``order`` places it."""

    title: str
    href: str
    roles: frozenset[Role] = frozenset()
    order: int = 50


NAV: list[NavItem] = []


def add_nav(title: str, href: str, *roles: Role, order: int = 50) -> None:
    """Put a page in the navigation bar of the users holding one of ``roles``."""
    NAV[:] = [n for n in NAV if n.href != href] + [NavItem(title, href, frozenset(roles), order)]
    NAV.sort(key=lambda n: (n.order, n.href))


def when(value: Any, tz: str = DEFAULT_TZ) -> str:
    from zoneinfo import ZoneInfo

    if value is None:
        return ""
    return ensure_utc(value).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(label=label, yuan=format_yuan, prefix=PREFIX, when=when)
    env.filters.update(yuan=format_yuan, when=when)
    return env


def render(
    request: Request,
    user: ConsoleUser | None,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """``template`` with the page's frame: the user, their navigation, a flash message."""
    state = console_state(request)
    nav = [n for n in NAV if user is not None and (not n.roles or user.has(*n.roles))]
    page = state.templates.get_template(template).render(
        request=request, user=user, nav=nav, path=request.url.path,
        flash=user.flash if user is not None else None,
        csrf=user.csrf_token if user is not None else "",
        role_names="、".join(label("role", r) for r in Role if user and r in user.roles),
        **context,
    )  # fmt: skip
    return HTMLResponse(page, status_code=status)


def done(request: Request, user: ConsoleUser, where: str, message: str) -> RedirectResponse:
    """After an action: a message for the next page, and the browser sent there (303)."""
    from billfold.adapters.http.console.sessions import set_flash

    set_flash(console_state(request).engine, user, message)
    return RedirectResponse(where, status_code=303)


def url(path: str, **params: str | None) -> str:
    """A console URL with its query (``None`` values left out)."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{PREFIX}{path}" + (f"?{query}" if query else "")


def _error_page(request: Request, status: int, message: str) -> Response:
    user = getattr(request.state, "console_user", None)
    return render(request, user, "error.html", status=status, message=message, code=status)


def _invalid(exc: RequestValidationError) -> str:
    fields = []
    for error in exc.errors():
        where = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        fields.append(f"{'.'.join(where) or '表单'}（{error.get('msg', '')}）")
    return "表单有误：" + "；".join(fields)


class ConsoleRoute(APIRoute):
    """A console route: its answers carry the security headers, its errors are pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginNeeded:
                response = RedirectResponse(f"{PREFIX}/login", status_code=303)
            except Refusal as exc:
                response = _error_page(request, exc.status, exc.message)
            except RequestValidationError as exc:
                response = _error_page(request, 400, _invalid(exc))
            except BillfoldError as exc:
                response = _error_page(request, status_for(exc), f"操作未完成：{exc.message}")
            for name, value in HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handle
