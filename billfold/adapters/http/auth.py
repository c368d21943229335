"""Authentication and tenancy as FastAPI dependencies.

``Authorization: Bearer bf_<key_id>_<secret>``. A biller's key sees only its biller: any
other biller's resources answer 404, exactly as if they did not exist. A read key may only
read; a back-office key sees every biller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from billfold.adapters.http.keys import Principal, authenticate
from billfold.adapters.http.metrics import RATE_LIMIT_REFUSALS
from billfold.adapters.http.problems import ApiProblem
from billfold.adapters.http.ratelimit import TokenBuckets
from billfold.channels.collect import Collector
from billfold.clock import Clock
from billfold.engine import Engine
from billfold.errors import NotFound
from billfold.merchants.biller import Biller

__all__ = [
    "ApiState",
    "Reader",
    "VisibleBiller",
    "Writer",
    "api_state",
    "hidden",
    "reader",
    "writer",
]


@dataclass(slots=True)
class ApiState:
    engine: Engine
    collector: Collector
    clock: Clock
    buckets: TokenBuckets
    lookups: TokenBuckets  # the payer pages' searches, per client address


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.billfold
    return state


def hidden(what: str) -> NotFound:
    """The answer for something that does not exist, or belongs to another biller."""
    return NotFound(f"{what} does not exist")


def _principal(request: Request) -> Principal:
    state = api_state(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(
            401,
            "unauthenticated",
            "send an API key as 'Authorization: Bearer bf_…'",
            {"WWW-Authenticate": 'Bearer realm="billfold"'},
        )
    principal = authenticate(state.engine, token.strip())
    if principal is None:
        raise ApiProblem(
            401,
            "invalid_api_key",
            "the API key is unknown or revoked",
            {"WWW-Authenticate": 'Bearer realm="billfold", error="invalid_token"'},
        )
    wait = state.buckets.take(principal.key_id)
    if wait:
        RATE_LIMIT_REFUSALS.labels("api_key").inc()
        raise ApiProblem(
            429,
            "rate_limited",
            f"too many requests for key {principal.key_id}; retry in {wait} s",
            {"Retry-After": str(wait)},
        )
    request.state.principal = principal
    return principal


def reader(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    return principal


def writer(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    if not principal.may_write():
        raise ApiProblem(403, "insufficient_scope", f"key {principal.key_id} may only read")
    return principal


Reader = Annotated[Principal, Depends(reader)]
Writer = Annotated[Principal, Depends(writer)]
BillerCode = Annotated[str, Path(max_length=32, description="The biller's code")]


def _visible_biller(
    request: Request, code: BillerCode, principal: Annotated[Principal, Depends(_principal)]
) -> Biller:
    engine = api_state(request).engine
    try:
        biller = engine.biller(code)
    except NotFound:
        raise hidden(f"biller {code!r}") from None
    if not principal.sees(biller.id):
        raise hidden(f"biller {code!r}")
    return biller


VisibleBiller = Annotated[Biller, Depends(_visible_biller)]
