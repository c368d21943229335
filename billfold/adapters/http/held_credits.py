"""``POST /v1/payments/{payment_id}/credit``: after review, the back office credits a payment
held for an amount mismatch to its order's bills, exactly once (the excess, if any, goes back
through a queued refund). A back-office write key and an Idempotency-Key are required."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from billfold.adapters.http.auth import ApiState, api_state
from billfold.adapters.http.backoffice import OfficeReconciler, actor
from billfold.adapters.http.idempotency import IdempotencyKey, replay_or_run
from billfold.adapters.http.models import PaymentOut, Reason, _In
from billfold.adapters.http.models_ops import Who
from billfold.adapters.http.payments import VisiblePayment

__all__ = ["CreditHeldIn", "router"]

router = APIRouter(prefix="/v1", tags=["payments"])
State = Annotated[ApiState, Depends(api_state)]


class CreditHeldIn(_In):
    reason: Reason
    operator: Who | None = None


@router.post(
    "/payments/{payment_id}/credit",
    response_model=PaymentOut,
    summary="Credit a held payment to its order after review: back office only",
)
def credit_held_payment(
    principal: OfficeReconciler,
    payment: VisiblePayment,
    body: CreditHeldIn,
    state: State,
    request: Request,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    def run() -> tuple[int, object]:
        result = state.engine.credit_held(
            payment.id, by=actor(principal, body.operator), reason=body.reason
        )
        return 200, PaymentOut.of(result.payment).model_dump(mode="json")

    payload = (request.method, request.url.path, body.model_dump(mode="json"))
    return replay_or_run(state.engine, principal, idempotency_key, payload, run)
