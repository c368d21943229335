"""Settlement batches: the back office drafts what a biller is owed for a business date,
approves it, pays it (the payout CSV goes to the bank) and confirms the bank paid. A biller's
key reads its own batches; every step is the back office's and journalled, so the steps
after the draft take an Idempotency-Key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from billfold.adapters.http.approvals import PROPOSED, proposed_instead
from billfold.adapters.http.auth import ApiState, Reader, VisibleBiller, api_state, hidden
from billfold.adapters.http.backoffice import OfficeReader, OfficeReconciler, actor
from billfold.adapters.http.idempotency import IdempotencyKey, replay_or_run
from billfold.adapters.http.models_ops import BatchOut, DraftIn, StepIn
from billfold.errors import NotFound
from billfold.settlement.batch import BatchStatus, SettlementBatch
from billfold.settlement.settler import Settler

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["settlement"])
State = Annotated[ApiState, Depends(api_state)]


def visible_batch(
    principal: Reader, state: State, batch_no: Annotated[str, Path(max_length=64)]
) -> SettlementBatch:
    try:
        batch = Settler(state.engine).batch(batch_no)
    except NotFound:
        raise hidden(f"settlement batch {batch_no!r}") from None
    if not principal.sees(batch.biller_id):
        raise hidden(f"settlement batch {batch_no!r}")
    return batch


VisibleBatch = Annotated[SettlementBatch, Depends(visible_batch)]


@router.post(
    "/billers/{code}/settlements",
    response_model=BatchOut,
    summary="Draft (or redraft) a biller's settlement batch for a business date (back office)",
)
def draft_batch(
    principal: OfficeReconciler, biller: VisibleBiller, body: DraftIn, state: State
) -> BatchOut:
    batch = Settler(state.engine).draft(
        biller.code, body.business_date, by=actor(principal, body.by)
    )
    return BatchOut.of(batch)


@router.get(
    "/billers/{code}/settlements",
    response_model=list[BatchOut],
    summary="List a biller's settlement batches",
)
def list_biller_batches(
    principal: Reader,
    biller: VisibleBiller,
    state: State,
    business_date: Annotated[date | None, Query(alias="date")] = None,
    status: BatchStatus | None = None,
) -> list[BatchOut]:
    found = Settler(state.engine).batches(
        biller_code=biller.code, business_date=business_date, status=status
    )
    return [BatchOut.of(b) for b in found]


@router.get(
    "/settlements",
    response_model=list[BatchOut],
    summary="List every biller's settlement batches (back office)",
)
def list_batches(
    principal: OfficeReader,
    state: State,
    business_date: Annotated[date | None, Query(alias="date")] = None,
    status: BatchStatus | None = None,
) -> list[BatchOut]:
    found = Settler(state.engine).batches(business_date=business_date, status=status)
    return [BatchOut.of(b) for b in found]


@router.get("/settlements/{batch_no}", response_model=BatchOut, summary="Get a settlement batch")
def get_batch(batch: VisibleBatch) -> BatchOut:
    return BatchOut.of(batch)


def _step_route(verb: str, summary: str, step: Callable[..., SettlementBatch]) -> None:
    """``POST /settlements/{batch_no}/<verb>``: run ``step(settler, batch_no, by=…)`` once per
    Idempotency-Key (a repeat answers what the first call answered)."""

    def endpoint(
        principal: OfficeReconciler,
        batch: VisibleBatch,
        body: StepIn,
        state: State,
        request: Request,
        idempotency_key: IdempotencyKey,
    ) -> JSONResponse:
        def run() -> tuple[int, object]:
            if verb == "approve" and batch.status is BatchStatus.DRAFT:
                proposal = proposed_instead(
                    state, principal, "settlement.approve", {"batch_no": batch.batch_no},
                    by=body.by, reason=body.reason or "", biller_id=batch.biller_id,
                )  # fmt: skip
                if proposal is not None:
                    return proposal
            extra = {"reason": body.reason} if body.reason else {}
            settler = Settler(state.engine)
            done = step(settler, batch.batch_no, by=actor(principal, body.by), **extra)
            return 200, BatchOut.of(done).model_dump(mode="json")

        payload = (request.method, request.url.path, body.model_dump(mode="json"))
        return replay_or_run(state.engine, principal, idempotency_key, payload, run)

    router.post(
        f"/settlements/{{batch_no}}/{verb}",
        response_model=BatchOut,
        summary=summary,
        name=f"{verb}_batch",
        responses=PROPOSED if verb == "approve" else None,
    )(endpoint)


_step_route(
    "approve",
    "Approve a draft: its figures are fixed (Dr payable / Cr settlement payable); "
    "202 when the biller's policy wants a second person",
    Settler.approve,
)
_step_route("pay", "Mark an approved batch paid: the payout file went to the bank", Settler.pay)
_step_route("confirm", "Confirm the bank paid the batch out", Settler.confirm)


@router.get(
    "/settlements/{batch_no}/payout",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The bank's payout CSV"}},
    summary="Download an approved batch's payout CSV for the bank (account numbers in full)",
)
def payout_file(
    principal: OfficeReconciler,
    batch: VisibleBatch,
    state: State,
    encoding: Literal["utf-8-sig", "gbk"] = "utf-8-sig",
) -> Response:
    data = Settler(state.engine).payout_file(batch.batch_no, encoding=encoding)
    charset = "utf-8" if encoding == "utf-8-sig" else "gbk"
    return Response(
        data,
        media_type=f"text/csv; charset={charset}",
        headers={"Content-Disposition": f'attachment; filename="{batch.batch_no}-payout.csv"'},
    )
