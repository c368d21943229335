"""Supervisor (主管): presale escrow per project and contract, the milestones with what each
allows and the releases made against the reached stage's limit, the releases waiting for a
supervisor's approval (approved in :mod:`.approvals`, where the limit is checked again), and
the pushes to the housing bureau with what was sent and the bureau's receipt numbers.

The supervisor reads across billers, so these pages are the back office's."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request, Response

from billfold.adapters.http.console.guard import pages, role
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import PREFIX, Refusal, add_nav, console_state, render
from billfold.adapters.outbox.bureau_push import pushes
from billfold.collection.approval import ApprovalState
from billfold.errors import NotFound
from billfold.labels import label
from billfold.maker_checker import MakerChecker
from billfold.merchants.roles import Role
from billfold.money import format_yuan
from billfold.packs.presale import PresaleDesk
from billfold.packs.presale.book import RELEASE_CHANNEL

__all__ = ["router"]

router = pages()
Supervisor = Annotated[ConsoleUser, role(Role.SUPERVISOR, Role.ADMIN, everywhere=True)]
HERE = f"{PREFIX}/escrow"
add_nav("预售资金监管", HERE, Role.SUPERVISOR, Role.ADMIN, order=40)


def _where(sent: dict[str, object]) -> str:
    """The pushed entry's channel and reference (a release: its request id alone)."""
    channel, ref = str(sent.get("channel") or ""), str(sent.get("txn_id") or "")
    return ref if channel == RELEASE_CHANNEL else f"{label('channel', channel)}/{ref}"


@router.get("/escrow")
def projects_page(request: Request, user: Supervisor) -> Response:
    desk = PresaleDesk(console_state(request).engine)
    views = [desk.view(p.bureau_code) for p in desk.projects()]
    rows = [
        [
            v.project.bureau_code, v.project.name, v.project.developer,
            format_yuan(v.totals.net_received_fen), format_yuan(v.totals.released_fen),
            format_yuan(v.totals.balance_fen), format_yuan(v.totals.held_fen),
            (v.room.stage.name if v.room.stage else "未达到任何节点"), format_yuan(v.room.room_fen),
        ]
        for v in views
    ]  # fmt: skip
    return render(request, user, "escrow/projects.html", views=views, rows=rows)


@router.get("/escrow/{bureau_code}")
def project_page(
    request: Request, user: Supervisor, bureau_code: Annotated[str, Path(max_length=64)]
) -> Response:
    engine = console_state(request).engine
    try:
        view = PresaleDesk(engine).view(bureau_code)
    except NotFound:
        raise Refusal(404, f"监管项目 {bureau_code} 不存在") from None
    waiting = [
        a
        for a in MakerChecker(engine).list(state=ApprovalState.PROPOSED)
        if a.kind == "escrow.release" and a.payload.get("bureau_code") == bureau_code
    ]
    sent = pushes(engine, bureau_code)
    push_rows = [
        [
            p.push_id, label("escrow_entry_kind", p.sent.get("kind")),
            p.sent.get("contract_no") or "",
            _where(p.sent), p.sent.get("amount", ""),
            p.sent.get("business_date", ""), label("push_status", p.status), str(p.attempts),
            p.receipt_no or "", p.last_error or "",
        ]
        for p in sent
    ]  # fmt: skip
    return render(
        request, user, "escrow/project.html", view=view, waiting=waiting, pushes=sent,
        push_rows=push_rows, me=user.identity,
    )  # fmt: skip
