"""Admin: webhook deliveries — searched and paged (dead letters first), and a dead letter
sent again (its attempts start over), audited with who and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Response

from billfold.adapters.http.console.guard import Reason, pages, role
from billfold.adapters.http.console.lists import list_view
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import PREFIX, add_nav, console_state, done, render
from billfold.adapters.outbox.deliveries import requeue_dead
from billfold.labels import LABELS
from billfold.merchants.roles import Role

__all__ = ["router"]

router = pages()
Admin = Annotated[ConsoleUser, role(Role.ADMIN, everywhere=True)]
HERE = f"{PREFIX}/admin/deliveries"
add_nav("Webhook 推送", HERE, Role.ADMIN, order=86)


@router.get("/admin/deliveries")
def deliveries(request: Request, user: Admin) -> Response:
    status = request.query_params.get("status", "dead")
    view = list_view(request, user, "deliveries", {"status": status} if status else {})
    statuses = [("", "全部"), *LABELS["delivery_status"].items()]
    return render(
        request, user, "admin/deliveries.html", view=view, chosen=status, statuses=statuses
    )


@router.post("/admin/deliveries/{delivery_id}/requeue")
def requeue(request: Request, user: Admin, delivery_id: int, reason: Reason) -> Response:
    engine = console_state(request).engine
    requeue_dead(engine, delivery_id, actor=user.actor, reason=reason, clock=engine.clock)
    return done(request, user, HERE, f"已重新投递推送 {delivery_id}")
