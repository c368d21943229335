"""Who may do what, managed over HTTP by an admin back-office key: API keys (create, list,
rotate, revoke), billers' webhook endpoints (add, list, rotate the secret, deactivate,
reactivate) and billers' maker-checker policies. Every change is audited with who (the
person named in the body, and the key used) and why."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from billfold.adapters.http.auth import ApiState, VisibleBiller, api_state
from billfold.adapters.http.backoffice import Admin, actor
from billfold.adapters.http.keys import create_key, list_keys, revoke_key, rotate_key
from billfold.adapters.http.models_access import (
    CreatedKeyOut,
    CreatedWebhookOut,
    KeyIn,
    KeyOut,
    KeyRevokeIn,
    KeyRotateIn,
    PolicyIn,
    PolicyOut,
    WebhookChangeIn,
    WebhookIn,
    WebhookOut,
)
from billfold.adapters.outbox import endpoints
from billfold.errors import NotFound
from billfold.maker_checker import KINDS, MakerChecker

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["access"])
State = Annotated[ApiState, Depends(api_state)]
KeyId = Annotated[str, Path(min_length=1, max_length=16, pattern=r"^[0-9a-f]+$")]
EndpointId = Annotated[int, Path(ge=1, le=2**62)]
KindName = Annotated[str, Path(max_length=48)]


@router.get("/keys", response_model=list[KeyOut], summary="List API keys (admin; never secrets)")
def keys(principal: Admin, state: State) -> list[KeyOut]:
    return [KeyOut.of(k) for k in list_keys(state.engine)]


@router.post(
    "/keys", response_model=CreatedKeyOut, status_code=201, summary="Create an API key (admin)"
)
def new_key(principal: Admin, state: State, body: KeyIn) -> CreatedKeyOut:
    made = create_key(
        state.engine, body.biller_code, body.roles, body.label,
        actor=actor(principal, body.by), reason=body.reason,
    )  # fmt: skip
    return CreatedKeyOut(key=KeyOut.of(made.key), secret=made.secret)


@router.post(
    "/keys/{key_id}/rotate",
    response_model=CreatedKeyOut,
    summary="Give a key a new secret; the old one works for grace_hours more (admin)",
)
def rotate(principal: Admin, state: State, key_id: KeyId, body: KeyRotateIn) -> CreatedKeyOut:
    made = rotate_key(
        state.engine, key_id, grace=timedelta(hours=body.grace_hours),
        actor=actor(principal, body.by), reason=body.reason,
    )  # fmt: skip
    return CreatedKeyOut(key=KeyOut.of(made.key), secret=made.secret)


@router.post("/keys/{key_id}/revoke", response_model=KeyOut, summary="Revoke a key at once (admin)")
def revoke(principal: Admin, state: State, key_id: KeyId, body: KeyRevokeIn) -> KeyOut:
    return KeyOut.of(
        revoke_key(state.engine, key_id, actor=actor(principal, body.by), reason=body.reason)
    )


@router.get(
    "/billers/{code}/webhooks",
    response_model=list[WebhookOut],
    summary="List a biller's webhook endpoints, active or not (admin; never secrets)",
)
def webhooks(principal: Admin, biller: VisibleBiller, state: State) -> list[WebhookOut]:
    found = endpoints.list_endpoints(state.engine, biller.code, include_inactive=True)
    return [WebhookOut.of(ep) for ep in found]


@router.post(
    "/billers/{code}/webhooks",
    response_model=CreatedWebhookOut,
    status_code=201,
    summary="Register a webhook endpoint for a biller (admin)",
)
def new_webhook(
    principal: Admin, biller: VisibleBiller, state: State, body: WebhookIn
) -> CreatedWebhookOut:
    secret = body.secret or endpoints.new_secret()
    ep = endpoints.add_endpoint(
        state.engine, biller.code, body.url, secret, body.events,
        actor=actor(principal, body.by), reason=body.reason,
    )  # fmt: skip
    return CreatedWebhookOut(endpoint=WebhookOut.of(ep), secret=None if body.secret else secret)


def _endpoint_step(verb: str, summary: str) -> None:
    def endpoint(
        principal: Admin, state: State, endpoint_id: EndpointId, body: WebhookChangeIn
    ) -> CreatedWebhookOut:
        who = actor(principal, body.by)
        if verb == "rotate":
            ep = endpoints.rotate_secret(state.engine, endpoint_id, actor=who, reason=body.reason)
            return CreatedWebhookOut(endpoint=WebhookOut.of(ep), secret=ep.secret)
        change = endpoints.deactivate_endpoint if verb == "deactivate" else None
        change = change or endpoints.reactivate_endpoint
        ep = change(state.engine, endpoint_id, actor=who, reason=body.reason)
        return CreatedWebhookOut(endpoint=WebhookOut.of(ep), secret=None)

    router.post(
        f"/webhooks/{{endpoint_id}}/{verb}",
        response_model=CreatedWebhookOut,
        summary=summary,
        name=f"{verb}_webhook",
    )(endpoint)


_endpoint_step("rotate", "A new signing secret for an endpoint, at once; answered once (admin)")
_endpoint_step("deactivate", "Stop sending to an endpoint; its deliveries wait (admin)")
_endpoint_step("reactivate", "Send to an endpoint again (admin)")


@router.get(
    "/billers/{code}/approval-policies",
    response_model=list[PolicyOut],
    summary="Which of a biller's actions need a second person",
)
def policies(principal: Admin, biller: VisibleBiller, state: State) -> list[PolicyOut]:
    desk = MakerChecker(state.engine)
    return [PolicyOut.of(desk.policy(biller.code, kind)) for kind in sorted(KINDS)]


@router.put(
    "/billers/{code}/approval-policies/{kind}",
    response_model=PolicyOut,
    summary="Switch a second person on or off for one kind of a biller's actions (admin)",
)
def set_policy(
    principal: Admin, biller: VisibleBiller, state: State, kind: KindName, body: PolicyIn
) -> PolicyOut:
    if kind not in KINDS:
        raise NotFound(f"approval kind {kind!r} does not exist; known: {', '.join(sorted(KINDS))}")
    done = MakerChecker(state.engine).set_policy(
        biller.code, kind, required=body.required, threshold_fen=body.threshold,
        actor=actor(principal, body.by), reason=body.reason,
    )  # fmt: skip
    return PolicyOut.of(done)
