"""Reconciliation over HTTP: upload a statement to start a run, read runs, work the
discrepancies.

A statement covers a channel's merchant account, which may serve several billers, so runs
are the back office's: a biller's key gets 403. Discrepancies name the biller they concern
(when known): a biller's key sees its own and no others; resolving is the back office's.
Uploads are limited by the service's body-size limit; reconcile bigger files with
``billfold reconcile run``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from billfold.adapters.http.approvals import PROPOSED, proposed_instead
from billfold.adapters.http.auth import ApiState, Reader, api_state, hidden
from billfold.adapters.http.backoffice import OfficeReader, OfficeReconciler, actor
from billfold.adapters.http.idempotency import IdempotencyKey, engine_key, replay_or_run
from billfold.adapters.http.models_ops import DiscrepancyOut, ResolveIn, RunOut, RunResultOut
from billfold.engine import Engine
from billfold.errors import InvalidInput, InvariantViolated, NotFound
from billfold.settlement.discrepancy import Action, Code, Discrepancy, DiscrepancyStatus
from billfold.settlement.parsers import PARSERS, OnError
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.run import RunKind

__all__ = ["biller_codes", "router", "visible_discrepancies"]

router = APIRouter(prefix="/v1/reconciliation", tags=["reconciliation"])
State = Annotated[ApiState, Depends(api_state)]
BANK_FORMATS = ("camt053", "camt054", "mt940")


def biller_codes(engine: Engine) -> dict[int, str]:
    return {b.id: b.code for b in engine.billers() if b.id is not None}


def visible_discrepancies(
    principal: Reader,
    state: ApiState,
    *,
    run_id: int | None,
    status: DiscrepancyStatus | None,
    code: Code | None = None,
) -> list[Discrepancy]:
    found = Reconciler(state.engine).discrepancies(run_id=run_id, status=status, code=code)
    return [d for d in found if principal.sees(d.biller_id)]


def visible_discrepancy(
    principal: Reader, state: State, discrepancy_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Discrepancy:
    try:
        found = Reconciler(state.engine).discrepancy(discrepancy_id)
    except NotFound:
        raise hidden(f"discrepancy {discrepancy_id}") from None
    if not principal.sees(found.biller_id):
        raise hidden(f"discrepancy {discrepancy_id}")
    return found


VisibleDiscrepancy = Annotated[Discrepancy, Depends(visible_discrepancy)]


@dataclass(frozen=True, slots=True)
class _Upload:
    data: bytes
    name: str
    format: str
    business_date: date
    merchant: str | None
    channel: str | None
    encoding: str | None
    reject: bool
    auto: bool
    who: str
    reason: str


def _reconcile_upload(engine: Engine, up: _Upload) -> tuple[int, object]:
    recon = Reconciler(engine)
    on_error: OnError = "reject" if up.reject else "quarantine"
    if up.format in BANK_FORMATS:
        result = recon.reconcile_bank(
            up.data,
            format=up.format,
            business_date=up.business_date,
            file_name=up.name,
            encoding=up.encoding,
            on_error=on_error,
            actor=up.who,
            reason=up.reason,
        )
    else:
        result = recon.reconcile(
            up.data,
            format=up.format,
            business_date=up.business_date,
            channel=up.channel,
            merchant_id=up.merchant,
            file_name=up.name,
            encoding=up.encoding,
            on_error=on_error,
            actor=up.who,
            reason=up.reason,
            auto_resolve=up.auto,
            workers=1,
        )
    answer = RunResultOut.of(result, biller_codes(engine))
    return (201 if result.created else 200), answer.model_dump(mode="json")


@router.post(
    "/runs",
    response_model=RunResultOut,
    status_code=201,
    responses={200: {"description": "The same file again: the stored run, nothing changed"}},
    summary="Reconcile an uploaded statement for one business date (back office)",
)
def start_run(
    principal: OfficeReconciler,
    state: State,
    request: Request,
    idempotency_key: IdempotencyKey,
    file: Annotated[UploadFile, File(description="The statement file")],
    format: Annotated[str, Form(max_length=32, description=", ".join(sorted(PARSERS)))],
    business_date: Annotated[date, Form(alias="date", description="The business date")],
    merchant: Annotated[str | None, Form(max_length=64)] = None,
    channel: Annotated[str | None, Form(max_length=32)] = None,
    encoding: Annotated[str | None, Form(pattern="^(utf-8|gbk)$")] = None,
    reject: Annotated[bool, Form(description="Refuse the file on a bad line")] = False,
    auto: Annotated[bool, Form(description="Resolve the common case automatically")] = True,
    by: Annotated[str | None, Form(min_length=1, max_length=64)] = None,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> JSONResponse:
    if format not in PARSERS:
        known = ", ".join(sorted(PARSERS))
        raise InvalidInput(f"format: unknown statement format {format!r}; known: {known}")
    data = file.file.read()
    name = (file.filename or "statement")[:200]
    upload = _Upload(
        data, name, format, business_date, merchant, channel, encoding, reject, auto,
        actor(principal, by), reason,
    )  # fmt: skip

    def run() -> tuple[int, object]:
        return _reconcile_upload(state.engine, upload)

    fields = {
        "file": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": format,
        "date": business_date.isoformat(),
        "merchant": merchant,
        "channel": channel,
        "encoding": encoding,
        "reject": reject,
        "auto": auto,
        "by": by,
        "reason": reason,
    }
    return replay_or_run(
        state.engine, principal, idempotency_key, (request.method, request.url.path, fields), run
    )


@router.get("/runs", response_model=list[RunOut], summary="List reconciliation runs (back office)")
def list_runs(
    principal: OfficeReader,
    state: State,
    business_date: Annotated[date | None, Query(alias="date")] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    kind: RunKind | None = None,
    history: Annotated[bool, Query(alias="all", description="Superseded runs too")] = False,
) -> list[RunOut]:
    runs = Reconciler(state.engine).runs(
        kind=kind, channel=channel, business_date=business_date, current_only=not history
    )
    return [RunOut.of(r) for r in runs]


@router.get(
    "/runs/{run_id}", response_model=RunOut, summary="Get a reconciliation run (back office)"
)
def get_run(
    principal: OfficeReader, state: State, run_id: Annotated[int, Path(ge=1, le=2**62)]
) -> RunOut:
    return RunOut.of(Reconciler(state.engine).run(run_id))


@router.get(
    "/discrepancies",
    response_model=list[DiscrepancyOut],
    summary="List discrepancies (a biller's key: its own)",
)
def list_discrepancies(
    principal: Reader,
    state: State,
    status: DiscrepancyStatus | None = None,
    run_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    code: Code | None = None,
) -> list[DiscrepancyOut]:
    found = visible_discrepancies(principal, state, run_id=run_id, status=status, code=code)
    codes = biller_codes(state.engine)
    return [DiscrepancyOut.of(d, codes) for d in found]


@router.get(
    "/discrepancies/{discrepancy_id}", response_model=DiscrepancyOut, summary="Get a discrepancy"
)
def get_discrepancy(discrepancy: VisibleDiscrepancy, state: State) -> DiscrepancyOut:
    return DiscrepancyOut.of(discrepancy, biller_codes(state.engine))


@router.post(
    "/discrepancies/{discrepancy_id}/resolve",
    response_model=DiscrepancyOut,
    summary="Resolve a discrepancy with an action, recording who and why (back office); "
    "202 when a write-off waits for a second person",
    responses=PROPOSED,
)
def resolve_discrepancy(
    principal: OfficeReconciler,
    discrepancy: VisibleDiscrepancy,
    body: ResolveIn,
    state: State,
    request: Request,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    def run() -> tuple[int, object]:
        if discrepancy.id is None:
            raise InvariantViolated("discrepancy.id is missing")
        if body.action is Action.WRITE_OFF and discrepancy.status is DiscrepancyStatus.OPEN:
            payload = {
                "discrepancy_id": discrepancy.id, "reason": body.reason, "amount_fen": body.amount,
            }  # fmt: skip
            proposal = proposed_instead(
                state, principal, "discrepancy.write_off", payload,
                by=body.by, reason=body.reason, biller_id=discrepancy.biller_id,
            )  # fmt: skip
            if proposal is not None:
                return proposal
        done = Reconciler(state.engine).resolve(
            discrepancy.id,
            body.action,
            by=actor(principal, body.by),
            reason=body.reason,
            amount_fen=body.amount,
            request_id=engine_key(principal, idempotency_key),
        )
        return 200, DiscrepancyOut.of(done, biller_codes(state.engine)).model_dump(mode="json")

    payload = (request.method, request.url.path, body.model_dump(mode="json"))
    return replay_or_run(state.engine, principal, idempotency_key, payload, run)
