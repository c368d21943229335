"""Admin: API keys — list, create, rotate, revoke (the use cases of ``/v1/keys``). A new
secret is shown once, on the page that answers the action, and never again."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Form, Request, Response

from billfold.adapters.http.console.guard import Reason, pages, role
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import PREFIX, Refusal, add_nav, console_state, done, render
from billfold.adapters.http.keys import CreatedKey, create_key, list_keys, revoke_key, rotate_key
from billfold.labels import label
from billfold.merchants.roles import Role

__all__ = ["router"]

router = pages()
Admin = Annotated[ConsoleUser, role(Role.ADMIN, everywhere=True)]
HERE = f"{PREFIX}/admin/keys"
GRACES = ((24, "24 小时"), (0, "立即失效"), (1, "1 小时"), (72, "3 天"), (168, "7 天"))
add_nav("API 密钥", HERE, Role.ADMIN, order=80)


def _roles_text(roles: frozenset[Role]) -> str:
    return "、".join(label("role", r) for r in Role if r in roles)


def _page(request: Request, user: ConsoleUser, **extra: Any) -> Response:
    engine = console_state(request).engine
    keys = list_keys(engine)
    rows = [
        [
            k.key_id, k.label, k.biller_code or "全部商户（后台）", _roles_text(k.roles),
            k.created_at.strftime("%Y-%m-%d %H:%M"),
            "已吊销" if k.revoked_at else ("轮换宽限中" if k.previous_valid_until else "有效"),
        ]
        for k in keys
    ]  # fmt: skip
    return render(
        request, user, "admin/keys.html", keys=keys, rows=rows, graces=GRACES,
        billers=engine.billers(), roles=[(r.value, label("role", r)) for r in Role], **extra,
    )  # fmt: skip


@router.get("/admin/keys")
def keys_page(request: Request, user: Admin) -> Response:
    return _page(request, user)


def _shown_once(request: Request, user: ConsoleUser, made: CreatedKey, what: str) -> Response:
    return _page(request, user, secret=made.secret, secret_key_id=made.key.key_id, what=what)


@router.post("/admin/keys")
def create(
    request: Request,
    user: Admin,
    reason: Reason,
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies the default
    biller: Annotated[str, Form(max_length=32)] = "",
    key_label: Annotated[str, Form(alias="label", max_length=100)] = "",
) -> Response:
    if not roles:
        raise Refusal(400, "请至少选择一个角色，未做任何更改")
    engine = console_state(request).engine
    made = create_key(engine, biller or None, roles, key_label, actor=user.actor, reason=reason)
    what = f"已创建密钥 {made.key.key_id}（{_roles_text(made.key.roles)}）"
    return _shown_once(request, user, made, what)


@router.post("/admin/keys/{key_id}/rotate")
def rotate(
    request: Request,
    user: Admin,
    key_id: str,
    reason: Reason,
    grace_hours: Annotated[int, Form(ge=0, le=168)] = 24,
) -> Response:
    engine = console_state(request).engine
    if key_id not in {k.key_id for k in list_keys(engine)}:
        raise Refusal(404, f"API 密钥 {key_id} 不存在")
    made = rotate_key(
        engine, key_id, grace=timedelta(hours=grace_hours), actor=user.actor, reason=reason
    )
    until = "旧密钥立即失效" if grace_hours == 0 else f"旧密钥在 {grace_hours} 小时内仍可用"
    return _shown_once(request, user, made, f"已轮换密钥 {key_id}，{until}")


@router.post("/admin/keys/{key_id}/revoke")
def revoke(request: Request, user: Admin, key_id: str, reason: Reason) -> Response:
    engine = console_state(request).engine
    if key_id not in {k.key_id for k in list_keys(engine)}:
        raise Refusal(404, f"API 密钥 {key_id} 不存在")
    revoke_key(engine, key_id, actor=user.actor, reason=reason)
    return done(request, user, HERE, f"已吊销密钥 {key_id}")
