"""The console's home: what each role looks at first (today's figures and charts)."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from billfold.adapters.http.console.guard import User, pages
from billfold.adapters.http.console.web import PREFIX, add_nav, render

__all__ = ["router"]

router = pages()
add_nav("首页", f"{PREFIX}/", order=0)


@router.get("/")
def home(request: Request, user: User) -> Response:
    return render(request, user, "home.html")


@router.get("")
def home_without_slash() -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)
