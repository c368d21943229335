"""Payments (read) and their refunds (create with an Idempotency-Key, read; a counter
refund's cash confirmed by the cashier)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from billfold.adapters.http.approvals import PROPOSED, proposed_instead
from billfold.adapters.http.auth import ApiState, Reader, Reconciler, api_state, hidden, require
from billfold.adapters.http.idempotency import IdempotencyKey, engine_key, replay_or_run
from billfold.adapters.http.keys import Principal
from billfold.adapters.http.models import CashOutIn, PaymentOut, RefundIn, RefundOut
from billfold.channels.counter import confirm_cash_refund
from billfold.collection.payment import PaymentRecord
from billfold.collection.refund import RefundRecord
from billfold.errors import NotFound
from billfold.merchants.roles import Role

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["payments"])
State = Annotated[ApiState, Depends(api_state)]
PaymentId = Annotated[int, Path(ge=1, le=2**62)]
CashDesk = Annotated[Principal, require(Role.BURSAR, Role.RECONCILER)]  # the counter's cashier


def visible_payment(principal: Reader, state: State, payment_id: PaymentId) -> PaymentRecord:
    try:
        payment = state.engine.payment(payment_id)
    except NotFound:
        raise hidden(f"payment {payment_id}") from None
    if not principal.sees(payment.biller_id):
        raise hidden(f"payment {payment_id}")
    return payment


def visible_refund(
    principal: Reader, state: State, refund_no: Annotated[str, Path(max_length=64)]
) -> RefundRecord:
    with state.engine.uow() as uow:
        refund = uow.refunds.get_by_no(refund_no)
        payment = uow.payments.get(refund.payment_id) if refund is not None else None
    if refund is None or payment is None or not principal.sees(payment.biller_id):
        raise hidden(f"refund {refund_no!r}")
    return refund


VisiblePayment = Annotated[PaymentRecord, Depends(visible_payment)]
VisibleRefund = Annotated[RefundRecord, Depends(visible_refund)]


@router.get("/payments/{payment_id}", response_model=PaymentOut, summary="Get a payment")
def get_payment(payment: VisiblePayment) -> PaymentOut:
    return PaymentOut.of(payment)


@router.post(
    "/payments/{payment_id}/refunds",
    response_model=RefundOut,
    status_code=201,
    summary="Refund part or all of a payment (paid out to the payer by the channel later); "
    "202 when it is above the biller's threshold and waits for a second person",
    responses=PROPOSED,
)
def create_refund(
    principal: Reconciler,
    payment: VisiblePayment,
    body: RefundIn,
    state: State,
    request: Request,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    def run() -> tuple[int, object]:
        payload = {
            "payment_id": payment.id, "amount_fen": body.amount, "reason": body.reason,
            "request_id": engine_key(principal, idempotency_key),
        }  # fmt: skip
        proposal = proposed_instead(
            state, principal, "refund", payload, by=None, reason=body.reason,
            biller_id=payment.biller_id, amount_fen=body.amount,
        )  # fmt: skip
        if proposal is not None:
            return proposal
        refund = state.engine.refund(
            payment.id,
            body.amount,
            request_id=engine_key(principal, idempotency_key),
            reason=body.reason,
            requested_by=f"api key {principal.key_id}",
        )
        return 201, RefundOut.of(refund).model_dump(mode="json")

    payload = (request.method, request.url.path, body.model_dump(mode="json"))
    return replay_or_run(state.engine, principal, idempotency_key, payload, run)


@router.post(
    "/refunds/{refund_no}/confirm-cash",
    response_model=RefundOut,
    summary="The cashier paid a counter refund out in cash: it succeeds (a repeat changes nothing)",
)
def confirm_cash(
    principal: CashDesk, refund: VisibleRefund, body: CashOutIn, state: State
) -> RefundOut:
    return RefundOut.of(confirm_cash_refund(state.engine, refund.refund_no, by=body.by))


@router.get("/refunds/{refund_no}", response_model=RefundOut, summary="Get a refund")
def get_refund(refund: VisibleRefund) -> RefundOut:
    return RefundOut.of(refund)
