"""Billers' webhook endpoints: registering them, listing them, switching them off and on.

An endpoint receives the events of one biller whose type matches one of its patterns:
``*`` (everything), an exact type (``bill.paid``) or a prefix wildcard (``payment.*``
matches ``payment.confirmed`` and ``payment.reversed``). Events are matched when the
dispatcher fans them out, so an endpoint added later does not receive older events.

Each function takes a billfold :class:`~billfold.engine.Engine` (it runs and commits its own
transaction) or an open :class:`SqlUnitOfWork` (it joins that transaction; the caller
commits). Changes are written to the audit log; secrets never are.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Row, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.clock import Clock, SystemClock
from billfold.errors import Conflict, InvalidInput, InvariantViolated, NotFound

if TYPE_CHECKING:
    from billfold.engine import Engine

__all__ = [
    "WebhookEndpoint",
    "add_endpoint",
    "deactivate_endpoint",
    "event_type_matches",
    "list_endpoints",
    "new_secret",
    "parse_event_types",
    "reactivate_endpoint",
    "rotate_secret",
]

_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?")
_SECRET = re.compile(r"[!-~]{16,128}")  # printable ASCII, no spaces


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: int
    biller_code: str
    url: str
    secret: str = field(repr=False)
    event_types: tuple[str, ...]
    active: bool
    created_at: datetime

    def wants(self, event_type: str) -> bool:
        return event_type_matches(self.event_types, event_type)


def new_secret() -> str:
    """A fresh random signing secret (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def parse_event_types(value: str | Iterable[str]) -> tuple[str, ...]:
    """Normalise patterns given as ``"a.b,c.*"`` or an iterable; ``*`` swallows the rest."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    patterns: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if part != "*" and not _PATTERN.fullmatch(part):
            raise InvalidInput(
                f"event_types: {part[:70]!r} is not an event type pattern "
                "(use e.g. 'bill.paid', 'payment.*' or '*')"
            )
        if part not in patterns:
            patterns.append(part)
    if not patterns:
        raise InvalidInput("event_types: give at least one event type, or '*' for all")
    return ("*",) if "*" in patterns else tuple(patterns)


def event_type_matches(patterns: Sequence[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def add_endpoint(
    engine_or_uow: Engine | SqlUnitOfWork,
    biller_code: str,
    url: str,
    secret: str,
    event_types: str | Iterable[str] = ("*",),
    *,
    actor: str = "system",
    reason: str = "",
    clock: Clock | None = None,
) -> WebhookEndpoint:
    """Register ``url`` to receive ``biller_code``'s events signed with ``secret``."""
    url = _valid_url(url)
    if not _SECRET.fullmatch(secret):
        raise InvalidInput(
            f"secret: must be 16 to 128 printable ASCII characters without spaces "
            f"(got {len(secret)} characters); new_secret() makes a good one"
        )
    patterns = parse_event_types(event_types)
    joined = ",".join(patterns)
    if len(joined) > 500:
        raise InvalidInput(f"event_types: {len(joined)} characters in all, at most 500")
    with in_unit(engine_or_uow, clock) as (uow, now):
        biller = uow.billers.get_by_code(biller_code)
        if biller is None or biller.id is None:
            raise NotFound(f"biller {biller_code!r} does not exist")
        c = t.webhook_endpoints.c
        clash = uow.conn.execute(
            select(c.id).where(c.biller_id == biller.id, c.url == url, c.active.is_(True))
        ).scalar()
        if clash is not None:
            raise Conflict(
                f"biller {biller_code} already has active endpoint {clash} for this url; "
                "deactivate it first"
            )
        inserted = uow.conn.execute(
            t.webhook_endpoints.insert().values(
                biller_id=biller.id,
                url=url,
                secret=secret,
                event_types=joined,
                active=True,
                created_at=now,
            )
        ).inserted_primary_key
        if inserted is None:
            raise InvariantViolated("inserted is missing")
        found = _get(uow, int(inserted[0]))
        _audit(uow, actor, "webhook_endpoint.added", found, reason, now)
        return found


def list_endpoints(
    engine_or_uow: Engine | SqlUnitOfWork,
    biller_code: str | None = None,
    *,
    include_inactive: bool = False,
) -> list[WebhookEndpoint]:
    with in_unit(engine_or_uow, None) as (uow, _):
        q = _select().order_by(t.webhook_endpoints.c.id)
        if biller_code is not None:
            q = q.where(t.billers.c.code == biller_code)
        if not include_inactive:
            q = q.where(t.webhook_endpoints.c.active.is_(True))
        return [_endpoint(row) for row in uow.conn.execute(q)]


def deactivate_endpoint(
    engine_or_uow: Engine | SqlUnitOfWork,
    endpoint_id: int,
    *,
    actor: str = "system",
    reason: str = "",
    clock: Clock | None = None,
) -> WebhookEndpoint:
    """Stop sending to the endpoint. Its pending deliveries wait (they are not dropped), and
    so do the deliveries of events written while it is off."""
    return _set_active(engine_or_uow, endpoint_id, False, actor, reason, clock)


def reactivate_endpoint(
    engine_or_uow: Engine | SqlUnitOfWork,
    endpoint_id: int,
    *,
    actor: str = "system",
    reason: str = "",
    clock: Clock | None = None,
) -> WebhookEndpoint:
    """Send to the endpoint again, starting with the deliveries that waited meanwhile."""
    return _set_active(engine_or_uow, endpoint_id, True, actor, reason, clock)


def rotate_secret(
    engine_or_uow: Engine | SqlUnitOfWork,
    endpoint_id: int,
    secret: str | None = None,
    *,
    actor: str = "system",
    reason: str = "",
    clock: Clock | None = None,
) -> WebhookEndpoint:
    """Give the endpoint a new signing secret (``None``: a fresh random one), at once.

    Unlike an API key's, the old webhook secret gets no grace period: billfold signs each
    delivery once, with the endpoint's current secret, so the receiver accepts both secrets
    while it changes over, then drops the old one. Deliveries still waiting are signed with
    the new secret when they are sent."""
    secret = new_secret() if secret is None else secret
    if not _SECRET.fullmatch(secret):
        raise InvalidInput("secret: must be 16 to 128 printable ASCII characters without spaces")
    with in_unit(engine_or_uow, clock) as (uow, now):
        _get(uow, endpoint_id)
        c = t.webhook_endpoints.c
        uow.conn.execute(
            t.webhook_endpoints.update().where(c.id == endpoint_id).values(secret=secret)
        )
        after = _get(uow, endpoint_id)
        _audit(uow, actor, "webhook_endpoint.secret_rotated", after, reason, now)
        return after


def _set_active(
    target: Engine | SqlUnitOfWork,
    endpoint_id: int,
    active: bool,
    actor: str,
    reason: str,
    clock: Clock | None,
) -> WebhookEndpoint:
    with in_unit(target, clock) as (uow, now):
        before = _get(uow, endpoint_id)
        if before.active != active:
            c = t.webhook_endpoints.c
            uow.conn.execute(
                t.webhook_endpoints.update().where(c.id == endpoint_id).values(active=active)
            )
        after = _get(uow, endpoint_id)
        action = "webhook_endpoint." + ("reactivated" if active else "deactivated")
        _audit(uow, actor, action, after, reason, now)
        return after


@contextmanager
def in_unit(
    target: Engine | SqlUnitOfWork, clock: Clock | None
) -> Iterator[tuple[SqlUnitOfWork, datetime]]:
    """Join an open unit of work, or run a new one on an engine and commit it on success."""
    if isinstance(target, SqlUnitOfWork):
        yield target, (clock or SystemClock()).now()
        return
    with target.uow() as uow:
        yield uow, (clock or target.clock).now()
        uow.commit()


def _select() -> Any:
    e, b = t.webhook_endpoints, t.billers
    return select(e, b.c.code.label("biller_code")).join(b, b.c.id == e.c.biller_id)


def _get(uow: SqlUnitOfWork, endpoint_id: int) -> WebhookEndpoint:
    row = uow.conn.execute(_select().where(t.webhook_endpoints.c.id == endpoint_id)).first()
    if row is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return _endpoint(row)


def _endpoint(row: Row[Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=int(row.id),
        biller_code=row.biller_code,
        url=row.url,
        secret=row.secret,
        event_types=tuple(row.event_types.split(",")),
        active=bool(row.active),
        created_at=row.created_at,
    )


def _valid_url(url: str) -> str:
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(f"url: {url[:80]!r} is not an http:// or https:// URL with a host")
    if len(url) > 500 or any(ch.isspace() for ch in url):
        raise InvalidInput("url: must be at most 500 characters and contain no spaces")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "url: must not carry a user name or password (lists and the audit log show it); "
            "the receiver authenticates webhooks by their signature"
        )
    return url


def _audit(
    uow: SqlUnitOfWork, actor: str, action: str, ep: WebhookEndpoint, reason: str, now: datetime
) -> None:
    view = {"url": ep.url, "event_types": ",".join(ep.event_types), "active": ep.active}
    uow.audit.append(
        actor=actor,
        action=action,
        target_type="webhook_endpoint",
        target_id=str(ep.id),
        reason=reason,
        before=None,
        after={"biller": ep.biller_code, **view},
        now=now,
    )
