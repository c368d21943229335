"""Maker-checker: an action that moves money after the fact waits for a second person.

A *maker* proposes (``propose``): the action's kind and its payload are stored, nothing else
changes. A *checker* — anyone but the maker — approves (``approve``): the proposal turns
``approved`` with a conditional update (``WHERE state = 'proposed'``) and the kind's action
runs in the same transaction, so it runs exactly once even when two checkers press at once,
and not at all if it fails (the proposal stays open, the error is the action's). Or the
checker rejects it (``reject``, with a reason). Every step is audited.

The actions are given by whoever hosts the use cases (a mapping of kind → callable taking the
proposal and the open unit of work); the domain knows only kinds and identities.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from billfold.clock import Clock
from billfold.collection.approval import Approval, ApprovalState
from billfold.collection.ports import ApprovalsUnitOfWork
from billfold.errors import InvalidInput, InvalidTransition, NotFound, SelfApproval

__all__ = [
    "Action",
    "approve",
    "propose",
    "reject",
]


Action = Callable[[Approval, Any], Mapping[str, Any]]


def _identity(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 100:
        raise InvalidInput(f"{what}: say who (1 to 100 characters)")
    return value


def _reason(value: str, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput("reason: say why")
    if len(value) > 500:
        raise InvalidInput("reason: at most 500 characters")
    return value


def propose(
    uow: ApprovalsUnitOfWork,
    clock: Clock,
    kind: str,
    payload: Mapping[str, Any],
    *,
    maker: str,
    reason: str = "",
    biller_id: int | None = None,
) -> Approval:
    """Store what ``maker`` asks for; it happens only when someone else approves it."""
    maker = _identity(maker, "maker")
    reason = _reason(reason, required=False)
    with uow:
        now = clock.now()
        found = uow.approvals.add(
            kind=kind, biller_id=biller_id, payload=dict(payload), maker=maker,
            reason=reason, now=now,
        )  # fmt: skip
        _audit(uow, maker, "approval.propose", found, reason, {"kind": kind, **payload}, now)
        uow.commit()
    return found


def approve(
    uow: ApprovalsUnitOfWork,
    clock: Clock,
    approval_id: int,
    *,
    checker: str,
    actions: Mapping[str, Action],
    reason: str = "",
) -> Approval:
    """Approve and run the proposal's action once, in this one transaction."""
    checker = _identity(checker, "checker")
    reason = _reason(reason, required=False)
    with uow:
        found = _open(uow, approval_id, checker)
        action = actions.get(found.kind)
        if action is None:
            raise InvalidInput(f"kind: no action is registered for {found.kind!r}")
        now = clock.now()
        if not uow.approvals.decide(
            approval_id, ApprovalState.APPROVED, checker=checker, reason=reason, now=now
        ):
            raise _decided(uow, approval_id)
        result = dict(action(_get(uow.approvals.get(approval_id), approval_id), uow))
        uow.approvals.record_result(approval_id, result)
        _audit(uow, checker, "approval.approve", found, reason, result, now)
        decided = uow.approvals.get(approval_id)
        uow.commit()
    return _get(decided, approval_id)


def reject(
    uow: ApprovalsUnitOfWork, clock: Clock, approval_id: int, *, checker: str, reason: str
) -> Approval:
    """Turn a proposal down, saying why; its action never runs."""
    checker = _identity(checker, "checker")
    reason = _reason(reason, required=True)
    with uow:
        found = _open(uow, approval_id, checker)
        now = clock.now()
        if not uow.approvals.decide(
            approval_id, ApprovalState.REJECTED, checker=checker, reason=reason, now=now
        ):
            raise _decided(uow, approval_id)
        _audit(uow, checker, "approval.reject", found, reason, None, now)
        decided = uow.approvals.get(approval_id)
        uow.commit()
    return _get(decided, approval_id)


def _open(uow: ApprovalsUnitOfWork, approval_id: int, checker: str) -> Approval:
    found = _get(uow.approvals.get(approval_id), approval_id)
    if found.state is not ApprovalState.PROPOSED:
        raise _decided(uow, approval_id)
    if found.maker == checker:
        raise SelfApproval(
            f"approval {approval_id}: {checker} proposed it and may not decide it; "
            "a second person must"
        )
    return found


def _decided(uow: ApprovalsUnitOfWork, approval_id: int) -> InvalidTransition:
    now = _get(uow.approvals.get(approval_id), approval_id)
    return InvalidTransition(f"approval {approval_id} is already {now.state} by {now.checker}")


def _get(found: Approval | None, approval_id: int | None = None) -> Approval:
    if found is None:
        raise NotFound(f"approval {approval_id} does not exist")
    return found


def _audit(
    uow: ApprovalsUnitOfWork,
    actor: str,
    action: str,
    approval: Approval,
    reason: str,
    after: Mapping[str, Any] | None,
    now: datetime,
) -> None:
    uow.audit.append(
        actor=actor,
        action=action,
        target_type="approval",
        target_id=str(approval.id),
        reason=reason or approval.reason,
        before=None,
        after={"kind": approval.kind, **(dict(after) if after else {})},
        now=now,
    )
