"""Bursar (a utility's clerk): the chase list (催缴名单) — bills still owed with the payer's
phone (masked), due date, days overdue and what is left — filtered by class, overdue only
and minimum days; exported as CSV/XLSX (masked; in full only with a reason, audited);
reminders to the selected bills; the class's payment notices (one PDF, a page per student
with its QR, or a ZIP of PNGs).

The reminders are ``billfold.adapters.outbox.reminders.api.remind_bills`` (the reminders
desk: opt-outs, quiet hours, once a kind per bill per day); the notices are
``billfold.packs.campus.Campus.class_notices``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Form, Query, Request, Response

from billfold.adapters.http.console.guard import BillerInPath, Reason, User, pages, role
from billfold.adapters.http.console.lists import list_view
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import PREFIX, Refusal, add_nav, console_state, done, render
from billfold.adapters.outbox.reminders.api import remind_bills
from billfold.collection.lists import CHASE
from billfold.labels import label
from billfold.merchants.biller import BillerKind
from billfold.merchants.roles import Role
from billfold.packs.campus import Campus, NoticeFormat

__all__ = ["router"]

router = pages()
Bursar = Annotated[ConsoleUser, role(Role.BURSAR)]
HERE = f"{PREFIX}/chase"
add_nav("催缴名单", HERE, order=12)
FILTERS = ("biller", "sub_unit", "period", "overdue", "min_days")
OVERDUE = [("", "全部欠缴"), ("true", "仅已逾期"), ("false", "仅未到期")]
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
Format = Annotated[str, Query(alias="format", pattern="^(csv|xlsx)$")]
NoticeFmt = Annotated[str, Query(alias="format", pattern="^(pdf|zip)$")]


def _filters(values: dict[str, str], user: ConsoleUser) -> dict[str, str]:
    """The chase list's filters asked for (a biller's user: their biller, whatever is asked)."""
    wanted = {k: v.strip() for k, v in values.items() if k in FILTERS and v.strip()}
    if user.biller_code is not None:
        wanted["biller"] = user.biller_code
    return wanted


@router.get("/chase")
def chase(request: Request, user: User) -> Response:
    shown = _filters(dict(request.query_params), user)
    view = list_view(
        request, user, "chase", {"biller": user.biller_code} if user.biller_code else None
    )
    code = shown.get("biller")
    biller = console_state(request).engine.biller(code) if code else None
    grade, _, class_name = shown.get("sub_unit", "").partition("/")
    return render(
        request, user, "chase.html", view=view, shown=shown, overdue=OVERDUE, biller=biller,
        query=urlencode(shown), may_act=user.has(Role.BURSAR) and biller is not None,
        school=biller is not None and biller.kind is BillerKind.SCHOOL,
        grade=grade, class_name=class_name,
    )  # fmt: skip


def _download(content: bytes, media_type: str, file_name: str) -> Response:
    disposition = f"attachment; filename*=UTF-8''{quote(file_name)}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


@router.get("/chase/export")
def export(request: Request, user: User, fmt: Format = "csv") -> Response:
    """The list as a file, phones and names masked."""
    params = _filters(dict(request.query_params), user)
    data = console_state(request).engine.export_list(
        "chase", params, "xlsx" if fmt == "xlsx" else "csv", tenant=user.biller_id
    )
    return _download(data, MEDIA[fmt], f"{CHASE.title}.{fmt}")


@router.post("/billers/{code}/chase/export")
def export_unmasked(
    request: Request,
    user: Bursar,
    biller: BillerInPath,
    reason: Reason,
    fmt: Annotated[str, Form(alias="format", pattern="^(csv|xlsx)$")] = "csv",
    sub_unit: Annotated[str, Form(max_length=64)] = "",
    period: Annotated[str, Form(max_length=32)] = "",
    overdue: Annotated[str, Form(max_length=5)] = "",
    min_days: Annotated[str, Form(max_length=6)] = "",
) -> Response:
    """The list with phones and names in full: who and why go to the audit log first."""
    asked = {"sub_unit": sub_unit, "period": period, "overdue": overdue, "min_days": min_days}
    params = {**_filters(asked, user), "biller": biller.code}
    data = console_state(request).engine.export_list(
        "chase", params, "xlsx" if fmt == "xlsx" else "csv", tenant=user.biller_id,
        unmasked=True, by=user.actor, reason=reason,
    )  # fmt: skip
    return _download(data, MEDIA[fmt], f"{CHASE.title}-{biller.code}.{fmt}")


@router.post("/billers/{code}/remind")
def remind(
    request: Request,
    user: Bursar,
    biller: BillerInPath,
    reason: Reason,
    bill_nos: Annotated[list[str], Form(max_length=64)] = [],  # noqa: B006 (FastAPI form)
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Remind the payers of the selected bills now (once a kind per bill per day)."""
    if not bill_nos:
        raise Refusal(400, "请先勾选要提醒的账单，未做任何更改")
    engine = console_state(request).engine
    results = remind_bills(engine, biller.code, bill_nos, actor=user.actor, reason=reason)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    said = "，".join(f"{label('remind_outcome', k)} {n} 张" for k, n in counts.items())
    where = back if back.startswith(f"{HERE}?") or back == HERE else HERE
    return done(request, user, where, f"催缴提醒：{said}")


@router.get("/billers/{code}/notices")
def notices(
    request: Request,
    user: Bursar,
    biller: BillerInPath,
    term: Annotated[str, Query(min_length=1, max_length=32)],
    grade: Annotated[str, Query(min_length=1, max_length=32)],
    class_name: Annotated[str, Query(min_length=1, max_length=32)],
    fmt: NoticeFmt = "pdf",
) -> Response:
    """The class's payment notices: each student who owes something, a page (or a PNG) with
    the QR that opens their bill on the payer pages this server serves."""
    if biller.kind is not BillerKind.SCHOOL:
        raise Refusal(400, f"{biller.name} 不是学校，没有班级缴费通知")
    made = Campus(console_state(request).engine).class_notices(
        biller.code, term, grade, class_name, base_url=str(request.base_url).rstrip("/"),
        fmt=NoticeFormat(fmt),
    )  # fmt: skip
    return _download(made.content, made.media_type, made.file_name)
