"""Admin and supervisor: the audit log — who did what, when and why — searched and paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Response

from billfold.adapters.http.console.guard import pages, role
from billfold.adapters.http.console.lists import list_view
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import PREFIX, add_nav, render
from billfold.merchants.roles import Role

__all__ = ["router"]

router = pages()
Office = Annotated[ConsoleUser, role(Role.ADMIN, Role.SUPERVISOR, everywhere=True)]
FILTERS = (
    ("actor", "操作人"), ("action", "操作"), ("target_type", "对象类型"),
    ("target_id", "对象"), ("from", "起始日期"), ("to", "截止日期"),
)  # fmt: skip
add_nav("审计日志", f"{PREFIX}/audit", Role.ADMIN, Role.SUPERVISOR, order=95)


@router.get("/audit")
def audit(request: Request, user: Office) -> Response:
    view = list_view(request, user, "audit")
    shown = {name: request.query_params.get(name, "") for name, _ in FILTERS}
    return render(request, user, "audit.html", view=view, filters=FILTERS, shown=shown)
