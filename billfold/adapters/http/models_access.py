"""Request and response bodies of who-may-do-what (pydantic): maker-checker proposals and
policies, API keys, webhook endpoints. Secrets appear once, in the answer that made them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from billfold.adapters.http.keys import ApiKey
from billfold.adapters.http.models import Reason, Yuan, _In
from billfold.adapters.outbox.endpoints import WebhookEndpoint
from billfold.collection.approval import Approval, ApprovalState, Policy
from billfold.merchants.roles import Role
from billfold.money import format_yuan

__all__ = [
    "ApprovalOut",
    "CreatedKeyOut",
    "CreatedWebhookOut",
    "DecisionIn",
    "KeyIn",
    "KeyOut",
    "KeyRevokeIn",
    "KeyRotateIn",
    "PolicyIn",
    "PolicyOut",
    "RejectIn",
    "WebhookChangeIn",
    "WebhookIn",
    "WebhookOut",
]

Who = Annotated[str, Field(min_length=1, max_length=64, description="The person, for the audit")]
Note = Annotated[str, Field(max_length=200)]


class ApprovalOut(BaseModel):
    """A proposal: what the maker asked for, and what the checker decided."""

    id: int
    kind: str
    biller_code: str | None
    state: ApprovalState
    payload: dict[str, Any]
    maker: str
    reason: str
    created_at: datetime
    checker: str | None
    decided_at: datetime | None
    decision_reason: str | None
    result: dict[str, Any] | None

    @classmethod
    def of(cls, a: Approval, codes: dict[int, str]) -> ApprovalOut:
        return cls(
            id=a.id, kind=a.kind,
            biller_code=codes.get(a.biller_id) if a.biller_id is not None else None,
            state=a.state, payload=a.payload, maker=a.maker, reason=a.reason,
            created_at=a.created_at, checker=a.checker, decided_at=a.decided_at,
            decision_reason=a.decision_reason, result=a.result,
        )  # fmt: skip


class DecisionIn(_In):
    by: Who | None = None
    reason: Note = ""


class RejectIn(_In):
    by: Who | None = None
    reason: Reason


class PolicyIn(_In):
    required: bool
    threshold: Yuan | None = Field(default=None, description="refund: checked above this")
    by: Who
    reason: Reason


class PolicyOut(BaseModel):
    kind: str
    required: bool
    threshold: str | None

    @classmethod
    def of(cls, p: Policy) -> PolicyOut:
        fen = p.threshold_fen
        return cls(
            kind=p.kind, required=p.required, threshold=None if fen is None else format_yuan(fen)
        )


class KeyIn(_In):
    biller_code: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        default=None, description="The biller the key sees; none: every biller (back office)"
    )
    roles: Annotated[list[Role], Field(min_length=1, max_length=5)]
    label: Annotated[str, Field(max_length=100)] = ""
    by: Who
    reason: Reason


class KeyOut(BaseModel):
    key_id: str
    roles: list[Role]
    biller_code: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None
    previous_valid_until: datetime | None

    @classmethod
    def of(cls, k: ApiKey) -> KeyOut:
        return cls(
            key_id=k.key_id, roles=sorted(k.roles, key=list(Role).index),
            biller_code=k.biller_code, label=k.label, created_at=k.created_at,
            revoked_at=k.revoked_at, previous_valid_until=k.previous_valid_until,
        )  # fmt: skip


class CreatedKeyOut(BaseModel):
    key: KeyOut
    secret: str = Field(description="The whole key: shown this once, never again")


class KeyRotateIn(_In):
    grace_hours: Annotated[float, Field(ge=0, le=168)] = Field(
        default=24, description="How long the old secret still works (0: not at all)"
    )
    by: Who
    reason: Reason


class KeyRevokeIn(_In):
    by: Who
    reason: Reason


class WebhookIn(_In):
    url: Annotated[str, Field(min_length=1, max_length=500)]
    events: Annotated[list[str], Field(min_length=1, max_length=50)] = Field(
        default_factory=lambda: ["*"], description="Event types: '*', 'payment.*', 'bill.paid'"
    )
    secret: Annotated[str, Field(min_length=16, max_length=128)] | None = Field(
        default=None, description="The signing secret; none: a random one, answered once"
    )
    by: Who
    reason: Reason


class WebhookChangeIn(_In):
    by: Who
    reason: Reason


class WebhookOut(BaseModel):
    id: int
    biller_code: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, ep: WebhookEndpoint) -> WebhookOut:
        return cls(
            id=ep.id, biller_code=ep.biller_code, url=ep.url,
            event_types=list(ep.event_types), active=ep.active, created_at=ep.created_at,
        )  # fmt: skip


class CreatedWebhookOut(BaseModel):
    endpoint: WebhookOut
    secret: str | None = Field(description="The signing secret when billfold made it: shown once")
