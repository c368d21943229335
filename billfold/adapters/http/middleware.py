"""ASGI middleware: a request id on every request (logs and ``X-Request-ID``), one log line
per request, an unhandled error logged once — inside the request's context, so with its
request id and its exception as structured, masked fields — and answered 500 problem+json,
a limit on body size answered with 413 problem+json, and paths and query parameters with
control characters (NUL …) refused with 422 problem+json before any route sees them (bodies
are checked by the request models)."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billfold.text import first_control_character

__all__ = ["BodyLimit", "CleanText", "RequestContext"]

log = structlog.get_logger("billfold.http")
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: Probes and scrapes, asked every few seconds: logged only when they fail.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _problem_bytes(path: str, request_id: str, limit: int) -> bytes:
    body = {
        "type": "urn:billfold:problem:body_too_large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"the request body is larger than {limit} bytes",
        "instance": path,
        "code": "body_too_large",
        "request_id": request_id,
    }
    return json.dumps(body).encode()


async def _send_problem(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode()
    headers: list[Any] = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(raw)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def _unclean(scope: Scope) -> tuple[str, str] | None:
    """(field, character) of the first control character in the path or the query."""
    found = first_control_character(scope["path"])
    if found is not None:
        return "path", found
    query = scope.get("query_string", b"").decode("utf-8", "surrogateescape")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="surrogateescape"):
        found = first_control_character(name) or first_control_character(value)
        if found is not None:
            return f"query parameter {name[:40]!r}", found
    return None


class CleanText:
    """Refuses a path or query parameter holding a control character or invalid UTF-8:
    PostgreSQL would fail on a NUL (500) and SQLite would store it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (bad := _unclean(scope)) is None:
            await self.app(scope, receive, send)
            return
        field, found = bad
        message = f"contains a control character ({found}); not allowed"
        path = scope["path"].encode("utf-8", "backslashreplace").decode()
        body = {
            "type": "urn:billfold:problem:invalid_input",
            "title": "Invalid input",
            "status": 422,
            "detail": f"{field}: {message}",
            "instance": path,
            "code": "invalid_input",
            "request_id": scope.get("state", {}).get("request_id", ""),
            "errors": [{"field": field, "message": message}],
        }
        await _send_problem(send, 422, body)


_INTERNAL: dict[str, Any] = {
    "type": "urn:billfold:problem:internal_error",
    "title": "Internal server error",
    "status": 500,
    "detail": "something went wrong; see the logs",
    "code": "internal_error",
}


class RequestContext:
    """Takes the caller's ``X-Request-ID`` when it is sane, or makes one; binds it to
    structlog's context for everything logged while the request runs; echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _GOOD_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status, answered = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:  # logged here, within the request's context, and answered once
                log.exception("unhandled error", method=scope["method"], path=scope["path"])
                if not answered:
                    body = {**_INTERNAL, "instance": scope["path"], "request_id": request_id}
                    await _send_problem(send_with_id, 500, body)
            finally:
                if status >= 400 or scope["path"] not in QUIET_PATHS:
                    log.info(
                        "request",
                        method=scope["method"],
                        path=scope["path"],
                        status=status,
                        ms=round((time.perf_counter() - started) * 1000, 1),
                    )


class BodyLimit:
    """Refuses bodies over ``max_bytes``: at once when Content-Length says so, otherwise as
    soon as the streamed body passes the limit (before the endpoint sees any of it)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id", "")
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, send, request_id)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # FastAPI re-raises HTTP exceptions as they are
                    raise HTTPException(
                        413, f"the request body is larger than {self.max_bytes} bytes"
                    )
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, send: Send, request_id: str) -> None:
        body = _problem_bytes(scope["path"], request_id, self.max_bytes)
        await _send_problem(send, 413, json.loads(body))
