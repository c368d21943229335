"""API keys: created with a random secret shown once, stored as its SHA-256, revocable.

A key reads ``bf_<key_id>_<secret>``. ``key_id`` is public (it names the key in lists and
logs); only the secret's hash is kept, and it is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import insert, select, update

from billfold.adapters.db.schema import billers
from billfold.adapters.db.schema.api import api_keys
from billfold.engine import Engine
from billfold.errors import InvalidInput, NotFound

__all__ = [
    "ApiKey",
    "CreatedKey",
    "Principal",
    "Scope",
    "authenticate",
    "create_key",
    "list_keys",
    "revoke_key",
]

PREFIX = "bf_"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"

    @classmethod
    def parse(cls, value: str) -> Scope:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise InvalidInput(f"scope: {value!r} is not one of read, write") from None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: one biller's key, or a back-office key (``biller_id`` None)."""

    key_id: str
    scope: Scope
    biller_id: int | None
    biller_code: str | None

    @property
    def back_office(self) -> bool:
        return self.biller_id is None

    def may_write(self) -> bool:
        return self.scope is Scope.WRITE

    def sees(self, biller_id: int | None) -> bool:
        return self.back_office or (biller_id is not None and biller_id == self.biller_id)


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    scope: Scope
    biller_code: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str  # the whole key, to hand over once; it cannot be shown again


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    engine: Engine, biller_code: str | None, scope: Scope, label: str = ""
) -> CreatedKey:
    """A new key for ``biller_code`` (``None``: a back-office key seeing every biller)."""
    now = engine.clock.now()
    biller_id = engine.biller(biller_code).id if biller_code is not None else None
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    label = label.strip() or (f"{biller_code} {scope.value}" if biller_code else "back office")
    if len(label) > 100:
        raise InvalidInput("label: at most 100 characters")
    with engine.db.begin() as conn:
        conn.execute(
            insert(api_keys).values(
                key_id=key_id,
                secret_sha256=_digest(secret),
                biller_id=biller_id,
                scope=scope.value,
                label=label,
                created_at=now,
            )
        )
    key = ApiKey(key_id, scope, biller_code, label, now, None)
    return CreatedKey(key, f"{PREFIX}{key_id}_{secret}")


def revoke_key(engine: Engine, key_id: str) -> ApiKey:
    """Revoke a key at once (revoking twice keeps the first time)."""
    with engine.db.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=engine.clock.now())
        )
    for key in list_keys(engine):
        if key.key_id == key_id:
            return key
    raise NotFound(f"API key {key_id!r} does not exist")


def list_keys(engine: Engine) -> list[ApiKey]:
    query = (
        select(api_keys, billers.c.code)
        .select_from(api_keys.outerjoin(billers, billers.c.id == api_keys.c.biller_id))
        .order_by(api_keys.c.id)
    )
    with engine.db.connect() as conn:
        rows = conn.execute(query).all()
    return [
        ApiKey(r.key_id, Scope(r.scope), r.code, r.label, r.created_at, r.revoked_at) for r in rows
    ]


def authenticate(engine: Engine, presented: str) -> Principal | None:
    """The principal a presented key stands for, or ``None`` (unknown, wrong, revoked)."""
    if not presented.startswith(PREFIX) or presented.count("_") < 2:
        return None
    key_id, _, secret = presented[len(PREFIX) :].partition("_")
    query = (
        select(api_keys, billers.c.code)
        .select_from(api_keys.outerjoin(billers, billers.c.id == api_keys.c.biller_id))
        .where(api_keys.c.key_id == key_id)
    )
    with engine.db.connect() as conn:
        row = conn.execute(query).first()
    expected = row.secret_sha256 if row is not None else _digest("")
    matches = hmac.compare_digest(expected, _digest(secret))  # same work whether found or not
    if row is None or not matches or row.revoked_at is not None:
        return None
    return Principal(row.key_id, Scope(row.scope), row.biller_id, row.code)
