"""Logging in and out of the console.

The login form carries its own CSRF token: a random nonce in a cookie of its own and, in the
form, the nonce's HMAC — a page of another site can neither read the cookie nor make the
token. A login makes a new session (the one the browser presented ends: no fixation).
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Form, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from billfold.adapters.http.console.guard import (
    CSRF_FIELD,
    CSRF_REFUSED,
    User,
    pages,
    public,
    session_token,
    set_session_cookie,
    sign,
)
from billfold.adapters.http.console.sessions import Refused, end, login
from billfold.adapters.http.console.web import PREFIX, Refusal, console_state, render

__all__ = ["router", "session_router"]

LOGIN_COOKIE = "bf_console_login"
STATIC = Path(__file__).parent / "static"
REFUSED = "用户名或密码不正确。连续多次错误后账户将被锁定一段时间。"

router = public()
session_router = pages()


def _login_token(request: Request, nonce: str) -> str:
    return sign(console_state(request).key, f"login|{nonce}")


def _login_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(16)
    page = render(
        request, None, "login.html", status=status, error=error,
        login_csrf=_login_token(request, nonce),
    )  # fmt: skip
    page.set_cookie(
        LOGIN_COOKIE, nonce, path=PREFIX, httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return page


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(_login_token(request, nonce), csrf_token):
        raise Refusal(403, CSRF_REFUSED)
    state = console_state(request)
    outcome = await run_in_threadpool(
        login, state.engine, state.rules, username, password, replacing=session_token(request)
    )
    if isinstance(outcome, Refused):
        return _login_page(request, error=REFUSED, status=401)
    token, _ = outcome
    answer = RedirectResponse(f"{PREFIX}/", status_code=303)
    set_session_cookie(request, answer, token)
    answer.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return answer


@session_router.post("/logout")
def logout(request: Request, user: User) -> Response:
    token = session_token(request)
    if token:
        end(console_state(request).engine, token, user)
    answer = RedirectResponse(f"{PREFIX}/login", status_code=303)
    set_session_cookie(request, answer, None)
    return answer


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The console's own style sheet (nothing from elsewhere)."""
    path = STATIC / name
    if name not in {p.name for p in STATIC.iterdir()}:
        raise Refusal(404, "文件不存在")
    answer = FileResponse(path, media_type="text/css" if name.endswith(".css") else None)
    answer.headers["Cache-Control"] = "public, max-age=3600"
    return answer
