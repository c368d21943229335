"""Auto-debit mandates (签约代扣): sign one for a payer of a biller, list a biller's, read
one with its debits, suspend and resume one, revoke one (at once: waiting debits are
cancelled with it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from billfold.adapters.http.auth import (
    ApiState,
    Bursar,
    Reader,
    VisibleBiller,
    api_state,
    hidden,
)
from billfold.adapters.http.backoffice import actor
from billfold.adapters.http.idempotency import replay_or_run
from billfold.adapters.http.models_ops import DebitOut, MandateIn, MandateOut, RevokeIn
from billfold.adapters.http.optional_key import OptionalIdempotencyKey
from billfold.channels.autodebit_mandates import MandateBook
from billfold.collection.mandate import Mandate, MandateStatus
from billfold.errors import InvariantViolated, NotFound

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["mandates"])
State = Annotated[ApiState, Depends(api_state)]


def _out(state: ApiState, mandate: Mandate) -> MandateOut:
    with state.engine.uow() as uow:
        biller = uow.billers.get(mandate.biller_id)
        payer = uow.payers.get(mandate.payer_id)
    if not (biller is not None and payer is not None):
        raise InvariantViolated("expected biller is not None and payer is not None")
    return MandateOut.of(mandate, biller.code, payer.identifier)


def visible_mandate(
    principal: Reader, state: State, mandate_no: Annotated[str, Path(max_length=32)]
) -> Mandate:
    try:
        mandate = MandateBook(state.engine).mandate(mandate_no)
    except NotFound:
        raise hidden(f"mandate {mandate_no!r}") from None
    if not principal.sees(mandate.biller_id):
        raise hidden(f"mandate {mandate_no!r}")
    return mandate


VisibleMandate = Annotated[Mandate, Depends(visible_mandate)]


@router.post(
    "/billers/{code}/mandates",
    response_model=MandateOut,
    status_code=201,
    summary="Record a mandate the payer signed (pending until the bank confirms it)",
)
def sign_mandate(
    principal: Bursar,
    biller: VisibleBiller,
    body: MandateIn,
    state: State,
    request: Request,
    idempotency_key: OptionalIdempotencyKey = None,
) -> JSONResponse:
    def run() -> tuple[int, object]:
        mandate = MandateBook(state.engine).sign(
            biller.code,
            body.payer_id,
            body.account_no,
            per_debit_limit_fen=body.per_debit_limit,
            monthly_limit_fen=body.monthly_limit,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            actor=actor(principal, body.operator),
        )
        return 201, _out(state, mandate).model_dump(mode="json")

    if idempotency_key is None:
        status, answer = run()
        return JSONResponse(answer, status_code=status)
    # the account number is fingerprinted, never stored: only a hash of the request is kept
    payload = (request.method, request.url.path, body.model_dump(mode="json"))
    return replay_or_run(state.engine, principal, idempotency_key, payload, run)


@router.get(
    "/billers/{code}/mandates", response_model=list[MandateOut], summary="List a biller's mandates"
)
def list_mandates(
    principal: Reader,
    biller: VisibleBiller,
    state: State,
    status: Annotated[MandateStatus | None, Query()] = None,
) -> list[MandateOut]:
    found = MandateBook(state.engine).mandates(biller.code, [status] if status else None)
    return [MandateOut.of(m, code, payer) for m, code, payer in found]


@router.get("/mandates/{mandate_no}", response_model=MandateOut, summary="Get a mandate")
def get_mandate(mandate: VisibleMandate, state: State) -> MandateOut:
    return _out(state, mandate)


@router.get(
    "/mandates/{mandate_no}/debits",
    response_model=list[DebitOut],
    summary="The debits made (or waiting) under a mandate",
)
def list_debits(mandate: VisibleMandate, state: State) -> list[DebitOut]:
    return [DebitOut.of(d) for d in MandateBook(state.engine).debits(mandate.mandate_no)]


@router.post(
    "/mandates/{mandate_no}/revoke",
    response_model=MandateOut,
    summary="Revoke a mandate at once; no debit is made under it afterwards",
)
def revoke_mandate(
    principal: Bursar, mandate: VisibleMandate, body: RevokeIn, state: State
) -> MandateOut:
    revoked = MandateBook(state.engine).revoke(
        mandate.mandate_no, actor=actor(principal, body.operator), reason=body.reason
    )
    return _out(state, revoked)


# role: bursar|admin
@router.post(
    "/mandates/{mandate_no}/suspend",
    response_model=MandateOut,
    summary="Suspend an active mandate: no debit is made under it until it is resumed",
)
def suspend_mandate(
    principal: Bursar, mandate: VisibleMandate, body: RevokeIn, state: State
) -> MandateOut:
    suspended = MandateBook(state.engine).suspend(
        mandate.mandate_no, actor=actor(principal, body.operator), reason=body.reason
    )
    return _out(state, suspended)


# role: bursar|admin
@router.post(
    "/mandates/{mandate_no}/resume",
    response_model=MandateOut,
    summary="Resume a suspended mandate",
)
def resume_mandate(
    principal: Bursar, mandate: VisibleMandate, body: RevokeIn, state: State
) -> MandateOut:
    resumed = MandateBook(state.engine).resume(
        mandate.mandate_no, actor=actor(principal, body.operator), reason=body.reason
    )
    return _out(state, resumed)
