"""Orders: created for one or more bills (the engine computes the total), and read back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from billfold.adapters.http.auth import ApiState, Bursar, Reader, VisibleBiller, api_state, hidden
from billfold.adapters.http.backoffice import actor
from billfold.adapters.http.idempotency import IdempotencyKey, engine_key, replay_or_run
from billfold.adapters.http.models import CancelIn, OrderIn, OrderOut
from billfold.adapters.http.problems import ApiProblem
from billfold.collection.order import Order
from billfold.errors import NotFound

__all__ = ["router", "visible_order"]

router = APIRouter(prefix="/v1", tags=["orders"])
State = Annotated[ApiState, Depends(api_state)]


def _biller_code(state: ApiState, biller_id: int) -> str:
    with state.engine.uow() as uow:
        biller = uow.billers.get(biller_id)
    if biller is None:
        raise ApiProblem(500, "internal_error", f"order biller {biller_id} is missing")
    return biller.code


def visible_order(
    principal: Reader, state: State, order_no: Annotated[str, Path(max_length=64)]
) -> Order:
    try:
        order = state.engine.order(order_no)
    except NotFound:
        raise hidden(f"order {order_no!r}") from None
    if not principal.sees(order.biller_id):
        raise hidden(f"order {order_no!r}")
    return order


@router.post(
    "/billers/{code}/orders",
    response_model=OrderOut,
    status_code=201,
    summary="Create an order for one payer's bills; the engine computes the total",
)
def create_order(
    principal: Bursar,
    biller: VisibleBiller,
    body: OrderIn,
    state: State,
    request: Request,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    def run() -> tuple[int, object]:
        order = state.engine.create_order(
            biller.code,
            body.bill_nos,
            amount_fen=body.amount,
            idempotency_key=engine_key(principal, idempotency_key),
        )
        return 201, OrderOut.of(order, biller.code).model_dump(mode="json")

    payload = (request.method, request.url.path, body.model_dump(mode="json"))
    return replay_or_run(state.engine, principal, idempotency_key, payload, run)


VisibleOrder = Annotated[Order, Depends(visible_order)]


@router.get("/orders/{order_no}", response_model=OrderOut, summary="Get an order")
def get_order(order: VisibleOrder, state: State) -> OrderOut:
    return OrderOut.of(order, _biller_code(state, order.biller_id))


# role: bursar|admin
@router.post(
    "/orders/{order_no}/cancel",
    response_model=OrderOut,
    summary="Cancel an order nobody is paying yet (a payment arriving later goes to suspense "
    "and is refunded)",
)
def cancel_order(principal: Bursar, order: VisibleOrder, body: CancelIn, state: State) -> OrderOut:
    cancelled = state.engine.cancel_order(
        order.order_no,
        reason=body.reason,
        by=actor(principal, body.operator),
        biller_id=None if principal.back_office else principal.biller_id,
    )
    return OrderOut.of(state.engine.order(cancelled.order_no), _biller_code(state, order.biller_id))
