"""Bursar (a utility's clerk): bills — search (bill number, payer, class, status, period) in
keyset pages, a bill's detail with its timeline (orders, payments, refunds, waivers,
changes, reminders: who and why), and waive / change / cancel with a required reason.

The actions are the use cases the API's ``/v1/billers/{code}/bills/{bill_no}/…`` routes use;
none of them has a maker-checker kind (``billfold.maker_checker``): they act at once, audited.
A waiver carries a request id made when the page was drawn, so pressing twice waives once.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Form, Request, Response

from billfold.adapters.http.console.guard import BillerInPath, Reason, User, pages, role
from billfold.adapters.http.console.lists import list_view
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import PREFIX, Refusal, add_nav, console_state, done, render
from billfold.clock import ensure_utc
from billfold.collection.bill import BillStatus
from billfold.collection.bill_actions import BillChange
from billfold.collection.timeline import Happening, TimelineEntry
from billfold.errors import InvalidInput
from billfold.labels import label
from billfold.masking import mask_name, mask_phone
from billfold.merchants.biller import Biller
from billfold.merchants.roles import Role
from billfold.money import format_yuan, parse_yuan

__all__ = ["router"]

router = pages()
Bursar = Annotated[ConsoleUser, role(Role.BURSAR)]
add_nav("账单", f"{PREFIX}/bills", order=10)
FILTERS = (("bill_no", "账单号"), ("payer", "缴费人（编号或姓名）"), ("sub_unit", "班级/单位"),
           ("period", "账期"))  # fmt: skip
STATUSES = [("", "全部"), *((s.value, label("bill_status", s)) for s in BillStatus)]
#: The label kind of an entry's status, by what happened.
_STATUS_KIND = {
    Happening.PAYMENT: "payment_status",
    Happening.REFUND: "refund_status",
    Happening.REFUND_DONE: "refund_status",
    Happening.REMINDER: "reminder_status",
    Happening.REMINDED_BY_HAND: "remind_outcome",
}


def bill_url(code: str, bill_no: str) -> str:
    return f"{PREFIX}/billers/{code}/bills/{bill_no}"


@router.get("/bills")
def bills(request: Request, user: User) -> Response:
    """Search bills: the user's biller only (in SQL), or any biller for back-office users."""
    view = list_view(request, user, "bills")
    shown = {name: request.query_params.get(name, "") for name in ("biller", "status")}
    shown |= {name: request.query_params.get(name, "") for name, _ in FILTERS}
    links = [bill_url(row["biller"], row["bill_no"]) for row in view.rows]
    return render(
        request, user, "bills/search.html", view=view, filters=FILTERS, statuses=STATUSES,
        shown=shown, links=links,
    )  # fmt: skip


@router.get("/billers/{code}/bills/{bill_no}")
def detail(request: Request, user: User, biller: BillerInPath, bill_no: str) -> Response:
    return _detail(request, user, biller, bill_no)


def _detail(request: Request, user: ConsoleUser, biller: Biller, bill_no: str) -> Response:
    engine = console_state(request).engine
    bill, entries = engine.bill_timeline(biller.code, bill_no, tenant=user.biller_id)
    with engine.uow() as uow:
        payer = uow.payers.get(bill.payer_id)
    today = engine.today(biller.code)
    facts = [
        ("账单号", bill.bill_no),
        ("商户", f"{biller.name}（{biller.code}）"),
        ("缴费人", f"{payer.identifier if payer else ''} {mask_name(payer.name if payer else '')}"),
        ("联系电话", mask_phone(payer.phone if payer else None)),
        ("班级/单位", bill.sub_unit or ""),
        ("账期", bill.period or ""),
        ("状态", label("bill_status", bill.status(today))),
        ("应缴金额", format_yuan(bill.principal_fen)),
        ("减免金额", format_yuan(bill.waived_fen)),
        ("已缴金额", format_yuan(bill.paid_fen)),
        ("欠缴金额", format_yuan(bill.outstanding_fen)),
        ("今日应付（含滞纳金）", format_yuan(bill.amount_due_fen(today))),
        ("缴费截止日", bill.due_date.isoformat() if bill.due_date else "未设"),
    ]
    items = [
        [i.code, i.name, format_yuan(i.amount_fen), format_yuan(i.waived_fen),
         format_yuan(i.paid_fen), format_yuan(i.outstanding_fen)]
        for i in bill.items
    ]  # fmt: skip
    return render(
        request, user, "bills/detail.html", bill=bill, biller=biller, facts=facts, items=items,
        timeline=[_entry_cells(e, ZoneInfo(biller.timezone)) for e in entries],
        here=bill_url(biller.code, bill.bill_no),
        may_act=user.has(Role.BURSAR) and bill.payable, waiver_id=secrets.token_hex(8),
    )  # fmt: skip


def _entry_cells(entry: TimelineEntry, zone: ZoneInfo) -> list[str]:
    """时间, 事件, 对象, 金额, 渠道, 状态, 操作人, 原因."""
    what = label("timeline_kind", entry.kind)
    if entry.kind is Happening.OTHER:
        what = label("audit_action", entry.action)
    ref = label("reminder_kind", entry.ref) if entry.kind is Happening.REMINDER else entry.ref
    if entry.kind is Happening.REMINDER and entry.channel:
        channel = label("reminder_channel", entry.channel)
    else:
        channel = label("channel", entry.channel)
    amount = "" if entry.amount_fen is None else format_yuan(entry.amount_fen)
    if entry.before_fen is not None and entry.amount_fen is not None:
        amount = f"{format_yuan(entry.before_fen)} → {amount}"
    kind = _STATUS_KIND.get(entry.kind)
    status = label(kind, entry.status) if kind else ""
    if entry.kind is Happening.PAYMENT and entry.reason:
        status += f"（{label('suspense_reason', entry.reason)}）"
    reason = "" if entry.kind is Happening.PAYMENT else entry.reason
    when = ensure_utc(entry.at).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return [when, what, ref, amount, channel, status, entry.actor, reason]


def _fen(text: str, what: str) -> int:
    try:
        return parse_yuan(text.strip(), field=what)
    except InvalidInput:
        raise Refusal(
            400, f"{what}：{text.strip()!r} 不是有效金额（应如 12.34），未做任何更改"
        ) from None


@router.post("/billers/{code}/bills/{bill_no}/waive")
def waive(
    request: Request,
    user: Bursar,
    biller: BillerInPath,
    bill_no: str,
    reason: Reason,
    amount: Annotated[str, Form(max_length=20)],
    request_id: Annotated[str, Form(min_length=1, max_length=40)],
    item_code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    fen = _fen(amount, "减免金额")
    console_state(request).engine.waive(
        biller.code, bill_no, fen, reason=reason, granted_by=user.actor,
        request_id=f"console:{user.username}:{request_id}", item_code=item_code or None,
    )  # fmt: skip
    return done(request, user, bill_url(biller.code, bill_no), f"已减免 {format_yuan(fen)} 元")


@router.post("/billers/{code}/bills/{bill_no}/change")
def change(
    request: Request,
    user: Bursar,
    biller: BillerInPath,
    bill_no: str,
    reason: Reason,
    amount: Annotated[str, Form(max_length=20)] = "",
    due_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if not amount.strip() and not due_date.strip():
        raise Refusal(400, "请填写新的金额或缴费截止日，未做任何更改")
    new_due: date | None = None
    if due_date.strip():
        try:
            new_due = date.fromisoformat(due_date.strip())
        except ValueError:
            raise Refusal(400, f"缴费截止日：{due_date!r} 不是日期，未做任何更改") from None
    fen = _fen(amount, "金额") if amount.strip() else None
    console_state(request).engine.change_bill(
        BillChange(biller.code, bill_no, reason=reason, by=user.actor, amount_fen=fen,
                   due_date=new_due)
    )  # fmt: skip
    return done(request, user, bill_url(biller.code, bill_no), f"已修改账单 {bill_no}")


@router.post("/billers/{code}/bills/{bill_no}/cancel")
def cancel(
    request: Request, user: Bursar, biller: BillerInPath, bill_no: str, reason: Reason
) -> Response:
    console_state(request).engine.cancel_bill(biller.code, bill_no, reason=reason, by=user.actor)
    return done(request, user, bill_url(biller.code, bill_no), f"已作废账单 {bill_no}")
