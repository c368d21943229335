"""Maker-checker, wired to the engine: the kinds of action a second person must approve,
each biller's policy for them, and the desk that proposes, approves and rejects.

| kind | what runs on approval | a checker needs | default |
|---|---|---|---|
| ``settlement.approve`` | a draft settlement batch is approved | reconciler or supervisor | on |
| ``payment.reverse`` | a payment is reversed (冲正) | reconciler or supervisor | on |
| ``discrepancy.write_off`` | a discrepancy is written off | reconciler or supervisor | on |
| ``refund`` | a refund above the biller's threshold | reconciler or supervisor | off |
| ``biller.limits`` | a biller's limits change | admin or supervisor | on |
| ``escrow.release`` | presale escrow money is released | supervisor | on |

Another desk adds its own kind with :func:`register_kind` (a bank-transfer refund, say). The
action runs on an engine whose every unit of work is a SAVEPOINT in the approval's own
transaction (:func:`joined`), so the approval and the action commit together or not at all.

The gate is at the doors people use — the HTTP API and the command line. The library's own
methods (``Settler.approve``, ``Engine.reverse`` …) act at once: code embedding billfold is
trusted like the database it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.collection import approvals as use_case
from billfold.collection.approval import Approval, ApprovalState, Policy
from billfold.engine import Engine
from billfold.errors import InvalidInput, InvariantViolated, NotFound
from billfold.merchants.biller import Limits
from billfold.merchants.roles import Role
from billfold.packs.presale.desk import PresaleDesk
from billfold.settlement.discrepancy import Action as Resolution
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.settler import Settler

__all__ = ["KINDS", "Kind", "MakerChecker", "joined", "register_kind"]

CHECKERS = frozenset({Role.RECONCILER, Role.SUPERVISOR})


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of action that may wait for a checker. ``run(engine, approval)`` does it and
    answers what to record (JSON-ready); ``thresholded`` kinds are required only above the
    biller's threshold, and only once one is set."""

    name: str
    checkers: frozenset[Role]
    default_required: bool
    run: Callable[[Engine, Approval], Mapping[str, Any]]
    thresholded: bool = False


KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    """Make ``kind`` known (again: the newer registration wins)."""
    KINDS[kind.name] = kind
    return kind


class _Joined(Engine):
    """An engine whose units of work are SAVEPOINTs in one open transaction."""

    def __init__(self, outer: Engine, uow: SqlUnitOfWork) -> None:
        super().__init__(outer.db, outer.clock)
        self._outer_uow = uow

    def uow(self) -> SqlUnitOfWork:
        return self._outer_uow.savepoint()


def joined(engine: Engine, uow: SqlUnitOfWork) -> Engine:
    """``engine``, with every use case run inside ``uow``'s open transaction."""
    return _Joined(engine, uow)


def _by(approval: Approval) -> str:
    return f"{approval.payload.get('by') or approval.maker}, checked by {approval.checker}"


def _settlement(engine: Engine, approval: Approval) -> Mapping[str, Any]:
    batch = Settler(engine).approve(
        approval.payload["batch_no"], by=_by(approval), reason=approval.reason or "approved"
    )
    return {"batch_no": batch.batch_no, "status": batch.status.value}


def _reverse(engine: Engine, approval: Approval) -> Mapping[str, Any]:
    payment = engine.payment(int(approval.payload["payment_id"]))
    done = engine.reverse(
        payment.channel,
        payment.channel_txn_id,
        reason=approval.payload["reason"],
        requested_by=_by(approval),
        order_no=payment.order_no,
    )
    return {"payment_id": done.id, "status": done.status.value}


def _write_off(engine: Engine, approval: Approval) -> Mapping[str, Any]:
    done = Reconciler(engine).resolve(
        int(approval.payload["discrepancy_id"]),
        Resolution.WRITE_OFF,
        by=_by(approval),
        reason=approval.payload["reason"],
        amount_fen=approval.payload.get("amount_fen"),
    )
    return {"discrepancy_id": done.id, "status": done.status.value}


def _refund(engine: Engine, approval: Approval) -> Mapping[str, Any]:
    p = approval.payload
    refund = engine.refund(
        int(p["payment_id"]),
        int(p["amount_fen"]),
        request_id=p["request_id"],
        reason=p["reason"],
        requested_by=_by(approval),
    )
    return {"refund_no": refund.refund_no, "status": refund.status.value}


def _limits(engine: Engine, approval: Approval) -> Mapping[str, Any]:
    p = approval.payload
    limits = Limits(p.get("single_payment_fen"), p.get("daily_fen"), p.get("monthly_fen"))
    biller = engine.set_limits(p["biller"], limits, actor=_by(approval), reason=p["reason"])
    return {"biller": biller.code}


def _release(engine: Engine, approval: Approval) -> Mapping[str, Any]:
    p = approval.payload
    entry = PresaleDesk(engine).release(
        p["bureau_code"], int(p["amount_fen"]), request_id=p["request_id"], by=_by(approval),
        reason=p["reason"],
    )  # fmt: skip
    return {"bureau_code": p["bureau_code"], "entry": entry.seq, "amount_fen": entry.amount_fen}


for _kind in (
    Kind("settlement.approve", CHECKERS, True, _settlement),
    Kind("payment.reverse", CHECKERS, True, _reverse),
    Kind("discrepancy.write_off", CHECKERS, True, _write_off),
    Kind("refund", CHECKERS, False, _refund, thresholded=True),
    Kind("biller.limits", frozenset({Role.ADMIN, Role.SUPERVISOR}), True, _limits),
    Kind("escrow.release", frozenset({Role.SUPERVISOR}), True, _release),
):
    register_kind(_kind)


def kind_of(name: str) -> Kind:
    found = KINDS.get(name)
    if found is None:
        raise InvalidInput(f"kind: {name!r} is not one of {', '.join(sorted(KINDS))}")
    return found


class MakerChecker:
    """Proposals, decisions and policies over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _biller_id(self, code: str) -> int:
        found = self.engine.biller(code).id
        if found is None:
            raise InvariantViolated(f"biller {code!r} has no id")
        return found

    def policy(self, biller_code: str, kind: str) -> Policy:
        """The biller's policy for ``kind`` (the kind's default when none was set)."""
        found = kind_of(kind)
        biller_id = self._biller_id(biller_code)
        with self.engine.uow() as uow:
            stored = uow.approvals.policy(biller_id, found.name)
        return stored or Policy(found.name, found.default_required and not found.thresholded)

    def required(self, kind: str, biller_code: str | None, amount_fen: int | None = None) -> bool:
        """Does this biller's ``kind`` of action (of ``amount_fen``) need a checker? Money of
        no one biller (``None``) follows the kind's default."""
        found = kind_of(kind)
        if biller_code is None:
            return found.default_required and not found.thresholded
        policy = self.policy(biller_code, kind)
        if not found.thresholded:
            return policy.required
        if not policy.required or policy.threshold_fen is None:
            return False
        return amount_fen is not None and amount_fen > policy.threshold_fen

    def set_policy(
        self,
        biller_code: str,
        kind: str,
        *,
        required: bool,
        threshold_fen: int | None = None,
        actor: str,
        reason: str,
    ) -> Policy:
        """Switch a biller's checker for ``kind`` on or off (audited, with who and why)."""
        found = kind_of(kind)
        if threshold_fen is not None and not found.thresholded:
            raise InvalidInput(f"threshold: {kind} has no threshold")
        if threshold_fen is not None and threshold_fen < 0:
            raise InvalidInput("threshold: must not be negative")
        if found.thresholded and required and threshold_fen is None:
            raise InvalidInput(f"threshold: {kind} needs the amount above which it is checked")
        if not actor.strip() or not reason.strip():
            raise InvalidInput("actor and reason: say who changes the policy and why")
        biller_id = self._biller_id(biller_code)
        policy = Policy(found.name, required, threshold_fen)
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            before = uow.approvals.set_policy(biller_id, policy, actor=actor, now=now)
            uow.audit.append(
                actor=actor,
                action="approval.policy",
                target_type="biller",
                target_id=biller_code,
                reason=reason,
                before=_policy_view(before),
                after=_policy_view(policy),
                now=now,
            )
            uow.commit()
        return policy

    def propose(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        maker: str,
        reason: str = "",
        biller_code: str | None = None,
    ) -> Approval:
        found = kind_of(kind)
        biller_id = self._biller_id(biller_code) if biller_code else None
        return use_case.propose(
            self.engine.uow(), self.engine.clock, found.name, payload,
            maker=maker, reason=reason, biller_id=biller_id,
        )  # fmt: skip

    def gate(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        maker: str,
        reason: str = "",
        biller_code: str | None = None,
        amount_fen: int | None = None,
    ) -> Approval | None:
        """Propose the action when the biller's policy wants a checker for it (the proposal);
        otherwise ``None``: the caller acts at once."""
        if not self.required(kind, biller_code, amount_fen):
            return None
        return self.propose(kind, payload, maker=maker, reason=reason, biller_code=biller_code)

    def approve(self, approval_id: int, *, checker: str, reason: str = "") -> Approval:
        engine = self.engine
        actions = {
            name: (lambda approval, uow, run=k.run: run(joined(engine, uow), approval))
            for name, k in KINDS.items()
        }
        return use_case.approve(
            engine.uow(), engine.clock, approval_id, checker=checker, actions=actions,
            reason=reason,
        )  # fmt: skip

    def reject(self, approval_id: int, *, checker: str, reason: str) -> Approval:
        return use_case.reject(
            self.engine.uow(), self.engine.clock, approval_id, checker=checker, reason=reason
        )

    def get(self, approval_id: int) -> Approval:
        with self.engine.uow() as uow:
            found = uow.approvals.get(approval_id)
        if found is None:
            raise NotFound(f"approval {approval_id} does not exist")
        return found

    def list(
        self, *, state: ApprovalState | None = None, biller_code: str | None = None
    ) -> list[Approval]:
        biller_id = self._biller_id(biller_code) if biller_code else None
        with self.engine.uow() as uow:
            return uow.approvals.list(state=state, biller_id=biller_id)


def _policy_view(policy: Policy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {"kind": policy.kind, "required": policy.required, "threshold_fen": policy.threshold_fen}
