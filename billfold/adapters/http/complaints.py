"""Complaints (投诉/查询): ``/v1/complaints``. A biller's key opens, reads and reopens its own
billers' complaints; the back office also assigns, resolves and rejects them and sets each
biller's turnaround times. Opening one lets the engine answer it when it can (it requeries
the channel and credits what arrived, exactly once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from billfold.adapters.http.auth import ApiState, Reader, VisibleBiller, api_state, hidden, require
from billfold.adapters.http.backoffice import Admin, OfficeReconciler, actor
from billfold.adapters.http.keys import Principal
from billfold.adapters.http.models_queues import ComplaintIn, ComplaintOut, MoveIn, TatIn
from billfold.errors import InvalidInput, NotFound
from billfold.merchants.roles import Role
from billfold.settlement.complaint import Complaint, ComplaintKind, ComplaintSource, ComplaintStatus
from billfold.settlement.complaints import ComplaintDesk, NewComplaint

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["complaints"])
State = Annotated[ApiState, Depends(api_state)]
# a complaint is opened, answered or reopened by the biller's clerk or the reconciler
Clerk = Annotated[Principal, require(Role.BURSAR, Role.RECONCILER)]


def desk(state: ApiState) -> ComplaintDesk:
    return ComplaintDesk(state.engine, state.collector.requery)


def visible_complaint(
    principal: Reader, state: State, complaint_no: Annotated[str, Path(max_length=32)]
) -> Complaint:
    try:
        found = desk(state).get(complaint_no)
    except NotFound:
        raise hidden(f"complaint {complaint_no!r}") from None
    if not principal.sees(found.biller_id):
        raise hidden(f"complaint {complaint_no!r}")
    return found


VisibleComplaint = Annotated[Complaint, Depends(visible_complaint)]


def _out(state: ApiState, found: Complaint) -> ComplaintOut:
    return ComplaintOut.of(found, state.clock.now())


def _biller_ids(principal: Principal, state: ApiState, code: str | None) -> list[int] | None:
    if code is None:
        return None if principal.back_office else [principal.biller_id or 0]
    try:
        biller = state.engine.biller(code)
    except NotFound:
        raise hidden(f"biller {code!r}") from None
    if not principal.sees(biller.id):
        raise hidden(f"biller {code!r}")
    return [biller.id or 0]


@router.post(
    "/complaints",
    response_model=ComplaintOut,
    status_code=201,
    summary="Open a complaint against a bill, order or payment (the engine answers it if it can)",
)
def open_complaint(principal: Clerk, body: ComplaintIn, state: State) -> ComplaintOut:
    _biller_ids(principal, state, body.biller)
    req = NewComplaint(
        body.biller,
        body.kind,
        actor(principal, body.opened_by),
        ComplaintSource.CLERK,
        body.bill_no,
        body.order_no,
        body.payment_id,
        body.channel_ref,
        body.description,
    )
    return _out(state, desk(state).open(req))


@router.get(
    "/complaints",
    response_model=list[ComplaintOut],
    summary="List complaints (a biller's key: its own), by state, biller, or overdue only",
)
def list_complaints(
    principal: Reader,
    state: State,
    status: ComplaintStatus | None = None,
    overdue: bool = False,
    biller: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ComplaintOut]:
    found = desk(state).complaints(
        biller_ids=_biller_ids(principal, state, biller),
        status=status,
        overdue=overdue,
        limit=limit,
    )
    return [_out(state, c) for c in found]


@router.get("/complaints/{complaint_no}", response_model=ComplaintOut, summary="Get a complaint")
def get_complaint(complaint: VisibleComplaint, state: State) -> ComplaintOut:
    return _out(state, complaint)


@router.post(
    "/complaints/{complaint_no}/answer",
    response_model=ComplaintOut,
    summary="Let the engine look again (requery the channel, look for the duplicate)",
)
def answer(principal: Clerk, complaint: VisibleComplaint, state: State) -> ComplaintOut:
    return _out(state, desk(state).answer(complaint.complaint_no))


def _text(body: MoveIn, what: str) -> str:
    if not body.text:
        raise InvalidInput(f"text: say {what}")
    return body.text


@router.post(
    "/complaints/{complaint_no}/assign",
    response_model=ComplaintOut,
    summary="Assign a complaint to a person (back office)",
)
def assign(
    principal: OfficeReconciler, complaint: VisibleComplaint, body: MoveIn, state: State
) -> ComplaintOut:
    if not body.to:
        raise InvalidInput("to: say who takes the complaint")
    done = desk(state).assign(complaint.complaint_no, to=body.to, by=actor(principal, body.by))
    return _out(state, done)


@router.post(
    "/complaints/{complaint_no}/resolve",
    response_model=ComplaintOut,
    summary="Resolve a complaint with the resolution (back office)",
)
def resolve(
    principal: OfficeReconciler, complaint: VisibleComplaint, body: MoveIn, state: State
) -> ComplaintOut:
    text = _text(body, "how the complaint was resolved")
    done = desk(state).resolve(
        complaint.complaint_no, by=actor(principal, body.by), resolution=text
    )
    return _out(state, done)


@router.post(
    "/complaints/{complaint_no}/reject",
    response_model=ComplaintOut,
    summary="Reject a complaint with the reason (back office)",
)
def reject(
    principal: OfficeReconciler, complaint: VisibleComplaint, body: MoveIn, state: State
) -> ComplaintOut:
    text = _text(body, "why the complaint is rejected")
    done = desk(state).reject(complaint.complaint_no, by=actor(principal, body.by), reason=text)
    return _out(state, done)


@router.post(
    "/complaints/{complaint_no}/reopen",
    response_model=ComplaintOut,
    summary="Reopen a resolved or rejected complaint (its turnaround time starts again)",
)
def reopen(
    principal: Clerk, complaint: VisibleComplaint, body: MoveIn, state: State
) -> ComplaintOut:
    text = _text(body, "why the complaint is reopened")
    done = desk(state).reopen(complaint.complaint_no, by=actor(principal, body.by), reason=text)
    return _out(state, done)


@router.get(
    "/billers/{code}/complaint-tats",
    response_model=dict[ComplaintKind, int],
    summary="A biller's turnaround time per complaint kind, in hours",
)
def tats(biller: VisibleBiller, state: State) -> dict[ComplaintKind, int]:
    return desk(state).tats(biller.code)


@router.put(
    "/billers/{code}/complaint-tats/{kind}",
    response_model=dict[ComplaintKind, int],
    summary="Set a biller's turnaround time for one complaint kind (back office)",
)
def set_tat(
    principal: Admin,
    biller: VisibleBiller,
    kind: ComplaintKind,
    body: TatIn,
    state: State,
) -> dict[ComplaintKind, int]:
    return desk(state).set_tat(
        biller.code, kind, body.hours, by=actor(principal, body.by), reason=body.reason
    )
