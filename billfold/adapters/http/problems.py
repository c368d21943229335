"""Errors as RFC 9457 problem details (``application/problem+json``) with a stable ``code``.

Every answer that is not a success goes through :func:`problem`: ``type`` is a URN built from
the code, ``instance`` the request's path, and ``request_id`` ties it to the logs.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from billfold.errors import (
    BillfoldError,
    BillsAlreadyPaid,
    ChannelError,
    ConfigurationError,
    Conflict,
    ImportFailed,
    InvalidInput,
    NotFound,
    SignatureInvalid,
)

__all__ = ["ApiProblem", "install_problem_handlers", "problem", "status_for"]

MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    502: "Channel error",
}
log = structlog.get_logger("billfold.http")


class ApiProblem(Exception):
    """An HTTP-level refusal (authentication, scope, limits) that is not a billfold error."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def status_for(exc: BillfoldError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, InvalidInput):
        return 422
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, SignatureInvalid):
        return 401
    if isinstance(exc, ChannelError):
        return 502
    if isinstance(exc, ConfigurationError):
        return 500
    return 400


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:billfold:problem:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
        "request_id": getattr(request.state, "request_id", None),
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(BillfoldError)
    async def _billfold(request: Request, exc: BillfoldError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(exc, ImportFailed):
            extra["errors"] = exc.errors
        if isinstance(exc, BillsAlreadyPaid):
            extra["bill_nos"] = exc.bill_nos
        return problem(request, status_for(exc), exc.code, exc.message, **extra)

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(request, exc.status, exc.code, exc.detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _field(e.get("loc", ())),
                "message": str(e.get("msg", "invalid")).removeprefix("Value error, "),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid input"
        return problem(request, 422, "invalid_input", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        headers = dict(exc.headers) if exc.headers else None
        return problem(request, exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem(request, 500, "internal_error", "something went wrong; see the logs")
