"""A proposal waiting for a second person (maker-checker), and a biller's policy for one
kind of action: the values :mod:`billfold.collection.approvals` works with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Approval", "ApprovalState", "Policy"]


class ApprovalState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Approval:
    id: int
    kind: str
    biller_id: int | None
    payload: dict[str, Any]
    maker: str
    reason: str
    created_at: datetime
    state: ApprovalState
    checker: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """Whether a biller's actions of one kind need a checker (for refunds: above a threshold)."""

    kind: str
    required: bool
    threshold_fen: int | None = None
