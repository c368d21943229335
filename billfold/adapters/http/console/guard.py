"""Who is asking, and may they: the dependencies every console page uses.

* ``pages()`` — the router a page module builds its routes on. Each of its routes needs a
  live session (otherwise the browser goes to the login page), and each POST must carry the
  session's CSRF token in the form field ``csrf_token`` (otherwise 403, nothing done). This
  is checked before anything else the route asks for.
* ``role(Role.X, …)`` — the logged-in user, holding one of the roles (403 page otherwise);
  ``everywhere=True`` also needs a back-office user (every biller).
* ``visible_biller(request, user, code)`` / ``BillerInPath`` — a biller the user may see;
  another biller's code answers 404, exactly like one that does not exist.
* ``Reason`` — a required form field ``reason`` (why, for the audit log).

The session cookie holds a random token and its HMAC (``token.signature``): HttpOnly,
SameSite=Strict, Secure over https, limited to ``/console``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from billfold.adapters.http.console.sessions import ConsoleUser, resume
from billfold.adapters.http.console.web import (
    PREFIX,
    ConsoleRoute,
    LoginNeeded,
    Refusal,
    console_state,
)
from billfold.errors import NotFound
from billfold.labels import label
from billfold.merchants.biller import Biller
from billfold.merchants.roles import Role

__all__ = [
    "COOKIE",
    "BillerInPath",
    "Reason",
    "User",
    "current_user",
    "pages",
    "public",
    "role",
    "session_token",
    "set_session_cookie",
    "sign",
    "visible_biller",
]

COOKIE = "bf_console"
CSRF_FIELD = "csrf_token"
CSRF_REFUSED = "表单已失效或来源不明（校验码缺失或不符），未做任何更改；请刷新页面后重试"


def sign(key: bytes, value: str) -> str:
    mac = hmac.new(key, value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def session_token(request: Request) -> str | None:
    """The session token of the request's cookie, if its signature holds."""
    cookie = request.cookies.get(COOKIE, "")
    token, _, signature = cookie.rpartition(".")
    if not token or not hmac.compare_digest(sign(console_state(request).key, token), signature):
        return None
    return token


def set_session_cookie(request: Request, response: Response, token: str | None) -> None:
    """Give the browser the session's cookie (``None``: take it away)."""
    secure = request.url.scheme == "https"
    if token is None:
        response.delete_cookie(COOKIE, path=PREFIX, secure=secure, httponly=True, samesite="strict")
        return
    value = f"{token}.{sign(console_state(request).key, token)}"
    response.set_cookie(COOKIE, value, path=PREFIX, secure=secure, httponly=True, samesite="strict")


def _current(request: Request) -> ConsoleUser:
    cached: ConsoleUser | None = getattr(request.state, "console_user", None)
    if cached is not None:
        return cached
    token = session_token(request)
    state = console_state(request)
    user = resume(state.engine, state.rules, token) if token else None
    if user is None:
        raise LoginNeeded()
    request.state.console_user = user
    return user


async def _guard(request: Request) -> None:
    """Every page: a live session; every POST: the session's CSRF token."""
    user = await run_in_threadpool(_current, request)
    if request.method in ("GET", "HEAD"):
        return
    sent = (await request.form()).get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, user.csrf_token):
        raise Refusal(403, CSRF_REFUSED)


def current_user(request: Request) -> ConsoleUser:
    """The logged-in user (any role)."""
    return _current(request)


User = Annotated[ConsoleUser, Depends(current_user)]


def pages() -> APIRouter:
    """The router for console pages: session and CSRF checked on every route."""
    return APIRouter(
        prefix=PREFIX,
        route_class=ConsoleRoute,
        include_in_schema=False,
        dependencies=[Depends(_guard)],
    )


def public() -> APIRouter:
    """The router for what needs no session (the login page, the style sheet)."""
    return APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


def role(*roles: Role, everywhere: bool = False) -> Any:
    """A dependency: the user holds one of ``roles`` (and, with ``everywhere``, sees every
    biller); otherwise a 403 page naming what is needed."""
    needed = "或".join(label("role", r) for r in roles)

    def check(request: Request) -> ConsoleUser:
        user = _current(request)
        if not user.has(*roles):
            raise Refusal(403, f"此操作需要{needed}角色，您的账户没有")
        if everywhere and not user.back_office:
            raise Refusal(403, "此页面只对后台用户（可见全部商户）开放")
        return user

    check.__name__ = f"console_{'_'.join(r.value for r in roles) or 'any'}"
    return Depends(check)


def visible_biller(request: Request, user: ConsoleUser, code: str) -> Biller:
    """The biller ``code`` if the user may see it; 404 otherwise (as if it did not exist)."""
    try:
        biller = console_state(request).engine.biller(code)
    except NotFound:
        biller = None
    if biller is None or not user.sees(biller.id):
        raise Refusal(404, f"商户 {code} 不存在")
    return biller


def _biller_in_path(
    request: Request, user: User, code: Annotated[str, Path(max_length=32)]
) -> Biller:
    return visible_biller(request, user, code)


BillerInPath = Annotated[Biller, Depends(_biller_in_path)]


def _reason(reason: Annotated[str, Form(max_length=500)] = "") -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise Refusal(400, "请填写原因（将记入审计日志），未做任何更改")
    return cleaned


Reason = Annotated[str, Depends(_reason)]
