"""API keys: created with a random secret shown once, stored as its SHA-256, with roles.

A key reads ``bf_<key_id>_<secret>``. ``key_id`` is public (it names the key in lists and
logs); only the secret's hash is kept, and it is compared in constant time. A key carries
roles (:mod:`billfold.merchants.roles`) and a scope: one biller, or every biller (a
back-office key). Creating, rotating and revoking a key is audited with who and why.

Rotating gives a key a new secret; the old one keeps working for a grace period (default
24 hours, ``grace=timedelta(0)`` ends it at once) so a client can be redeployed without an
outage, and never longer. Revoking ends the key, both secrets, at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, Select, select

from billfold.adapters.db.schema import billers
from billfold.adapters.db.schema.api import api_keys
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.engine import Engine
from billfold.errors import Conflict, InvalidInput, NotFound
from billfold.merchants.roles import ALL_ROLES, Role, format_roles, parse_roles

__all__ = [
    "DEFAULT_GRACE",
    "ApiKey",
    "CreatedKey",
    "Principal",
    "Scope",
    "authenticate",
    "create_key",
    "list_keys",
    "revoke_key",
    "roles_for_scope",
    "rotate_key",
]

PREFIX = "bf_"
DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=7)


class Scope(StrEnum):
    """The keys of old: read or write. Kept as a short way to ask for their roles."""

    READ = "read"
    WRITE = "write"

    @classmethod
    def parse(cls, value: str) -> Scope:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise InvalidInput(f"scope: {value!r} is not one of read, write") from None


def roles_for_scope(scope: Scope, *, back_office: bool) -> frozenset[Role]:
    """What a read or write key of old stands for (migration 0015 maps stored keys alike)."""
    if scope is Scope.READ:
        return frozenset({Role.VIEWER})
    if back_office:
        return ALL_ROLES - {Role.VIEWER}
    return frozenset({Role.BURSAR, Role.RECONCILER})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's roles, over one biller or every biller (``biller_id`` None)."""

    key_id: str
    roles: frozenset[Role]
    biller_id: int | None
    biller_code: str | None

    @property
    def back_office(self) -> bool:
        return self.biller_id is None

    @property
    def identity(self) -> str:
        """Who this is for separation of duties: the key, never a name it sends."""
        return f"key:{self.key_id}"

    def has(self, *roles: Role) -> bool:
        return not roles or bool(self.roles & set(roles))

    def sees(self, biller_id: int | None) -> bool:
        return self.back_office or (biller_id is not None and biller_id == self.biller_id)


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    roles: frozenset[Role]
    biller_code: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None
    previous_valid_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str  # the whole key, to hand over once; it cannot be shown again


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _who(actor: str, reason: str) -> tuple[str, str]:
    actor, reason = actor.strip(), reason.strip()
    if not actor or len(actor) > 100:
        raise InvalidInput("actor: say who does this (1 to 100 characters)")
    if len(reason) > 500:
        raise InvalidInput("reason: at most 500 characters")
    return actor, reason


def create_key(
    engine: Engine,
    biller_code: str | None,
    access: Scope | Iterable[Role | str],
    label: str = "",
    *,
    actor: str = "system",
    reason: str = "",
) -> CreatedKey:
    """A new key for ``biller_code`` (``None``: a back-office key seeing every biller) with
    the roles given (or those of an old read/write ``Scope``)."""
    actor, reason = _who(actor, reason)
    if isinstance(access, Scope):
        roles = roles_for_scope(access, back_office=biller_code is None)
    else:
        roles = parse_roles([str(r) for r in access])
    now = engine.clock.now()
    biller_id = engine.biller(biller_code).id if biller_code is not None else None
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    label = label.strip() or (f"{biller_code} key" if biller_code else "back office")
    if len(label) > 100:
        raise InvalidInput("label: at most 100 characters")
    with engine.uow() as uow:
        uow.conn.execute(
            api_keys.insert().values(
                key_id=key_id,
                secret_sha256=_digest(secret),
                biller_id=biller_id,
                roles=format_roles(roles),
                label=label,
                created_at=now,
            )
        )
        after = {"biller": biller_code, "roles": format_roles(roles), "label": label}
        _audit(uow, actor, "api_key.create", key_id, reason, None, after, now)
        uow.commit()
    key = ApiKey(key_id, roles, biller_code, label, now, None)
    return CreatedKey(key, f"{PREFIX}{key_id}_{secret}")


def rotate_key(
    engine: Engine,
    key_id: str,
    *,
    grace: timedelta = DEFAULT_GRACE,
    actor: str,
    reason: str = "",
) -> CreatedKey:
    """A new secret for a live key; the old one opens it until ``grace`` has passed."""
    actor, reason = _who(actor, reason)
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise InvalidInput("grace: from 0 to 7 days")
    now = engine.clock.now()
    secret = secrets.token_urlsafe(32)
    with engine.uow() as uow:
        row = _row(uow, key_id)
        if row.revoked_at is not None:
            raise Conflict(f"API key {key_id!r} is revoked; create a new one")
        until = now + grace if grace else None
        uow.conn.execute(
            api_keys.update()
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(
                secret_sha256=_digest(secret),
                previous_secret_sha256=row.secret_sha256 if until else None,
                previous_valid_until=until,
            )
        )
        after = {"previous_valid_until": until.isoformat() if until else None}
        _audit(uow, actor, "api_key.rotate", key_id, reason, None, after, now)
        uow.commit()
    key = _key(row)
    rotated = ApiKey(key.key_id, key.roles, key.biller_code, key.label, key.created_at, None, until)
    return CreatedKey(rotated, f"{PREFIX}{key_id}_{secret}")


def revoke_key(engine: Engine, key_id: str, *, actor: str = "system", reason: str = "") -> ApiKey:
    """Revoke a key at once, with any rotated secret (revoking twice keeps the first time)."""
    actor, reason = _who(actor, reason)
    now = engine.clock.now()
    with engine.uow() as uow:
        row = _row(uow, key_id)
        if row.revoked_at is None:
            uow.conn.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now, previous_secret_sha256=None, previous_valid_until=None)
            )
            _audit(uow, actor, "api_key.revoke", key_id, reason, None, None, now)
            uow.commit()
        row = _row(uow, key_id)
    return _key(row)


def list_keys(engine: Engine, *, biller_code: str | None = None) -> list[ApiKey]:
    query = _select().order_by(api_keys.c.id)
    if biller_code is not None:
        query = query.where(billers.c.code == biller_code)
    with engine.uow() as uow:
        rows = uow.conn.execute(query).all()
    return [_key(r) for r in rows]


def authenticate(engine: Engine, presented: str) -> Principal | None:
    """The principal a presented key stands for, or ``None`` (unknown, wrong, revoked)."""
    if not presented.startswith(PREFIX) or presented.count("_") < 2:
        return None
    key_id, _, secret = presented[len(PREFIX) :].partition("_")
    with engine.db.connect() as conn:
        row = conn.execute(_select().where(api_keys.c.key_id == key_id)).first()
    digest = _digest(secret)
    expected = row.secret_sha256 if row is not None else _digest("")
    matches = hmac.compare_digest(expected, digest)  # same work whether found or not
    previous = row.previous_secret_sha256 if row is not None else None
    if not matches and previous and row is not None and row.previous_valid_until is not None:
        still = engine.clock.now() < row.previous_valid_until
        matches = hmac.compare_digest(previous, digest) and still
    if row is None or not matches or row.revoked_at is not None:
        return None
    return Principal(row.key_id, parse_roles(row.roles), row.biller_id, row.code)


def _select() -> Select[Any]:
    return select(api_keys, billers.c.code).select_from(
        api_keys.outerjoin(billers, billers.c.id == api_keys.c.biller_id)
    )


def _row(uow: SqlUnitOfWork, key_id: str) -> Row[Any]:
    row = uow.conn.execute(_select().where(api_keys.c.key_id == key_id)).first()
    if row is None:
        raise NotFound(f"API key {key_id!r} does not exist")
    return row


def _key(r: Row[Any]) -> ApiKey:
    return ApiKey(
        r.key_id,
        parse_roles(r.roles),
        r.code,
        r.label,
        r.created_at,
        r.revoked_at,
        r.previous_valid_until,
    )


def _audit(
    uow: SqlUnitOfWork,
    actor: str,
    action: str,
    key_id: str,
    reason: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    uow.audit.append(
        actor=actor,
        action=action,
        target_type="api_key",
        target_id=key_id,
        reason=reason,
        before=before,
        after=after,
        now=now,
    )
