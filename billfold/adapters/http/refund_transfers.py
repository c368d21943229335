"""Refunds paid back by bank transfer (back office): a refund the channel refused for good
needs a transfer; the clerk records the payee, a second person approves, the transfer file
goes to the bank, and the bank statement (or a person with a reason) confirms it paid.
Payees are masked in every answer; only the transfer file carries the account whole."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from billfold.adapters.http.auth import ApiState, Reader, api_state, hidden
from billfold.adapters.http.backoffice import OfficeReader, OfficeReconciler, actor
from billfold.adapters.http.idempotency import IdempotencyKey, replay_or_run
from billfold.adapters.http.models_queues import (
    ApproveIn,
    ConfirmTransferIn,
    FallBackIn,
    PayeeIn,
    TransferFileIn,
    TransferFileOut,
    TransferOut,
)
from billfold.adapters.http.payments import VisibleRefund
from billfold.collection.refund_transfer import PayeeAccount, TransferReason, TransferStage
from billfold.collection.refund_transferring import TransferConfirmation
from billfold.errors import NotFound
from billfold.money import format_yuan
from billfold.settlement.refund_transfer_desk import RefundTransferDesk

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["refunds"])
State = Annotated[ApiState, Depends(api_state)]


@router.get(
    "/refunds/{refund_no}/bank-transfer",
    response_model=TransferOut,
    summary="A refund's bank transfer (the payee masked)",
)
def get_transfer(principal: Reader, refund: VisibleRefund, state: State) -> TransferOut:
    try:
        return TransferOut.of(RefundTransferDesk(state.engine).get(refund.refund_no))
    except NotFound:
        raise hidden(f"bank transfer of refund {refund.refund_no!r}") from None


@router.post(
    "/refunds/{refund_no}/bank-transfer",
    response_model=TransferOut,
    summary="A person decides a failed refund goes by bank transfer (back office)",
)
def fall_back(
    principal: OfficeReconciler, refund: VisibleRefund, body: FallBackIn, state: State
) -> TransferOut:
    done = state.engine.refund_needs_transfer(
        refund.refund_no, TransferReason.OTHER, body.reason, by=actor(principal, body.by)
    )
    return TransferOut.of(done)


@router.post(
    "/refunds/{refund_no}/bank-transfer/payee",
    response_model=TransferOut,
    summary="Record (or correct, until approved) who the transfer pays (back office, the maker)",
)
def record_payee(
    principal: OfficeReconciler, refund: VisibleRefund, body: PayeeIn, state: State
) -> TransferOut:
    payee = PayeeAccount(body.name, body.account, body.bank)
    done = RefundTransferDesk(state.engine).record_payee(
        refund.refund_no, payee, by=actor(principal, body.by), reason=body.reason
    )
    return TransferOut.of(done)


@router.post(
    "/refunds/{refund_no}/bank-transfer/approve",
    response_model=TransferOut,
    summary="Approve a recorded transfer (back office, the checker: never the maker)",
)
def approve(
    principal: OfficeReconciler, refund: VisibleRefund, body: ApproveIn, state: State
) -> TransferOut:
    done = RefundTransferDesk(state.engine).approve(
        refund.refund_no, checker=actor(principal, body.by), reason=body.reason
    )
    return TransferOut.of(done)


@router.post(
    "/refunds/{refund_no}/bank-transfer/confirm",
    response_model=TransferOut,
    summary="Confirm by hand, with a reason, that the bank paid a filed transfer (back office)",
)
def confirm(
    principal: OfficeReconciler,
    refund: VisibleRefund,
    body: ConfirmTransferIn,
    state: State,
    request: Request,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    def run() -> tuple[int, object]:
        how = TransferConfirmation(actor(principal, body.by), body.reason, body.statement_ref)
        done = RefundTransferDesk(state.engine).confirm(refund.refund_no, how)
        return 200, TransferOut.of(done).model_dump(mode="json")

    payload = (request.method, request.url.path, body.model_dump(mode="json"))
    return replay_or_run(state.engine, principal, idempotency_key, payload, run)


@router.get(
    "/refund-transfers",
    response_model=list[TransferOut],
    summary="Refunds going by bank transfer, by stage (back office)",
)
def list_transfers(
    principal: OfficeReader, state: State, stage: TransferStage | None = None
) -> list[TransferOut]:
    return [TransferOut.of(t) for t in RefundTransferDesk(state.engine).transfers(stage=stage)]


@router.post(
    "/refund-transfers/files",
    response_model=TransferFileOut,
    status_code=201,
    summary="Put the approved transfers into a new bank transfer file, journalled (back office)",
)
def make_file(
    principal: OfficeReconciler,
    body: TransferFileIn,
    state: State,
    request: Request,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    def run() -> tuple[int, object]:
        made = RefundTransferDesk(state.engine).file(
            by=actor(principal, body.by), refund_nos=body.refund_nos, encoding=body.encoding
        )
        out = TransferFileOut(
            file_no=made.file_no,
            count=made.count,
            total=format_yuan(made.total_fen),
            refund_nos=list(made.refund_nos),
            download=f"/v1/refund-transfers/files/{made.file_no}?encoding={body.encoding}",
        )
        return 201, out.model_dump(mode="json")

    payload = (request.method, request.url.path, body.model_dump(mode="json"))
    return replay_or_run(state.engine, principal, idempotency_key, payload, run)


@router.get(
    "/refund-transfers/files/{file_no}",
    summary="The bank transfer file as it went to the bank: CSV, accounts whole (back office)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_file(
    principal: OfficeReader,
    state: State,
    file_no: Annotated[str, Path(max_length=32)],
    encoding: Annotated[str, Query(pattern="^(utf-8-sig|gbk)$")] = "utf-8-sig",
) -> Response:
    made = RefundTransferDesk(state.engine).file_again(file_no, encoding=encoding)
    charset = "gbk" if encoding == "gbk" else "utf-8"
    return Response(
        made.content,
        media_type=f"text/csv; charset={charset}",
        headers={"Content-Disposition": f'attachment; filename="{made.file_no}.csv"'},
    )
