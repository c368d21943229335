"""Authentication and tenancy as FastAPI dependencies.

``Authorization: Bearer bf_<key_id>_<secret>``. A biller's key sees only its biller: any
other biller's resources answer 404, exactly as if they did not exist; a back-office key sees
every biller. Every route says which roles may call it with :func:`require`: a key without
one of them gets 403 ``forbidden_role`` naming the roles needed. Reading needs any role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

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
from billfold.merchants.roles import Role, format_roles

__all__ = [
    "ApiState",
    "Bursar",
    "Reader",
    "Reconciler",
    "VisibleBiller",
    "api_state",
    "hidden",
    "require",
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


def require(*roles: Role, everywhere: bool = False) -> Any:
    """A dependency: the caller's key holds one of ``roles`` (any role when none is named)
    and, with ``everywhere``, sees every biller (a back-office key). Use it as
    ``principal: Annotated[Principal, require(Role.RECONCILER)]``."""
    needed = format_roles(roles).replace(",", " or ")

    def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if not principal.has(*roles):
            raise ApiProblem(
                403,
                "forbidden_role",
                f"this needs the role {needed}; key {principal.key_id} has "
                f"{format_roles(principal.roles).replace(',', ', ')}",
            )
        if everywhere and not principal.back_office:
            raise ApiProblem(
                403,
                "back_office_only",
                f"key {principal.key_id} belongs to biller {principal.biller_code}; "
                "this needs a back-office key",
            )
        return principal

    check.__name__ = f"require_{'_'.join(r.value for r in roles) or 'any'}"
    return Depends(check)


Reader = Annotated[Principal, require()]
Bursar = Annotated[Principal, require(Role.BURSAR)]
Reconciler = Annotated[Principal, require(Role.RECONCILER)]
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
