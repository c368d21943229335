"""``/v1/approvals``: maker-checker over HTTP. What waits for a second person is listed;
a key holding one of the kind's checker roles, other than the key that proposed it, approves
(the action runs then, once) or rejects it. A biller's key sees and decides only its own
biller's proposals. :func:`proposed_instead` is how the routes that move money after the
fact (settlement approval, reversal, write-off, a large refund) hand their work to a checker:
202 with the proposal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from billfold.adapters.http.auth import ApiState, Reader, api_state, hidden
from billfold.adapters.http.backoffice import actor
from billfold.adapters.http.keys import Principal
from billfold.adapters.http.models_access import ApprovalOut, DecisionIn, RejectIn
from billfold.adapters.http.problems import ApiProblem
from billfold.collection.approval import Approval, ApprovalState
from billfold.engine import Engine
from billfold.errors import NotFound
from billfold.maker_checker import MakerChecker, kind_of
from billfold.merchants.roles import format_roles

__all__ = ["PROPOSED", "codes", "proposed_instead", "router"]

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])
State = Annotated[ApiState, Depends(api_state)]
ApprovalId = Annotated[int, Path(ge=1, le=2**62)]
PROPOSED: dict[int | str, dict[str, Any]] = {
    202: {"model": ApprovalOut, "description": "Proposed: it waits for a second person"}
}


def codes(engine: Engine) -> dict[int, str]:
    return {b.id: b.code for b in engine.billers() if b.id is not None}


def proposed_instead(
    state: ApiState,
    principal: Principal,
    kind: str,
    payload: Mapping[str, Any],
    *,
    by: str | None,
    reason: str,
    biller_id: int | None,
    amount_fen: int | None = None,
) -> tuple[int, object] | None:
    """202 and the proposal when the biller's policy wants a checker for this; else None."""
    known = codes(state.engine)
    biller_code = known.get(biller_id) if biller_id is not None else None
    found = MakerChecker(state.engine).gate(
        kind, {**payload, "by": actor(principal, by)}, maker=principal.identity, reason=reason,
        biller_code=biller_code, amount_fen=amount_fen,
    )  # fmt: skip
    if found is None:
        return None
    return 202, ApprovalOut.of(found, known).model_dump(mode="json")


def _visible(principal: Reader, state: State, approval_id: ApprovalId) -> Approval:
    try:
        found = MakerChecker(state.engine).get(approval_id)
    except NotFound:
        raise hidden(f"approval {approval_id}") from None
    if not principal.sees(found.biller_id):
        raise hidden(f"approval {approval_id}")
    return found


VisibleApproval = Annotated[Approval, Depends(_visible)]


def _checker(principal: Principal, found: Approval) -> None:
    roles = kind_of(found.kind).checkers
    if not principal.has(*roles):
        needed = format_roles(roles).replace(",", " or ")
        raise ApiProblem(
            403,
            "forbidden_role",
            f"deciding {found.kind} needs the role {needed}; key {principal.key_id} has "
            f"{format_roles(principal.roles).replace(',', ', ')}",
        )


@router.get(
    "", response_model=list[ApprovalOut], summary="List proposals (a biller's key: its own)"
)
def list_approvals(
    principal: Reader,
    state: State,
    status: Annotated[ApprovalState | None, Query(alias="state")] = None,
) -> list[ApprovalOut]:
    desk = MakerChecker(state.engine)
    known = codes(state.engine)
    biller = principal.biller_code if not principal.back_office else None
    found = desk.list(state=status, biller_code=biller)
    return [ApprovalOut.of(a, known) for a in found if principal.sees(a.biller_id)]


@router.get("/{approval_id}", response_model=ApprovalOut, summary="Get a proposal")
def get_approval(found: VisibleApproval, state: State) -> ApprovalOut:
    return ApprovalOut.of(found, codes(state.engine))


@router.post(
    "/{approval_id}/approve",
    response_model=ApprovalOut,
    summary="Approve a proposal (not the proposer's key): its action runs now, once",
)
def approve(
    principal: Reader, found: VisibleApproval, state: State, body: DecisionIn
) -> ApprovalOut:
    _checker(principal, found)
    done = MakerChecker(state.engine).approve(
        found.id, checker=principal.identity, reason=_note(principal, body.by, body.reason)
    )
    return ApprovalOut.of(done, codes(state.engine))


@router.post(
    "/{approval_id}/reject",
    response_model=ApprovalOut,
    summary="Reject a proposal, saying why: its action never runs",
)
def reject(principal: Reader, found: VisibleApproval, state: State, body: RejectIn) -> ApprovalOut:
    _checker(principal, found)
    done = MakerChecker(state.engine).reject(
        found.id, checker=principal.identity, reason=_note(principal, body.by, body.reason)
    )
    return ApprovalOut.of(done, codes(state.engine))


def _note(principal: Principal, by: str | None, reason: str) -> str:
    """The decision's reason, naming the person when the request names one."""
    who = f"{by}: " if by else ""
    return f"{who}{reason}".strip().rstrip(":")[:500]
