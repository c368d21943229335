"""``POST /v1/orders/{order_no}/pay``: ask a channel to collect an order, and hand back what
the payer or terminal needs (a QR payload, wallet parameters, a prompt …), in the channel's
own words. The biller's channel rules (sole channel, enabled channels) are checked first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from billfold.adapters.http.auth import ApiState, Bursar, api_state
from billfold.adapters.http.cashier_truth import refuse_paid
from billfold.adapters.http.idempotency import replay_or_run
from billfold.adapters.http.models import OrderOut
from billfold.adapters.http.models_ops import PayIn, PayOut
from billfold.adapters.http.optional_key import OptionalIdempotencyKey
from billfold.adapters.http.orders import VisibleOrder
from billfold.errors import InvalidInput, InvariantViolated

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["orders"])
State = Annotated[ApiState, Depends(api_state)]


@router.post(
    "/orders/{order_no}/pay",
    response_model=PayOut,
    summary="Start paying an order through a channel; answers what the payer or terminal needs",
)
def pay_order(
    principal: Bursar,
    order: VisibleOrder,
    body: PayIn,
    state: State,
    request: Request,
    idempotency_key: OptionalIdempotencyKey = None,
) -> JSONResponse:
    collector = state.collector

    def run() -> tuple[int, object]:
        if body.channel not in collector.channels:
            known = ", ".join(sorted(collector.channels)) or "none"
            raise InvalidInput(
                f"channel: {body.channel!r} is not set up in this billfold; set up: {known}"
            )
        refuse_paid(state.engine, order)  # before any channel is asked to collect
        started = collector.start(order.order_no, body.channel, payer_ref=body.payer_ref)
        fresh = state.engine.order(order.order_no)
        with state.engine.uow() as uow:
            biller = uow.billers.get(fresh.biller_id)
        if biller is None:
            raise InvariantViolated("biller is missing")
        return 200, PayOut.of(started, OrderOut.of(fresh, biller.code)).model_dump(mode="json")

    if idempotency_key is None:
        status, answer = run()
        return JSONResponse(answer, status_code=status)
    payload = (request.method, request.url.path, body.model_dump(mode="json"))
    return replay_or_run(state.engine, principal, idempotency_key, payload, run)
