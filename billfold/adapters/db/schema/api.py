"""Tables of the HTTP API: API keys (hashed) and stored answers to idempotent requests.

Defined on the one :data:`billfold.adapters.db.schema.metadata`; migration 0005 creates them,
0015 gives keys their roles (in place of a read/write scope) and a rotated secret's grace.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from billfold.adapters.db.schema.base import TS, Id, _id, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = ["api_idempotency", "api_keys"]

api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    Column("key_id", String(16), nullable=False, unique=True),  # public part, shown in lists
    Column("secret_sha256", String(64), nullable=False),  # the secret itself is never stored
    Column("biller_id", Id, ForeignKey("billers.id")),  # NULL: a back-office key (all billers)
    Column("roles", String(100), nullable=False),  # comma-separated billfold.merchants.roles
    Column("label", String(100), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("revoked_at", TS),
    # after a rotation the previous secret still opens the key until previous_valid_until
    Column("previous_secret_sha256", String(64)),
    Column("previous_valid_until", TS),
    CheckConstraint("roles <> ''", name="ck_api_keys_roles_given"),
)

api_idempotency = Table(
    "api_idempotency",
    metadata,
    _id(),
    Column("principal", String(16), nullable=False),  # the API key's key_id
    Column("idempotency_key", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),  # SHA-256 of method, path and body
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("principal", "idempotency_key"),
)

add_checks(api_keys, api_idempotency)
