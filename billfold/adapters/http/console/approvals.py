"""The approvals queue (maker-checker): what waits for a second person, approved or rejected
by someone other than its maker who holds one of the kind's checker roles (as
``/v1/approvals``). A biller's user sees and decides only that biller's proposals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Path, Request, Response

from billfold.adapters.http.console.guard import Reason, pages, role
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import PREFIX, Refusal, add_nav, console_state, done, render
from billfold.collection.approval import Approval, ApprovalState
from billfold.errors import NotFound
from billfold.labels import label
from billfold.maker_checker import MakerChecker, kind_of
from billfold.merchants.roles import Role
from billfold.money import format_yuan

__all__ = ["router"]

router = pages()
CHECKER_ROLES = (Role.RECONCILER, Role.SUPERVISOR, Role.ADMIN)
Checker = Annotated[ConsoleUser, role(*CHECKER_ROLES)]
ApprovalId = Annotated[int, Path(ge=1, le=2**62)]
HERE = f"{PREFIX}/approvals"
add_nav("待复核", HERE, *CHECKER_ROLES, order=35)

_SHOWN = {  # payload fields a checker reads, in Chinese
    "batch_no": "结算批次", "payment_id": "支付编号", "discrepancy_id": "差错编号",
    "bureau_code": "监管项目", "request_id": "申请号", "biller": "商户", "reason": "原因",
    "by": "经办人",
}  # fmt: skip


def _what(approval: Approval) -> str:
    p = approval.payload
    parts = [f"{_SHOWN[k]} {p[k]}" for k in _SHOWN if p.get(k) not in (None, "")]
    if isinstance(p.get("amount_fen"), int):
        parts.insert(0, f"金额 {format_yuan(p['amount_fen'])}")
    return "；".join(parts)


def _mine(request: Request, user: ConsoleUser, approval_id: int) -> Approval:
    try:
        found = MakerChecker(console_state(request).engine).get(approval_id)
    except NotFound:
        found = None
    if found is None or not user.sees(found.biller_id):
        raise Refusal(404, f"复核申请 {approval_id} 不存在")
    return found


def _may_check(user: ConsoleUser, found: Approval) -> None:
    roles = kind_of(found.kind).checkers
    if not user.has(*roles):
        needed = "或".join(label("role", r) for r in Role if r in roles)
        raise Refusal(
            403, f"复核“{label('approval_kind', found.kind)}”需要{needed}角色，您的账户没有"
        )


def _back(back: str) -> str:
    return back if back.startswith(f"{PREFIX}/") and "//" not in back else HERE


@router.get("/approvals")
def approvals_page(request: Request, user: Checker) -> Response:
    engine = console_state(request).engine
    codes = {b.id: b.code for b in engine.billers() if b.id is not None}
    found = [a for a in MakerChecker(engine).list() if user.sees(a.biller_id)]
    waiting = [a for a in found if a.state is ApprovalState.PROPOSED]
    decided = [a for a in found if a.state is not ApprovalState.PROPOSED][-50:]
    return render(
        request, user, "approvals.html", waiting=waiting, decided=list(reversed(decided)),
        codes=codes, what=_what, may=lambda a: user.has(*kind_of(a.kind).checkers),
        me=user.identity,
    )  # fmt: skip


@router.post("/approvals/{approval_id}/approve")
def approve(
    request: Request,
    user: Checker,
    approval_id: ApprovalId,
    note: Annotated[str, Form(alias="reason", max_length=500)] = "",
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Approve: the action runs now, once (the maker may not: a 409 page, nothing done)."""
    found = _mine(request, user, approval_id)
    _may_check(user, found)
    engine = console_state(request).engine
    done_ = MakerChecker(engine).approve(approval_id, checker=user.identity, reason=note)
    what: dict[str, Any] = done_.result or {}
    shown = f"（{_what(done_)}）" if what else ""
    message = f"已批准复核申请 {approval_id}：{label('approval_kind', done_.kind)}{shown}"
    return done(request, user, _back(back), message)


@router.post("/approvals/{approval_id}/reject")
def reject(
    request: Request,
    user: Checker,
    approval_id: ApprovalId,
    reason: Reason,
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    found = _mine(request, user, approval_id)
    _may_check(user, found)
    MakerChecker(console_state(request).engine).reject(
        approval_id, checker=user.identity, reason=reason
    )
    return done(request, user, _back(back), f"已驳回复核申请 {approval_id}")
