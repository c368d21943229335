"""``POST /v1/payments/{payment_id}/reverse``: the back office undoes (冲正) a payment that did
not complete cleanly. The bills are taken back, the journal reversed, the biller told through
the outbox. A back-office write key and an Idempotency-Key are required."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from billfold.adapters.http.approvals import PROPOSED, proposed_instead
from billfold.adapters.http.auth import ApiState, api_state
from billfold.adapters.http.backoffice import OfficeReconciler, actor
from billfold.adapters.http.idempotency import IdempotencyKey, replay_or_run
from billfold.adapters.http.models import PaymentOut
from billfold.adapters.http.models_ops import ReverseIn
from billfold.adapters.http.payments import VisiblePayment
from billfold.collection.payment import PaymentStatus

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["payments"])
State = Annotated[ApiState, Depends(api_state)]


@router.post(
    "/payments/{payment_id}/reverse",
    response_model=PaymentOut,
    summary="Reverse (冲正) a payment: back office only; 202 when it waits for a second person",
    responses=PROPOSED,
)
def reverse_payment(
    principal: OfficeReconciler,
    payment: VisiblePayment,
    body: ReverseIn,
    state: State,
    request: Request,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    def run() -> tuple[int, object]:
        proposal = None
        if payment.status is not PaymentStatus.REVERSED:  # a repeat answers the payment
            proposal = proposed_instead(
                state, principal, "payment.reverse",
                {"payment_id": payment.id, "reason": body.reason},
                by=body.operator, reason=body.reason, biller_id=payment.biller_id,
            )  # fmt: skip
        if proposal is not None:
            return proposal
        record = state.engine.reverse(
            payment.channel,
            payment.channel_txn_id,
            reason=body.reason,
            requested_by=actor(principal, body.operator),
            order_no=payment.order_no,
        )
        return 200, PaymentOut.of(record).model_dump(mode="json")

    payload = (request.method, request.url.path, body.model_dump(mode="json"))
    return replay_or_run(state.engine, principal, idempotency_key, payload, run)
