"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers, orchestrators and Prometheus.

No API key, no rate limit, and not in the OpenAPI document (they are the operator's, not
the API's: docs/operations.md describes them).

* ``GET /healthz`` — the process answers: 200 ``{"status": "ok"}``, touching nothing.
* ``GET /readyz`` — 200 when this process can serve: the database answers, its schema is at
  this billfold's newest migration and, where ``billfold worker`` reports heartbeats, the
  newest is recent; otherwise 503 with the failing check's name. The details (which may
  name the database) go to the log, not to the unauthenticated caller. Only Alembic's
  version table and the heartbeats are read, never a money table.
* ``GET /metrics`` — Prometheus' text format (:mod:`.metrics`).
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from billfold.adapters.db.readiness import unready_reason, worker_heartbeat_age
from billfold.adapters.http.auth import api_state
from billfold.adapters.http.metrics import render_metrics

__all__ = ["DEFAULT_WORKER_MAX_AGE", "router"]

router = APIRouter(include_in_schema=False)
log = structlog.get_logger("billfold.http")

#: A worker heartbeat older than this (seconds) makes /readyz answer 503.
DEFAULT_WORKER_MAX_AGE = 120.0


@router.get("/healthz")
def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


def _checks(request: Request) -> dict[str, str]:
    db = api_state(request).engine.db
    max_age: float = getattr(request.app.state, "worker_max_age", DEFAULT_WORKER_MAX_AGE)
    try:
        reason = unready_reason(db, db.url.render_as_string(hide_password=True))
    except SQLAlchemyError as exc:
        log.warning("not ready: database unreachable", error=type(exc).__name__, detail=str(exc))
        return {"database": "unreachable"}
    if reason is not None:
        log.warning("not ready: migrations", detail=reason)
        return {"database": "ok", "migrations": "not_at_head"}
    checks = {"database": "ok", "migrations": "ok"}
    try:
        beat = worker_heartbeat_age(db, api_state(request).clock.now())
        age = None if beat is None else beat.total_seconds()
    except SQLAlchemyError as exc:
        log.warning("not ready: worker heartbeats", error=type(exc).__name__, detail=str(exc))
        return {**checks, "worker": "unknown"}
    if age is None:
        checks["worker"] = "none"
    elif age > max_age:
        log.warning("not ready: worker heartbeat stale", age_seconds=round(age, 1))
        checks["worker"] = "stale"
    else:
        checks["worker"] = "ok"
    return checks


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    checks = _checks(request)
    bad = [name for name, state in checks.items() if state not in ("ok", "none")]
    if bad or "migrations" not in checks:
        return JSONResponse({"status": "unready", "checks": checks}, status_code=503)
    return JSONResponse({"status": "ready", "checks": checks})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    state = api_state(request)
    body = render_metrics(state.engine, state.clock)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
