"""Admin: back-office users — list, create (with a first password), change roles, set a new
password, disable (the use cases of ``billfold users``). Every change is audited with who
and why; a password never is."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response

from billfold.adapters.http.console.guard import Reason, pages, role
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import (
    PREFIX,
    Refusal,
    add_nav,
    console_state,
    done,
    render,
    when,
)
from billfold.adapters.http.users import (
    MIN_PASSWORD,
    create_user,
    disable_user,
    list_users,
    set_password,
    set_roles,
)
from billfold.labels import label
from billfold.merchants.roles import Role

__all__ = ["router"]

router = pages()
Admin = Annotated[ConsoleUser, role(Role.ADMIN, everywhere=True)]
HERE = f"{PREFIX}/admin/users"
add_nav("后台用户", HERE, Role.ADMIN, order=82)


def _roles_text(roles: frozenset[Role]) -> str:
    return "、".join(label("role", r) for r in Role if r in roles)


def _some(roles: list[str]) -> None:
    if not roles:
        raise Refusal(400, "请至少选择一个角色，未做任何更改")


@router.get("/admin/users")
def users_page(request: Request, user: Admin) -> Response:
    engine = console_state(request).engine
    people = list_users(engine, include_disabled=True)
    rows = [
        [
            u.username, u.display_name, _roles_text(u.roles), u.biller_code or "全部商户",
            "已停用" if u.disabled_at else ("正常" if u.has_password else "未设密码"),
            when(u.created_at),
        ]
        for u in people
    ]  # fmt: skip
    roles = [(r.value, label("role", r)) for r in Role]
    return render(
        request, user, "admin/users.html", people=people, rows=rows, roles=roles,
        billers=engine.billers(),
    )  # fmt: skip


@router.post("/admin/users")
def create(
    request: Request,
    user: Admin,
    reason: Reason,
    username: Annotated[str, Form(max_length=64)],
    display_name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies the default
    biller: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    engine = console_state(request).engine
    _some(roles)
    if len(password) < MIN_PASSWORD:
        raise Refusal(400, f"密码至少 {MIN_PASSWORD} 位，未做任何更改")
    made = create_user(
        engine, username, display_name, roles, biller_code=biller or None, actor=user.actor,
        reason=reason,
    )  # fmt: skip
    set_password(engine, made.username, password, actor=user.actor, reason=reason)
    return done(request, user, HERE, f"已创建用户 {made.username}（{made.display_name}）")


@router.post("/admin/users/{username}/roles")
def change_roles(
    request: Request,
    user: Admin,
    username: str,
    reason: Reason,
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies the default
) -> Response:
    _some(roles)
    changed = set_roles(
        console_state(request).engine, username, roles, actor=user.actor, reason=reason
    )
    return done(
        request, user, HERE, f"已将 {changed.username} 的角色改为 {_roles_text(changed.roles)}"
    )


@router.post("/admin/users/{username}/password")
def new_password(
    request: Request,
    user: Admin,
    username: str,
    reason: Reason,
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    set_password(console_state(request).engine, username, password, actor=user.actor, reason=reason)
    return done(request, user, HERE, f"已为 {username} 设置新密码")


@router.post("/admin/users/{username}/disable")
def disable(request: Request, user: Admin, username: str, reason: Reason) -> Response:
    gone = disable_user(console_state(request).engine, username, actor=user.actor, reason=reason)
    return done(request, user, HERE, f"已停用用户 {gone.username}，其会话随即失效")
