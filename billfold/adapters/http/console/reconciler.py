"""Reconciler (对账员): run a statement and see what it came to, work the discrepancies with
the actions the API offers (a write-off is proposed for a second person, as over HTTP),
suspense money, refunds that need a bank transfer, and complaints by turnaround time.

Runs and discrepancies span billers (a statement covers a merchant account), so these pages
are the back office's, as ``/v1/reconciliation`` is. The approvals queue is in
:mod:`.approvals`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import File, Form, Path, Request, Response, UploadFile

from billfold.adapters.http.console.guard import Reason, pages, role
from billfold.adapters.http.console.lists import list_view
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import PREFIX, Refusal, add_nav, console_state, done, render
from billfold.clock import DEFAULT_TZ, business_date, ensure_utc
from billfold.collection.refund_transfer import TransferStage
from billfold.errors import NotFound
from billfold.labels import label
from billfold.maker_checker import MakerChecker
from billfold.merchants.roles import Role
from billfold.money import format_yuan, parse_yuan
from billfold.settlement.complaints import ComplaintDesk
from billfold.settlement.discrepancy import Action, DiscrepancyStatus
from billfold.settlement.parsers import PARSERS
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.refund_transfer_desk import RefundTransferDesk
from billfold.settlement.wording import describe

__all__ = ["router"]

router = pages()
Office = Annotated[ConsoleUser, role(Role.RECONCILER, Role.SUPERVISOR, everywhere=True)]
Worker = Annotated[ConsoleUser, role(Role.RECONCILER, everywhere=True)]
HERE = f"{PREFIX}/recon"
BANK_FORMATS = ("camt053", "camt054", "mt940")
#: generic-csv needs a column mapping: the command line and the API take one
FORMATS = tuple(f for f in sorted(PARSERS) if f != "generic-csv")
add_nav("对账", HERE, Role.RECONCILER, Role.SUPERVISOR, order=30)
add_nav("挂账资金", f"{HERE}/suspense", Role.RECONCILER, Role.SUPERVISOR, order=32)
add_nav("转账退款", f"{HERE}/refund-transfers", Role.RECONCILER, Role.SUPERVISOR, order=33)
add_nav("投诉", f"{HERE}/complaints", Role.RECONCILER, Role.SUPERVISOR, order=34)


def _local(when: datetime) -> str:
    return ensure_utc(when).astimezone(ZoneInfo(DEFAULT_TZ)).strftime("%Y-%m-%d %H:%M")


def _recon(request: Request) -> Reconciler:
    return Reconciler(console_state(request).engine)


@router.get("/recon")
def runs_page(request: Request, user: Office) -> Response:
    recon, engine = _recon(request), console_state(request).engine
    runs = recon.runs(current_only=True)
    rows = [
        [
            str(r.id), r.business_date.isoformat(), label("run_kind", r.kind),
            label("channel", r.channel), r.merchant_id or "全部", r.file_name,
            format_yuan(r.totals.net_fen), f"{r.matched_count} 笔 / {format_yuan(r.matched_fen)}",
            str(r.discrepancy_count),
        ]
        for r in runs
    ]  # fmt: skip
    ages = recon.transit_by_age(business_date(engine.clock.now()))
    return render(
        request, user, "recon/runs.html", runs=runs, rows=rows, ages=ages, formats=FORMATS,
        today=business_date(engine.clock.now()).isoformat(),
    )  # fmt: skip


@router.post("/recon/runs")
async def start_run(
    request: Request,
    user: Worker,
    reason: Reason,
    statement_format: Annotated[str, Form(alias="format", max_length=32)],
    day: Annotated[date, Form(alias="date")],
    merchant: Annotated[str, Form(max_length=64)] = "",
    whole_channel: Annotated[bool, Form()] = False,
    channel: Annotated[str, Form(max_length=32)] = "",
    content: Annotated[str, Form(max_length=2_000_000)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Reconcile an uploaded (or pasted) statement; the same file again changes nothing."""
    if statement_format not in FORMATS:
        raise Refusal(400, f"对账单格式 {statement_format} 不受支持，可选：{'、'.join(FORMATS)}")
    data = await file.read() if file is not None and file.filename else content.encode("utf-8")
    if not data.strip():
        raise Refusal(400, "请上传对账单文件（或粘贴其内容），未做任何更改")
    name = (file.filename if file is not None and file.filename else "粘贴的对账单")[:200]
    recon = _recon(request)
    if statement_format in BANK_FORMATS:
        result = recon.reconcile_bank(
            data, format=statement_format, business_date=day, file_name=name,
            on_error="quarantine", actor=user.actor, reason=reason,
        )  # fmt: skip
    else:
        result = recon.reconcile(
            data, format=statement_format, business_date=day, channel=channel or None,
            merchant_id="" if whole_channel else (merchant or None), file_name=name,
            actor=user.actor, reason=reason, workers=1,
        )  # fmt: skip
    said = "已对账" if result.created else "此文件已对过账，未做更改"
    return done(request, user, f"{HERE}/runs/{result.run.id}", f"{said}：批次 {result.run.id}")


@router.get("/recon/runs/{run_id}")
def run_page(
    request: Request, user: Office, run_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    recon = _recon(request)
    try:
        outcome = recon.outcome(run_id)
    except NotFound:
        raise Refusal(404, f"对账批次 {run_id} 不存在") from None
    advice = {d.id: recon.advice(d.id) for d in outcome.discrepancies if d.id and d.is_open}
    return render(
        request, user, "recon/run.html", outcome=outcome, advice=advice, describe=describe,
        open_status=DiscrepancyStatus.OPEN,
    )  # fmt: skip


@router.post("/recon/discrepancies/{discrepancy_id}/resolve")
def resolve(
    request: Request,
    user: Worker,
    discrepancy_id: Annotated[int, Path(ge=1, le=2**62)],
    reason: Reason,
    action: Annotated[Action, Form()],
    amount: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Resolve as the API does: a write-off waits for a second person when the biller's
    policy says so (the user is the maker); any other action runs at once."""
    engine = console_state(request).engine
    recon = Reconciler(engine)
    try:
        found = recon.discrepancy(discrepancy_id)
    except NotFound:
        raise Refusal(404, f"差错 {discrepancy_id} 不存在") from None
    amount_fen = parse_yuan(amount.strip()) if amount.strip() else None
    back = f"{HERE}/runs/{found.run_id}" if found.run_id else HERE
    if action is Action.WRITE_OFF and found.status is DiscrepancyStatus.OPEN:
        codes = {b.id: b.code for b in engine.billers() if b.id is not None}
        payload = {
            "discrepancy_id": discrepancy_id, "reason": reason, "amount_fen": amount_fen,
            "by": user.actor,
        }  # fmt: skip
        proposal = MakerChecker(engine).gate(
            "discrepancy.write_off", payload, maker=user.identity, reason=reason,
            biller_code=codes.get(found.biller_id) if found.biller_id else None,
        )  # fmt: skip
        if proposal is not None:
            return done(
                request, user, back, f"差错 {discrepancy_id} 的核销已提交复核（编号 {proposal.id}）"
            )
    recon.resolve(discrepancy_id, action, by=user.actor, reason=reason, amount_fen=amount_fen)
    said = label("discrepancy_action", action)
    return done(request, user, back, f"差错 {discrepancy_id} 已处理：{said}")


@router.get("/recon/suspense")
def suspense_page(request: Request, user: Office) -> Response:
    view = list_view(request, user, "suspense")
    return render(request, user, "recon/suspense.html", view=view)


@router.post("/recon/suspense/{payment_id}/credit")
def credit_held(
    request: Request,
    user: Worker,
    payment_id: Annotated[int, Path(ge=1, le=2**62)],
    reason: Reason,
) -> Response:
    """Credit a payment held for an amount mismatch after review, exactly once (as
    ``POST /v1/payments/{id}/credit``); more than the order's total queues a refund."""
    engine = console_state(request).engine
    try:
        engine.payment(payment_id)
    except NotFound:
        raise Refusal(404, f"支付 {payment_id} 不存在") from None
    result = engine.credit_held(payment_id, by=user.actor, reason=reason)
    back = f"{HERE}/suspense"
    if result.already_credited:
        return done(request, user, back, f"支付 {payment_id} 此前已复核入账，未做更改")
    returned = (
        f"，多出的 {format_yuan(result.refund.amount_fen)} 已安排退款" if result.refund else ""
    )
    message = f"支付 {payment_id} 已复核入账 {format_yuan(result.credited_fen)}{returned}"
    return done(request, user, back, message)


@router.get("/recon/refund-transfers")
def transfers_page(request: Request, user: Office) -> Response:
    transfers = RefundTransferDesk(console_state(request).engine).transfers()
    rows = []
    for t in transfers:
        payee = t.payee.masked() if t.payee else {}
        rows.append(
            [
                t.refund_no, format_yuan(t.amount_fen), label("transfer_reason", t.reason),
                label("transfer_stage", t.stage), payee.get("name", ""),
                payee.get("account", ""), t.recorded_by or "", t.approved_by or "",
                t.file_no or "",
            ]
        )  # fmt: skip
    return render(
        request, user, "recon/transfers.html", rows=rows, transfers=transfers,
        awaiting=TransferStage.AWAITING_APPROVAL,
    )  # fmt: skip


@router.post("/recon/refund-transfers/{refund_no}/approve")
def approve_transfer(
    request: Request,
    user: Worker,
    refund_no: Annotated[str, Path(max_length=32)],
    reason: Reason,
) -> Response:
    """The checker approves a recorded payee (never the person who recorded it): the
    transfer goes into the next bank transfer file."""
    desk = RefundTransferDesk(console_state(request).engine)
    try:
        desk.get(refund_no)
    except NotFound:
        raise Refusal(404, f"退款 {refund_no} 没有转账记录") from None
    desk.approve(refund_no, checker=user.actor, reason=reason)
    return done(request, user, f"{HERE}/refund-transfers", f"退款 {refund_no} 的转账已复核通过")


@router.get("/recon/complaints")
def complaints_page(request: Request, user: Office) -> Response:
    """Complaints by turnaround time: overdue first, then the soonest due."""
    engine = console_state(request).engine
    now = engine.clock.now()
    found = ComplaintDesk(engine).complaints(limit=500)
    found.sort(key=lambda c: (not c.overdue(now), c.closed_at is not None, c.due_at))
    rows = [
        [
            c.complaint_no, c.biller_code, label("complaint_kind", c.kind),
            label("complaint_status", c.status), c.bill_no or "", c.assigned_to or "",
            _local(c.due_at), "已超时" if c.overdue(now) else "",
        ]
        for c in found
    ]  # fmt: skip
    return render(request, user, "recon/complaints.html", rows=rows)
