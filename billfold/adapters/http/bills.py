"""Bills: create one, import a CSV file, read, cancel, waive; look bills up by identifier.

A waiver takes an Idempotency-Key (required): the same key again answers what the first
request answered, and the engine keeps the waiver's request id unique per bill, so a retry
after a lost answer never waives twice."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from billfold.adapters.http.auth import ApiState, Bursar, Reader, VisibleBiller, api_state, hidden
from billfold.adapters.http.idempotency import IdempotencyKey, engine_key, replay_or_run
from billfold.adapters.http.keys import Principal
from billfold.adapters.http.models import (
    BillIn,
    BillOut,
    CancelIn,
    ChangeIn,
    ImportOut,
    LookupHit,
    PayerOut,
    WaiveIn,
)
from billfold.collection.bill import Bill, BillItem
from billfold.collection.bill_actions import BillChange
from billfold.collection.importer import ImportMode
from billfold.collection.payer import Payer
from billfold.errors import NotFound
from billfold.merchants.biller import Biller

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["bills"])
State = Annotated[ApiState, Depends(api_state)]


def _actor(principal: Principal, operator: str | None) -> str:
    return f"{operator} (api key {principal.key_id})" if operator else f"api key {principal.key_id}"


def _out(state: ApiState, biller: Biller, bill: Bill) -> BillOut:
    return BillOut.of(bill, state.engine.today(biller.code))


@router.post(
    "/billers/{code}/bills", response_model=BillOut, status_code=201, summary="Create one bill"
)
def create_bill(principal: Bursar, biller: VisibleBiller, body: BillIn, state: State) -> BillOut:
    payer = Payer(body.payer.kind, body.payer.identifier, body.payer.name, body.payer.phone)
    bill = Bill(
        biller_id=0,
        bill_no=body.bill_no,
        payer_id=0,
        items=[BillItem(i.code, i.name, i.amount, i.priority) for i in body.items],
        kind=body.kind,
        due_date=body.due_date,
        allow_partial=body.allow_partial,
        min_part_fen=body.min_part or 0,
        open_min_fen=body.open_min,
        open_max_fen=body.open_max,
        decision_no=body.decision_no,
        period=body.period,
        description=body.description,
    )
    return _out(state, biller, state.engine.add_bill(biller.code, payer, bill))


@router.post(
    "/billers/{code}/bills/import",
    response_model=ImportOut,
    summary="Import a bill file: CSV (UTF-8 or GBK; comma, tab or semicolon) or XLSX",
)
def import_bills(
    principal: Bursar,
    biller: VisibleBiller,
    state: State,
    file: Annotated[UploadFile, File(description="The bill CSV")],
    mode: Annotated[ImportMode, Form()] = ImportMode.ALL_OR_NOTHING,
    encoding: Annotated[str, Form(pattern="^(auto|utf-8|gbk)$")] = "auto",
    strict: Annotated[bool, Form(description="refuse unknown columns")] = False,
) -> ImportOut:
    name = (file.filename or "upload.csv")[:200]
    report = state.engine.import_bills(
        biller.code, file.file.read(), file_name=name, encoding=encoding, mode=mode, strict=strict
    )
    return ImportOut(
        file=name,
        created=report.created,
        unchanged=report.unchanged,
        rejected=report.rejected,
        errors=[str(e) for e in report.errors],
        warnings=[str(w) for w in report.warnings],
        changes=[str(c) for c in report.changes],
    )


@router.get("/billers/{code}/bills/{bill_no}", response_model=BillOut, summary="Get a bill")
def get_bill(principal: Reader, biller: VisibleBiller, bill_no: str, state: State) -> BillOut:
    return _out(state, biller, state.engine.bill(biller.code, bill_no))


@router.post(
    "/billers/{code}/bills/{bill_no}/cancel",
    response_model=BillOut,
    summary="Cancel an unpaid bill",
)
def cancel_bill(
    principal: Bursar, biller: VisibleBiller, bill_no: str, body: CancelIn, state: State
) -> BillOut:
    bill = state.engine.cancel_bill(
        biller.code, bill_no, reason=body.reason, by=_actor(principal, body.operator)
    )
    return _out(state, biller, bill)


# role: bursar|admin
@router.post(
    "/billers/{code}/bills/{bill_no}/change",
    response_model=BillOut,
    summary="Change a bill not yet paid: amounts, items, due date (a part-paid bill: never "
    "below what was paid)",
)
def change_bill(
    principal: Bursar, biller: VisibleBiller, bill_no: str, body: ChangeIn, state: State
) -> BillOut:
    change = BillChange(
        biller.code,
        bill_no,
        reason=body.reason,
        by=_actor(principal, body.operator),
        amount_fen=body.amount,
        items={i.code: i.amount for i in body.items},
        names={i.code: i.name for i in body.items if i.name},
        due_date=body.due_date,
        clear_due_date=body.clear_due_date,
    )
    return _out(state, biller, state.engine.change_bill(change))


@router.post(
    "/billers/{code}/bills/{bill_no}/waive",
    response_model=BillOut,
    summary="Waive (减免) part of what a bill owes, once per Idempotency-Key",
)
def waive_bill(
    principal: Bursar,
    biller: VisibleBiller,
    bill_no: str,
    body: WaiveIn,
    state: State,
    request: Request,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    def run() -> tuple[int, object]:
        bill = state.engine.waive(
            biller.code,
            bill_no,
            body.amount,
            reason=body.reason,
            granted_by=_actor(principal, body.operator),
            request_id=engine_key(principal, idempotency_key),
            item_code=body.item_code,
        )
        return 200, _out(state, biller, bill).model_dump(mode="json")

    payload = (request.method, request.url.path, body.model_dump(mode="json"))
    return replay_or_run(state.engine, principal, idempotency_key, payload, run)


@router.get(
    "/lookup",
    response_model=list[LookupHit],
    summary="Payable bills by payer identifier (学号, 户号, decision number …)",
)
def lookup(
    principal: Reader,
    state: State,
    identifier: Annotated[str, Query(min_length=1, max_length=64)],
    biller: Annotated[str | None, Query(max_length=32)] = None,
) -> list[LookupHit]:
    code = biller if biller is not None else principal.biller_code
    if code is not None:
        try:
            owner = state.engine.biller(code)
        except NotFound:
            raise hidden(f"biller {code!r}") from None
        if not principal.sees(owner.id):
            raise hidden(f"biller {code!r}")
    hits = []
    for found_biller, payer, bill in state.engine.bills_for(identifier, code):
        if not principal.sees(found_biller.id):  # never another tenant's bill
            continue
        masked = payer.masked()
        hits.append(
            LookupHit(
                biller_code=found_biller.code,
                biller_name=found_biller.name,
                payer=PayerOut(
                    kind=masked["kind"],
                    identifier=masked["identifier"],
                    name=masked["name"] or None,
                ),
                bill=_out(state, found_biller, bill),
            )
        )
    return hits
