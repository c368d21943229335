"""Find anything: the back office's lists over HTTP (``GET /v1/bills``, ``/v1/orders``,
``/v1/payments``, ``/v1/refunds``, ``/v1/suspense``, ``/v1/audit``, ``/v1/outbox/events``,
``/v1/outbox/deliveries``).

Filters are query parameters named as in :mod:`billfold.collection.lists`, with ``sort``
(``-created``: newest first), ``limit`` (1-500) and ``cursor`` (from the previous page's
``next_cursor``). An unknown parameter, a bad value or a bad cursor answers 400 naming it.
A biller's key sees only its biller — the filter is applied in SQL — and gets 404 for
another biller's code; the audit log, which names no biller, needs a back-office key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from billfold.adapters.http.auth import ApiState, Reader, api_state
from billfold.adapters.http.backoffice import OfficeReader
from billfold.adapters.http.keys import Principal
from billfold.adapters.http.models import PageOut
from billfold.collection.listing import ListSpec
from billfold.collection.lists import LISTS
from billfold.errors import BadQuery

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["lists"])
State = Annotated[ApiState, Depends(api_state)]
_KINDS = {"date": "date", "datetime": "date-time"}


def _parameters(spec: ListSpec) -> dict[str, Any]:
    """The list's filters in the OpenAPI document (they are read from the query string)."""
    params: list[dict[str, Any]] = []
    for f in spec.filters:
        schema: dict[str, Any] = {"type": "string"}
        if f.choices:
            schema["enum"] = list(f.choices)
        if f.kind in _KINDS:
            schema["format"] = _KINDS[f.kind]
        params.append({"name": f.name, "in": "query", "description": f.help, "schema": schema})
    params += [
        {
            "name": "sort",
            "in": "query",
            "description": "Sort key; a leading '-' sorts descending",
            "schema": {"type": "string", "enum": spec.sort_names()},
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
        },
        {
            "name": "cursor",
            "in": "query",
            "description": "next_cursor of the previous page",
            "schema": {"type": "string"},
        },
    ]
    return {"parameters": params}


def _page(request: Request, state: ApiState, principal: Principal, name: str) -> PageOut:
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in params:
            raise BadQuery(f"{key}: give it once")
        params[key] = value
    tenant = None if principal.back_office else principal.biller_id
    page = state.engine.find(name, params, tenant=tenant)
    return PageOut(items=page.rows, next_cursor=page.next_cursor)


def _route(path: str, name: str, summary: str, *, office: bool = False) -> None:
    spec = LISTS[name]
    extra = _parameters(spec)
    if office:

        def office_list(request: Request, state: State, principal: OfficeReader) -> PageOut:
            return _page(request, state, principal, name)

        endpoint: Any = office_list
    else:

        def tenant_list(request: Request, state: State, principal: Reader) -> PageOut:
            return _page(request, state, principal, name)

        endpoint = tenant_list
    endpoint.__name__ = f"list_{name}"
    router.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        response_model=PageOut,
        summary=summary,
        openapi_extra=extra,
        responses={400: {"description": "Unknown filter, bad value, sort, limit or cursor"}},
    )


# role: bursar|reconciler|supervisor|admin
_route("/bills", "bills", "List and search bills")
# role: bursar|reconciler|supervisor|admin
_route("/orders", "orders", "List and search orders")
# role: bursar|reconciler|supervisor|admin
_route("/payments", "payments", "List and search payments")
# role: bursar|reconciler|admin
_route("/refunds", "refunds", "List and search refunds")
# role: reconciler|admin
_route(
    "/suspense",
    "suspense",
    "Money held for review or in suspense: why, its refund, what is left to do",
)
# role: supervisor|admin
_route("/audit", "audit", "The audit log: who did what, when and why", office=True)
# role: admin
_route("/outbox/events", "outbox_events", "Events written to the outbox")
# role: admin
_route("/outbox/deliveries", "deliveries", "Webhook deliveries (status=dead: the dead letters)")
