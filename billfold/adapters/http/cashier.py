"""The payer pages (H5 cashier): what a phone opens after scanning a biller's aggregated QR.

Routes (no API key, not in the OpenAPI document, server-rendered HTML in Chinese):

* ``GET /pay/b/{biller}`` — the URL a biller's aggregated QR opens (:func:`cashier_path`):
  a market stall's page asks for the amount; any other biller's asks for the payer's
  identifier and, with ``?identifier=…``, lists that payer's bills;
* ``GET /pay/b/{biller}/bills/{bill_no}`` — one bill (the QR on a printed notice);
* ``POST /pay/b/{biller}/orders`` — the form: creates the order (once per ``request_id``)
  and starts it with the channel the scanner's app calls for (:func:`channel_for`);
* ``GET /pay/o/{order}`` — the payment page; under ``billfold serve --sandbox`` it carries
  the sandbox's pay button (``POST /pay/o/{order}/sandbox-pay``);
* ``GET /pay/o/{order}/result`` — the result page, polling ``GET /pay/o/{order}/status``
  (JSON) until the engine knows the outcome: it says 已支付 only when the order is paid;
* ``GET /pay/lookup`` — for payers without the QR: choose the biller, then search on its page
  (:mod:`.cashier_lookup`: a second factor where the biller asks for one, a rate per client).

An open-amount bill (a prepaid top-up, a deposit) is listed unticked with an amount field
and its bounds; the engine pays it on its own order, for the amount the payer states.

The scanner's app is judged from its User-Agent (:func:`billfold.channels.qr.route`); the
deployment's bank-app markers (``create_app(..., bank_app_markers=...)``) let the bank's own
app pay through mobile banking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from billfold.adapters.http.auth import ApiState, api_state
from billfold.adapters.http.cashier_lookup import (
    STALL_KINDS,
    check_refusal,
    clean_identifier,
    lookup_form,
    not_found,
    payable_groups,
    throttled,
)
from billfold.adapters.http.cashier_truth import already_paid_page, refuse_paid, truthful_view
from billfold.adapters.http.cashier_views import (
    CHANNEL_LABELS,
    FLOW_LABELS,
    esc,
    fragment,
    new_nonce,
    page,
)
from billfold.adapters.http.problems import problem
from billfold.channels.qr import DEFAULT_OPEN_BOUNDS, Flow, open_amount_order, route
from billfold.collection.bill import Bill, BillKind
from billfold.collection.order import Order
from billfold.collection.payer import IdentifierKind, Payer
from billfold.errors import BillsAlreadyPaid, Conflict, InvalidInput, InvariantViolated, NotFound
from billfold.merchants.biller import Biller
from billfold.merchants.channel_config import ChannelConfig, channel_refusal
from billfold.money import format_yuan, parse_yuan

__all__ = ["PREFERENCES", "cashier_path", "channel_for", "router"]

router = APIRouter(prefix="/pay", include_in_schema=False)

#: Channels each wallet's flow may pay through, best first. The aggregated QR (``qr``)
#: acquires for every wallet; WeChat Pay and Alipay directly need the payer's id in the
#: wallet, and mobile banking the bank's own app.
PREFERENCES: dict[Flow, tuple[str, ...]] = {
    Flow.WECHAT: ("wechatpay", "qr"),
    Flow.ALIPAY: ("alipay", "qr"),
    Flow.UNIONPAY: ("qr",),
    Flow.BANK_APP: ("mobile_banking", "qr"),
}
WALLET_ID_CHANNELS = frozenset({"wechatpay", "alipay"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_IDENTIFIER_LABELS = {
    IdentifierKind.STUDENT_NO: "学号",
    IdentifierKind.ACCOUNT_NO: "户号",
    IdentifierKind.DECISION_NO: "决定书编号",
    IdentifierKind.PHONE: "手机号",
    IdentifierKind.CONTRACT_NO: "合同号",
    IdentifierKind.ID_NUMBER: "证件号",
    IdentifierKind.OTHER: "编号",
}


def cashier_path(biller_code: str) -> str:
    """The path a biller's aggregated QR opens (prefix it with the service's base URL)."""
    return f"/pay/b/{quote(biller_code, safe='')}"


def channel_for(
    flow: Flow,
    biller_code: str,
    configs: Sequence[ChannelConfig],
    available: Collection[str],
    *,
    wallet_ids: bool,
) -> tuple[str | None, str | None]:
    """The channel a flow pays through for this biller, or ``None`` and why not.

    A channel qualifies when it is set up here, the biller has an enabled configuration for
    it and takes it (a designated sole channel refuses the others), and — for WeChat Pay
    and Alipay — the payer's id in the wallet is known (``wallet_ids``)."""
    refusal: str | None = None
    for name in PREFERENCES.get(flow, ()):
        why = channel_refusal(biller_code, configs, name)
        if why is None and not any(c.channel == name and c.enabled for c in configs):
            why = f"{name} is not configured for {biller_code}"
        if why is None and name not in available:
            why = f"{name} is not set up in this billfold"
        if why is None and name in WALLET_ID_CHANNELS and not wallet_ids:
            why = f"{name} needs the payer's id in the wallet"
        if why is None:
            return name, None
        refusal = refusal or why
    return None, refusal


# -- helpers ---------------------------------------------------------------------------------


def _sandbox(request: Request) -> object | None:
    return getattr(request.app.state, "sandbox", None)


def _payer_ref(request: Request, channel: str) -> str | None:
    sandbox = _sandbox(request)
    ref = getattr(sandbox, "payer_ref", None)
    return ref(channel) if callable(ref) else None


def _offers(request: Request, biller: Biller) -> tuple[list[tuple[Flow, str]], dict[str, str]]:
    """The flows this scanner may pay with (one when its app is known, else all that work),
    and why each other flow it could use cannot pay."""
    state = api_state(request)
    markers: tuple[str, ...] = getattr(request.app.state, "bank_app_markers", ())
    scan = route(request.headers.get("user-agent"), markers)
    flows = [scan.flow] if scan.flow is not Flow.CHOOSE else list(scan.options)
    configs = state.engine.channel_configs(biller.code)
    wallet_ids = _sandbox(request) is not None
    offers: list[tuple[Flow, str]] = []
    refusals: dict[str, str] = {}
    for flow in flows:
        channel, why = channel_for(
            flow, biller.code, configs, state.collector.channels, wallet_ids=wallet_ids
        )
        if channel is not None:
            offers.append((flow, channel))
        else:
            refusals[flow.value] = why or "no channel"
    return offers, refusals


def _pay_buttons(offers: list[tuple[Flow, str]], refusals: dict[str, str]) -> str:
    if not offers:
        refusal = next(iter(refusals.values()), "")
        return f'<p class="error" id="no-channel">暂不能在此页面缴费：{esc(refusal)}</p>'
    return "\n".join(
        f'<button type="submit" name="flow" value="{esc(flow.value)}">'
        f"使用{esc(FLOW_LABELS[flow])}支付</button>"
        for flow, _ in offers
    )


def _error(message: str) -> str:
    return f'<p class="error" id="error">{esc(message)}</p>' if message else ""


def _message_page(
    title: str, message: str, status_code: int, *, detail: str = "", heading: str | None = None
) -> Response:
    content = f'<div class="card"><h2 id="message">{esc(message)}</h2>'
    if detail:
        content += f'<p class="muted" id="detail">{esc(detail)}</p>'
    content += '<a class="button secondary" href="/pay/lookup">按户号 / 学号查询账单</a></div>'
    return page(title, content, heading=heading, status_code=status_code)


def _new_request_id() -> str:
    return new_nonce()[:22]


def _payer_line(payer: Payer) -> str:
    masked = payer.masked()
    label = _IDENTIFIER_LABELS.get(payer.kind, "编号")
    name = f" · {masked['name']}" if masked["name"] else ""
    return f"{label} {masked['identifier']}{name}"


def _open_row(bill: Bill, what: str, period: str) -> str:
    """An open-amount bill: unticked, with the amount field the payer fills in."""
    low = format_yuan(bill.open_min_fen or 0)
    high = format_yuan(bill.open_max_fen or 0)
    return (
        '<label class="bill open">'
        f'<input type="checkbox" name="bill_no" value="{esc(bill.bill_no)}">'
        f'<span class="what">{esc(what)}<br><span class="muted">'
        f"{esc(bill.bill_no)}{esc(period)} · "
        f'<span class="bounds">金额 {low}–{high} 元</span>，单独支付</span></span>'
        f'<span class="due"><input type="hidden" name="open_bill" value="{esc(bill.bill_no)}">'
        '<input class="open-amount" name="open_amount" type="text" inputmode="decimal" '
        f'autocomplete="off" maxlength="32" placeholder="{low}" '
        f'aria-label="{esc(bill.bill_no)} 金额（元）"> 元</span></label>'
    )


def _bill_rows(bills: Sequence[Bill], today: date) -> tuple[str, int, bool]:
    """The bills' rows, the total of the fixed ones (ticked), and whether any is open-amount."""
    rows: list[str] = []
    total = 0
    has_open = False
    for bill in bills:
        what = bill.description or "、".join(item.name for item in bill.items)
        period = f" · {bill.period}" if bill.period else ""
        if bill.kind is BillKind.OPEN:
            has_open = True
            rows.append(_open_row(bill, what, period))
            continue
        due = bill.amount_due_fen(today)
        late = bill.late_fee_fen(today)
        total += due
        extra = f" · 含滞纳金 ¥{format_yuan(late)}" if late else ""
        rows.append(
            '<label class="bill">'
            f'<input type="checkbox" name="bill_no" value="{esc(bill.bill_no)}" checked>'
            f'<span class="what">{esc(what)}<br><span class="muted">'
            f"{esc(bill.bill_no)}{esc(period)}{esc(extra)}</span></span>"
            f'<span class="due">¥{format_yuan(due)}</span></label>'
        )
    return "\n".join(rows), total, has_open


def _bills_form(
    request: Request, biller: Biller, payer: Payer, bills: Sequence[Bill], error: str = ""
) -> str:
    offers, refusals = _offers(request, biller)
    rows, total, has_open = _bill_rows(bills, api_state(request).engine.today(biller.code))
    return fragment(
        "bills",
        action=esc(f"{cashier_path(biller.code)}/orders"),
        payer=esc(_payer_line(payer)),
        bills=rows,
        total_note='<span class="muted">（不含自填金额的账单）</span>' if has_open else "",
        total=format_yuan(total),
        error=_error(error),
        request_id=esc(_new_request_id()),
        pay_buttons=_pay_buttons(offers, refusals),
    )


def _open_bounds(state: ApiState, biller: Biller) -> tuple[int, int]:
    for config in state.engine.channel_configs(biller.code):
        if config.channel == "qr":
            low = config.settings.get("open_min_fen", DEFAULT_OPEN_BOUNDS[0])
            high = config.settings.get("open_max_fen", DEFAULT_OPEN_BOUNDS[1])
            if isinstance(low, int) and isinstance(high, int):
                return low, high
    return DEFAULT_OPEN_BOUNDS


def _stall_page(
    request: Request, biller: Biller, amount: str = "", error: str = "", status_code: int = 200
) -> Response:
    state = api_state(request)
    offers, refusals = _offers(request, biller)
    low, high = _open_bounds(state, biller)
    content = fragment(
        "stall",
        action=esc(f"{cashier_path(biller.code)}/orders"),
        amount=esc(amount),
        low=format_yuan(low),
        high=format_yuan(high),
        error=_error(error),
        request_id=esc(_new_request_id()),
        pay_buttons=_pay_buttons(offers, refusals),
    )
    return page(
        f"向{biller.name}付款",
        content,
        heading=biller.name,
        subheading="扫码付款",
        status_code=status_code,
    )


def _biller_or_none(state: ApiState, code: str) -> Biller | None:
    try:
        return state.engine.biller(code)
    except NotFound:
        return None


def _unknown_biller(code: str) -> Response:
    return _message_page(
        "未找到收款方", "未找到该收款方", 404, detail=f"收款码无效或已停用（{code}）"
    )


def _lookup_results(request: Request, biller: Biller, identifier: str, given: str) -> str:
    groups = payable_groups(api_state(request), biller, identifier, given)
    if not groups:
        return not_found(identifier)
    cards = []
    for owner, payer, bills in groups:
        cards.append(
            f'<div class="card biller"><h2>{esc(owner.name)}</h2></div>'
            + _bills_form(request, owner, payer, bills)
        )
    return "\n".join(cards)


def _order_biller(state: ApiState, order: Order) -> Biller:
    with state.engine.uow() as uow:
        biller = uow.billers.get(order.biller_id)
    if biller is None:  # pragma: no cover - the foreign key forbids it
        raise NotFound(f"biller of order {order.order_no} does not exist")
    return biller


def _order_or_none(state: ApiState, order_no: str) -> Order | None:
    try:
        return state.engine.order(order_no)
    except NotFound:
        return None


def _unknown_order(order_no: str) -> Response:
    return _message_page("未找到订单", "未找到该订单", 404, detail=f"订单号 {order_no}")


def _order_path(order_no: str) -> str:
    return f"/pay/o/{quote(order_no, safe='')}"


# -- pages -----------------------------------------------------------------------------------


@router.get("/b/{biller_code}")
def biller_page(
    request: Request, biller_code: str, identifier: str | None = None, check: str | None = None
) -> Response:
    state = api_state(request)
    biller = _biller_or_none(state, biller_code)
    if biller is None:
        return _unknown_biller(biller_code)
    if biller.kind in STALL_KINDS:
        return _stall_page(request, biller)
    text, error = clean_identifier(identifier)
    given = (check or "").strip()
    if text and not error:
        error = check_refusal(biller, given)
    results = ""
    if error:
        results = f'<div class="card">{_error(error)}</div>'
    elif text:
        refused = throttled(request)
        if refused is not None:
            return refused
        results = _lookup_results(request, biller, text, given)
    content = lookup_form(cashier_path(biller.code), biller, text, given, results)
    return page(
        f"{biller.name} 缴费",
        content,
        heading=biller.name,
        subheading="输入户号 / 学号查询账单",
        status_code=422 if error else 200,
    )


@router.get("/b/{biller_code}/bills/{bill_no}")
def bill_page(request: Request, biller_code: str, bill_no: str) -> Response:
    refused = throttled(request)  # bill numbers can be guessed too
    if refused is not None:
        return refused
    state = api_state(request)
    biller = _biller_or_none(state, biller_code)
    if biller is None:
        return _unknown_biller(biller_code)
    try:
        bill = state.engine.bill(biller.code, bill_no)
    except NotFound:
        return _message_page(
            "未找到账单", "未找到该账单", 404, detail=f"账单号 {bill_no}", heading=biller.name
        )
    if not bill.payable:
        status = bill.status(state.engine.today(biller.code)).value
        words = {"paid": "已缴清", "cancelled": "已撤销", "refunded": "已退款"}
        return _message_page(
            "无需缴费",
            f"该账单{words.get(status, '无需缴费')}",
            200,
            detail=f"账单号 {bill.bill_no}",
            heading=biller.name,
        )
    with state.engine.uow() as uow:
        payer = uow.payers.get(bill.payer_id)
    if payer is None:
        raise InvariantViolated("payer is missing")
    content = _bills_form(request, biller, payer, [bill])
    ask = f"/pay/b/{quote(biller.code, safe='')}/complaints?bill_no={quote(bill.bill_no, safe='')}"
    content += (
        f'<a class="button secondary" id="complain" href="{esc(ask)}">'
        "已付款但仍显示未缴？提交查询</a>"
    )
    return page(f"{biller.name} 缴费", content, heading=biller.name, subheading="账单缴费")


def _stated_amount(chosen: list[str], open_bills: list[str], amounts: list[str]) -> int | None:
    """The amount the payer typed for the open-amount bill ticked, in fen; ``None`` when no
    open-amount bill is ticked, its field is empty, or several are ticked (the engine then
    says what is wrong). The fields come in pairs: the bill's number and its amount."""
    if len(open_bills) != len(amounts):
        raise InvalidInput("amount: the page is out of date; open it again")
    typed = dict(zip(open_bills, amounts, strict=True))
    stated = [typed[no].strip() for no in chosen if no in typed]
    if len(stated) != 1 or not stated[0]:
        return None
    return parse_yuan(stated[0], field="amount")


def _start(request: Request, order: Order, channel: str) -> None:
    state = api_state(request)
    if order.status.value == "paying" and order.channel == channel:
        return  # the same form submitted again: the channel has it already
    if order.payable:
        refuse_paid(state.engine, order)
        state.collector.start(order.order_no, channel, payer_ref=_payer_ref(request, channel))


@router.post("/b/{biller_code}/orders")
def create_order(
    request: Request,
    biller_code: str,
    request_id: Annotated[str, Form(max_length=64)] = "",
    flow: Annotated[str, Form(max_length=32)] = "",
    bill_no: Annotated[list[str] | None, Form()] = None,
    amount: Annotated[str, Form(max_length=32)] = "",
    open_bill: Annotated[list[str] | None, Form()] = None,
    open_amount: Annotated[list[str] | None, Form()] = None,
) -> Response:
    state = api_state(request)
    biller = _biller_or_none(state, biller_code)
    if biller is None:
        return _unknown_biller(biller_code)
    stall = biller.kind in STALL_KINDS
    offers, refusals = _offers(request, biller)
    channel = next((c for f, c in offers if f.value == flow), None)

    def again(message: str, status_code: int) -> Response:
        if stall:
            return _stall_page(request, biller, amount, message, status_code)
        return _message_page(
            "无法缴费", "无法发起缴费", status_code, detail=message, heading=biller.name
        )

    if not _REQUEST_ID.fullmatch(request_id):
        return again("request_id: the page is out of date; open it again", 422)
    if channel is None:
        why = refusals.get(flow, "not a way this app pays")
        return again(f"flow: {flow or '(none)'} cannot pay here ({why})", 422)
    try:
        if stall:
            fen = parse_yuan(amount, field="amount")
            order = open_amount_order(state.engine, biller.code, fen, request_id=request_id)
        else:
            if not bill_no:
                raise InvalidInput("bill_no: choose at least one bill")
            order = state.engine.create_order(
                biller.code,
                bill_no,
                amount_fen=_stated_amount(bill_no, open_bill or [], open_amount or []),
                idempotency_key=f"cashier:{request_id}",
            )
        _start(request, order, channel)
    except NotFound as exc:
        return again(exc.message, 404)
    except BillsAlreadyPaid as exc:
        if biller.id is None:
            raise InvariantViolated("biller.id is missing") from None
        return already_paid_page(state.engine, biller.id, biller.name, exc.bill_nos)
    except InvalidInput as exc:
        return again(exc.message, 422)
    except Conflict as exc:
        return again(exc.message, 409)
    return RedirectResponse(_order_path(order.order_no), status_code=303)


def _instruction(order: Order, sandbox: bool) -> str:
    label = CHANNEL_LABELS.get(order.channel or "", order.channel or "")
    if sandbox:
        return f"沙箱模式：已通过{label}发起支付，点击下方按钮模拟付款人完成付款。"
    return f"已通过{label}发起支付，请在应用中确认付款，完成后查看支付结果。"


@router.get("/o/{order_no}")
def order_page(request: Request, order_no: str) -> Response:
    state = api_state(request)
    order = _order_or_none(state, order_no)
    if order is None:
        return _unknown_order(order_no)
    path = _order_path(order.order_no)
    if not order.payable or order.channel is None:
        return RedirectResponse(f"{path}/result", status_code=303)
    biller = _order_biller(state, order)
    sandbox = _sandbox(request) is not None
    button = ""
    if sandbox:
        button = (
            f'<form method="post" action="{esc(path)}/sandbox-pay">'
            f'<button class="sandbox" type="submit" id="sandbox-pay">'
            f"沙箱付款 ¥{format_yuan(order.total_fen)}</button></form>"
            '<p class="sandbox-note">沙箱环境：不会产生真实扣款，支付结果由沙箱通知确认。</p>'
        )
    content = fragment(
        "order",
        amount=format_yuan(order.total_fen),
        biller=esc(biller.name),
        bills=esc("、".join(sorted({line.bill_no for line in order.lines}))),
        order_no=esc(order.order_no),
        channel=esc(CHANNEL_LABELS.get(order.channel, order.channel)),
        instruction=esc(_instruction(order, sandbox)),
        sandbox=button,
        result_url=esc(f"{path}/result"),
    )
    return page("确认支付", content, heading=biller.name, subheading="确认支付")


@router.post("/o/{order_no}/sandbox-pay")
async def sandbox_pay(request: Request, order_no: str) -> Response:
    state = api_state(request)
    sandbox = _sandbox(request)
    if sandbox is None:
        return _message_page("沙箱未启用", "沙箱未启用", 404, detail="本服务未以沙箱模式运行")
    order = await run_in_threadpool(_order_or_none, state, order_no)
    if order is None:
        return _unknown_order(order_no)
    path = _order_path(order.order_no)
    if order.payable and order.channel is not None:
        try:
            sandbox.pay(order.channel, order.order_no)  # type: ignore[attr-defined]
        except KeyError:
            return _message_page(
                "无法付款", "该订单未在沙箱中发起", 409, detail=f"订单号 {order.order_no}"
            )
        sandbox.deliver_later(request.app)  # type: ignore[attr-defined]
    return RedirectResponse(f"{path}/result", status_code=303)


@router.get("/o/{order_no}/result")
def result_page(request: Request, order_no: str) -> Response:
    state = api_state(request)
    order = _order_or_none(state, order_no)
    if order is None:
        return _unknown_order(order_no)
    biller = _order_biller(state, order)
    view = truthful_view(state.engine, order)
    content = fragment(
        "result",
        css=esc(view.css),
        status=esc(view.status),
        label=esc(view.label),
        hint=esc(view.hint),
        biller=esc(biller.name),
        amount=format_yuan(order.total_fen),
        order_no=esc(order.order_no),
    )
    script, nonce = "", None
    if not view.final:
        nonce = new_nonce()
        status_url = json.dumps(f"{_order_path(order.order_no)}/status")[1:-1]
        script = fragment("poll", nonce=esc(nonce), status_url=status_url.replace("/", "\\/"))
    return page(
        "支付结果",
        content,
        heading=biller.name,
        subheading="支付结果",
        script=script,
        nonce=nonce,
    )


@router.get("/o/{order_no}/status")
def order_status(request: Request, order_no: str) -> JSONResponse:
    state = api_state(request)
    order = _order_or_none(state, order_no)
    if order is None:
        return problem(request, 404, "not_found", f"order {order_no!r} does not exist")
    view = truthful_view(state.engine, order)
    body = {
        "order_no": order.order_no,
        "status": view.status,
        "paid": order.status.value in ("paid", "partially_refunded"),
        "final": view.final,
        "label": view.label,
        "hint": view.hint,
        "css": view.css,
        "amount": format_yuan(order.total_fen),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
