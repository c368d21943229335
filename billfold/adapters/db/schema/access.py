"""Tables of who may do what: back-office users and the maker-checker's proposals.

Defined on the one :data:`billfold.adapters.db.schema.metadata`; migration 0015 creates them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from billfold.adapters.db.schema.base import TS, Id, _id, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = ["approval_policies", "backoffice_users", "pending_approvals"]

backoffice_users = Table(
    "backoffice_users",
    metadata,
    _id(),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("roles", String(100), nullable=False),  # comma-separated billfold.merchants.roles
    Column("biller_id", Id, ForeignKey("billers.id")),  # NULL: every biller
    Column("password_hash", String(200)),  # argon2id; NULL: no password set yet
    Column("created_at", TS, nullable=False),
    Column("disabled_at", TS),
    CheckConstraint("roles <> ''", name="ck_backoffice_users_roles_given"),
)

pending_approvals = Table(
    "pending_approvals",
    metadata,
    _id(),
    Column("kind", String(48), nullable=False),
    Column("biller_id", Id, ForeignKey("billers.id")),  # whose money; NULL: no one biller's
    Column("payload", Text, nullable=False),  # JSON: what the action will be given
    Column("maker", String(100), nullable=False),  # the proposer's identity (key:…, user:…)
    Column("reason", String(500), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("state", String(16), nullable=False),  # proposed | approved | rejected
    Column("checker", String(100)),
    Column("decided_at", TS),
    Column("decision_reason", String(500)),
    Column("result", Text),  # JSON: what the action answered when it ran
    CheckConstraint(
        "state IN ('proposed', 'approved', 'rejected')", name="ck_pending_approvals_state_known"
    ),
    CheckConstraint(
        "(state = 'proposed' AND checker IS NULL AND decided_at IS NULL)"
        " OR (state <> 'proposed' AND checker IS NOT NULL AND decided_at IS NOT NULL)",
        name="ck_pending_approvals_decided_by_someone",
    ),
    CheckConstraint("checker IS NULL OR checker <> maker", name="ck_pending_approvals_four_eyes"),
    Index(None, "state", "created_at"),
)

approval_policies = Table(
    "approval_policies",
    metadata,
    _id(),
    Column("biller_id", Id, ForeignKey("billers.id"), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("required", Boolean, nullable=False),
    Column("threshold_fen", BigInteger),  # for refunds: above this a second person checks
    Column("updated_at", TS, nullable=False),
    Column("updated_by", String(100), nullable=False),
    UniqueConstraint("biller_id", "kind"),
    CheckConstraint(
        "threshold_fen IS NULL OR threshold_fen >= 0",
        name="ck_approval_policies_threshold_not_negative",
    ),
)

add_checks(backoffice_users, pending_approvals, approval_policies)
