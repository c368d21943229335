"""Find anything: the back office's lists over HTTP (``GET /v1/bills``, ``/v1/orders``,
``/v1/payments``, ``/v1/refunds``, ``/v1/suspense``, ``/v1/audit``, ``/v1/outbox/events``,
``/v1/outbox/deliveries``), and each as a download (``GET /v1/exports/bills?format=xlsx``
…: every page, Chinese headers and labels, personal data masked unless ``unmasked=true``
— a back-office key and a ``reason``, written to the audit log).

Filters are query parameters named as in :mod:`billfold.collection.lists`, with ``sort``
(``-created``: newest first), ``limit`` (1-500) and ``cursor`` (from the previous page's
``next_cursor``). An unknown parameter, a bad value or a bad cursor answers 400 naming it.
A biller's key sees only its biller — the filter is applied in SQL — and gets 404 for
another biller's code; the audit log, which names no biller, needs a back-office key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from billfold.adapters.http.auth import ApiState, Reader, api_state
from billfold.adapters.http.backoffice import OfficeReader, actor
from billfold.adapters.http.keys import Principal
from billfold.adapters.http.models import PageOut
from billfold.adapters.http.problems import ApiProblem
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


def _params(request: Request) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in params:
            raise BadQuery(f"{key}: give it once")
        params[key] = value
    return params


def _page(request: Request, state: ApiState, principal: Principal, name: str) -> PageOut:
    tenant = None if principal.back_office else principal.biller_id
    page = state.engine.find(name, _params(request), tenant=tenant)
    return PageOut(items=page.rows, next_cursor=page.next_cursor)


MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_EXPORT_ROWS = 100_000


def _export(request: Request, state: ApiState, principal: Principal, name: str) -> Response:
    params = _params(request)
    fmt = params.pop("format", "csv")
    if fmt not in MEDIA:
        raise BadQuery(f"format: {fmt!r}; use csv or xlsx")
    unmasked = params.pop("unmasked", "false").lower()
    if unmasked not in ("true", "false"):
        raise BadQuery(f"unmasked: {unmasked!r}; use true or false")
    reason, operator = params.pop("reason", ""), params.pop("operator", "")
    tenant = None if principal.back_office else principal.biller_id
    state.engine.find(name, {**params, "limit": "1"}, tenant=tenant)  # bad filters: refused
    who = ""
    if unmasked == "true":
        if not principal.back_office:
            raise ApiProblem(
                403, "back_office_only", "unmasked personal data needs a back-office key"
            )
        if len(reason) > 200 or len(operator) > 64:
            raise BadQuery("reason: at most 200 characters; operator: at most 64")
        who = actor(principal, operator or None)
    data = state.engine.export_list(
        name,
        params,
        "xlsx" if fmt == "xlsx" else "csv",
        tenant=tenant,
        unmasked=unmasked == "true",
        by=who,
        reason=reason,
        max_rows=MAX_EXPORT_ROWS,
    )
    return Response(
        data,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def _export_parameters(spec: ListSpec) -> dict[str, Any]:
    params = [p for p in _parameters(spec)["parameters"] if p["name"] not in ("limit", "cursor")]
    params += [
        {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["csv", "xlsx"]}},
        {
            "name": "unmasked",
            "in": "query",
            "description": "personal data in full: a back-office key and a reason (audited)",
            "schema": {"type": "boolean"},
        },
        {
            "name": "reason",
            "in": "query",
            "description": "why unmasked (audited)",
            "schema": {"type": "string"},
        },
        {
            "name": "operator",
            "in": "query",
            "description": "who asks (audited)",
            "schema": {"type": "string"},
        },
    ]
    return {"parameters": params}


def _route(path: str, name: str, summary: str, *, office: bool = False) -> None:
    if office:

        def office_list(request: Request, state: State, principal: OfficeReader) -> PageOut:
            return _page(request, state, principal, name)

        def office_export(request: Request, state: State, principal: OfficeReader) -> Response:
            return _export(request, state, principal, name)

        endpoint: Any = office_list
        download: Any = office_export
    else:

        def tenant_list(request: Request, state: State, principal: Reader) -> PageOut:
            return _page(request, state, principal, name)

        def tenant_export(request: Request, state: State, principal: Reader) -> Response:
            return _export(request, state, principal, name)

        endpoint, download = tenant_list, tenant_export
    endpoint.__name__ = f"list_{name}"
    download.__name__ = f"export_{name}"
    bad: dict[int | str, dict[str, Any]] = {
        400: {"description": "Unknown filter, bad value, sort, limit or cursor"}
    }
    router.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        response_model=PageOut,
        summary=summary,
        openapi_extra=_parameters(LISTS[name]),
        responses=bad,
    )
    router.add_api_route(
        "/exports" + path,
        download,
        methods=["GET"],
        response_class=Response,
        summary=f"{summary}: as CSV (UTF-8 with BOM) or XLSX, Chinese headers",
        tags=["exports"],
        openapi_extra=_export_parameters(LISTS[name]),
        responses={
            200: {"content": {MEDIA["csv"]: {}, MEDIA["xlsx"]: {}}, "description": "The file"},
            **bad,
        },
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
