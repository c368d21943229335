"""The payer pages' complaints (缴费查询 / 投诉): a payer opens one by bill number and the
reference on their payment receipt, and follows it with the bill number and the complaint
number. The engine answers the common case at once (it asks the channel and credits what
arrived). Same rules as every payer page: no API key, Chinese text, no script, strict CSP.

* ``GET /pay/b/{biller}/complaints`` — the forms (``?bill_no=`` fills the bill number);
* ``POST /pay/b/{biller}/complaints`` — opens it, then shows its page (303);
* ``GET /pay/b/{biller}/complaints/{complaint_no}?bill_no=…`` — its progress; the bill
  number must match, so a complaint number alone shows nothing.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from billfold.adapters.http.auth import ApiState, api_state
from billfold.adapters.http.cashier_views import esc, fragment, page
from billfold.clock import DEFAULT_TZ
from billfold.errors import InvalidInput, NotFound
from billfold.labels import label
from billfold.merchants.biller import Biller
from billfold.settlement.complaint import Complaint, ComplaintKind, ComplaintSource, ComplaintStatus
from billfold.settlement.complaints import ComplaintDesk, NewComplaint

__all__ = ["complaints_path", "router"]

router = APIRouter(prefix="/pay", include_in_schema=False)

#: What a payer may complain about on the page (anything else goes through a clerk).
PAYER_KINDS = (
    ComplaintKind.PAID_NOT_CREDITED,
    ComplaintKind.CHARGED_TWICE,
    ComplaintKind.WRONG_AMOUNT,
)
_CSS = {
    ComplaintStatus.RESOLVED: "paid",
    ComplaintStatus.REJECTED: "failed",
}


def complaints_path(biller_code: str) -> str:
    return f"/pay/b/{quote(biller_code, safe='')}/complaints"


def _desk(state: ApiState) -> ComplaintDesk:
    return ComplaintDesk(state.engine, state.collector.requery)


def _biller(state: ApiState, code: str) -> Biller | None:
    try:
        return state.engine.biller(code)
    except NotFound:
        return None


def _not_found(title: str, detail: str, heading: str | None = None) -> Response:
    content = (
        f'<div class="card"><h2 id="message">{esc(title)}</h2>'
        f'<p class="muted" id="detail">{esc(detail)}</p></div>'
    )
    return page(title, content, heading=heading, status_code=404)


def _form(
    biller: Biller, *, bill_no: str = "", kind: str = "", ref: str = "", text: str = "",
    error: str = "", status_code: int = 200,
) -> Response:  # fmt: skip
    kinds = "\n".join(
        f'<option value="{k.value}"{" selected" if k.value == kind else ""}>'
        f"{esc(label('complaint_kind', k))}</option>"
        for k in PAYER_KINDS
    )
    path = complaints_path(biller.code)
    content = fragment(
        "complaint_form",
        action=esc(path),
        follow=esc(f"{path}/follow"),
        bill_no=esc(bill_no),
        kinds=kinds,
        channel_ref=esc(ref),
        description=esc(text),
        error=f'<p class="error" id="error">{esc(error)}</p>' if error else "",
    )
    return page(
        f"{biller.name} 缴费查询",
        content,
        heading=biller.name,
        subheading="缴费查询 / 投诉",
        status_code=status_code,
    )


@router.get("/b/{biller_code}/complaints")
def complaint_form(request: Request, biller_code: str, bill_no: str = "") -> Response:
    biller = _biller(api_state(request), biller_code)
    if biller is None:
        return _not_found("未找到收款方", f"收款方编号 {biller_code}")
    return _form(biller, bill_no=bill_no[:64])


@router.post("/b/{biller_code}/complaints")
def open_complaint(
    request: Request,
    biller_code: str,
    bill_no: Annotated[str, Form(max_length=64)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    channel_ref: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    state = api_state(request)
    biller = _biller(state, biller_code)
    if biller is None:
        return _not_found("未找到收款方", f"收款方编号 {biller_code}")
    fields = {"bill_no": bill_no.strip(), "kind": kind, "ref": channel_ref.strip()}
    try:
        chosen = ComplaintKind(kind)
        if chosen not in PAYER_KINDS:
            raise ValueError(kind)
    except ValueError:
        return _form(biller, **fields, text=description, error="请选择问题类型", status_code=400)
    try:
        req = NewComplaint(
            biller.code,
            chosen,
            "缴费人",
            ComplaintSource.PAYER,
            bill_no=fields["bill_no"],
            channel_ref=fields["ref"],
            description=description.strip(),
        )
        opened = _desk(state).open(req)
    except InvalidInput:
        error = "请填写账单号和付款凭证号（字母、数字，最多 64 位）"
        return _form(biller, **fields, text=description, error=error, status_code=400)
    except NotFound:
        error = f"未找到账单 {fields['bill_no']}，请核对账单号"
        return _form(biller, **fields, text=description, error=error, status_code=404)
    where = f"{complaints_path(biller.code)}/{quote(opened.complaint_no, safe='')}"
    return RedirectResponse(f"{where}?bill_no={quote(opened.bill_no or '', safe='')}", 303)


@router.get("/b/{biller_code}/complaints/follow")
def follow(
    request: Request, biller_code: str, bill_no: str = "", complaint_no: str = ""
) -> Response:
    where = f"{complaints_path(biller_code)}/{quote(complaint_no.strip()[:32], safe='')}"
    return RedirectResponse(f"{where}?bill_no={quote(bill_no.strip()[:64], safe='')}", 303)


@router.get("/b/{biller_code}/complaints/{complaint_no}")
def complaint_page(
    request: Request, biller_code: str, complaint_no: str, bill_no: str = ""
) -> Response:
    state = api_state(request)
    biller = _biller(state, biller_code)
    if biller is None:
        return _not_found("未找到收款方", f"收款方编号 {biller_code}")
    try:
        found = _desk(state).for_payer(biller.code, bill_no, complaint_no)
    except NotFound:
        return _not_found("未找到查询", "请核对账单号和查询编号", heading=biller.name)
    return page(f"{biller.name} 查询进度", _view(found), heading=biller.name, subheading="缴费查询")


def _view(c: Complaint) -> str:
    due = c.due_at.astimezone(ZoneInfo(DEFAULT_TZ))
    return fragment(
        "complaint",
        css=_CSS.get(c.status, ""),
        status=esc(c.status.value),
        status_label=esc(label("complaint_status", c.status)),
        answer=esc(label("complaint_answer", c.answer) if c.answer else "已受理，等待处理"),
        complaint_no=esc(c.complaint_no),
        bill_no=esc(c.bill_no or ""),
        kind=esc(label("complaint_kind", c.kind)),
        channel_ref=esc(c.channel_ref or "-"),
        resolution=esc(c.resolution or "处理中"),
        due=esc(f"{due:%Y-%m-%d %H:%M}"),
    )
