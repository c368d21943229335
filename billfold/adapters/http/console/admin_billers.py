"""Billers: the list and each biller's page (limits, fee rules, channel configurations with
secrets shown only as references, webhook endpoints) — read by every role within its scope;
an admin changes limits (through maker-checker, as the API and command line do) and manages
the biller's webhook endpoints (a new signing secret is shown once)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Form, Request, Response

from billfold.adapters.http.console.guard import BillerInPath, Reason, User, pages, role
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import (
    PREFIX,
    Refusal,
    add_nav,
    console_state,
    done,
    render,
)
from billfold.adapters.outbox.endpoints import (
    WebhookEndpoint,
    add_endpoint,
    deactivate_endpoint,
    list_endpoints,
    new_secret,
    reactivate_endpoint,
    rotate_secret,
)
from billfold.engine import Engine
from billfold.errors import InvalidInput
from billfold.labels import LABELS, label
from billfold.maker_checker import MakerChecker
from billfold.merchants.biller import Biller, Limits
from billfold.merchants.channel_config import ChannelConfig
from billfold.merchants.fees import FeeKind, FeeRule
from billfold.merchants.roles import Role
from billfold.money import format_yuan, parse_yuan

__all__ = ["router"]

router = pages()
Admin = Annotated[ConsoleUser, role(Role.ADMIN, everywhere=True)]
add_nav("商户", f"{PREFIX}/billers", Role.ADMIN, Role.SUPERVISOR, order=84)
SECRET_WORDS = ("secret", "key", "password", "private", "token", "cert")


def shown_setting(name: str, value: Any) -> str:
    """A channel setting as the page shows it: a secret only as where it is kept."""
    if name.endswith("_env"):
        return f"环境变量 {value}"
    if name.endswith(("_file", "_path")):
        return f"文件 {value}"
    if any(word in name.lower() for word in SECRET_WORDS):
        return "（已隐藏）"
    return str(value)


def _limit(fen: int | None) -> str:
    return "不限" if fen is None else f"¥{format_yuan(fen)}"


@router.get("/billers")
def billers_page(request: Request, user: User) -> Response:
    engine = console_state(request).engine
    shown = [b for b in engine.billers() if user.sees(b.id)]
    rows = [
        [b.code, b.name, label("biller_kind", b.kind), label("biller_status", b.status),
         _limit(b.limits.single_payment_fen), _limit(b.limits.daily_fen)]
        for b in shown
    ]  # fmt: skip
    return render(request, user, "admin/billers.html", billers=shown, rows=rows)


def _biller_page(request: Request, user: ConsoleUser, biller: Biller, **extra: Any) -> Response:
    engine = console_state(request).engine
    configs = engine.channel_configs(biller.code)
    channels = [
        [label("channel", c.channel), "启用" if c.enabled else "停用", "是" if c.sole else "",
         c.merchant_id or "", c.app_id or "", _settings(c)]
        for c in configs
    ]  # fmt: skip
    fees = [
        [label("channel", f.channel), label("fee_kind", f.kind),
         f"{f.bps / 100:.2f}%" if f.kind is FeeKind.BPS else f"¥{format_yuan(f.fixed_fen)}/笔",
         f"¥{format_yuan(f.min_fen)}", _limit(f.max_fen)]
        for f in biller.fee_rules
    ]  # fmt: skip
    endpoints = list_endpoints(engine, biller.code, include_inactive=True)
    hooks = [
        [str(e.id), e.url, "、".join(e.event_types), "启用" if e.active else "停用",
         e.created_at.strftime("%Y-%m-%d %H:%M")]
        for e in endpoints
    ]  # fmt: skip
    return render(
        request, user, "admin/biller.html", biller=biller, channels=channels, fees=fees,
        endpoints=endpoints, hooks=hooks, limits=biller.limits, limit=_limit,
        admin=user.has(Role.ADMIN) and user.back_office, channel_names=LABELS["channel"].items(),
        fee_kinds=LABELS["fee_kind"].items(), **extra,
    )  # fmt: skip


def _settings(config: ChannelConfig) -> str:
    return "；".join(f"{k}: {shown_setting(k, v)}" for k, v in sorted(config.settings.items()))


@router.get("/billers/{code}")
def biller_page(request: Request, user: User, biller: BillerInPath) -> Response:
    return _biller_page(request, user, biller)


def _fen(text: str, what: str) -> int | None:
    if not text.strip():
        return None
    try:
        return parse_yuan(text.strip())
    except (ValueError, InvalidInput):
        raise Refusal(
            400, f"{what}：{text.strip()[:20]} 不是金额（以元为单位，最多两位小数），未做任何更改"
        ) from None


@router.post("/admin/billers/{code}/limits")
def set_limits(
    request: Request,
    user: Admin,
    biller: BillerInPath,
    reason: Reason,
    single: Annotated[str, Form(max_length=20)] = "",
    daily: Annotated[str, Form(max_length=20)] = "",
    monthly: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    engine = console_state(request).engine
    limits = Limits(_fen(single, "单笔限额"), _fen(daily, "日限额"), _fen(monthly, "月限额"))
    payload = {
        "biller": biller.code, "single_payment_fen": limits.single_payment_fen,
        "daily_fen": limits.daily_fen, "monthly_fen": limits.monthly_fen, "reason": reason,
        "by": user.actor,
    }  # fmt: skip
    proposal = MakerChecker(engine).gate(
        "biller.limits", payload, maker=user.identity, reason=reason, biller_code=biller.code
    )
    here = f"{PREFIX}/billers/{biller.code}"
    if proposal is not None:
        return done(
            request,
            user,
            here,
            f"限额变更已提交复核（复核单 {proposal.id}），需另一位管理员或主管批准",
        )
    engine.set_limits(biller.code, limits, actor=user.actor, reason=reason)
    return done(request, user, here, "限额已更新")


def _bps(text: str) -> int:
    """A rate in percent (``0.6`` → 60 basis points), at most two decimals."""
    try:
        bps = Decimal(text.strip() or "0") * 100
    except InvalidOperation:
        bps = Decimal("NaN")
    if not bps.is_finite() or bps != bps.to_integral_value() or not 0 <= bps <= 10_000:
        raise Refusal(
            400, f"费率：{text.strip()[:20]} 应为 0 到 100 之间、最多两位小数的百分数，未做任何更改"
        )
    return int(bps)


@router.post("/admin/billers/{code}/fees")
def set_fee(
    request: Request,
    user: Admin,
    biller: BillerInPath,
    reason: Reason,
    channel: Annotated[str, Form(max_length=32)],
    kind: Annotated[FeeKind, Form()] = FeeKind.BPS,
    rate: Annotated[str, Form(max_length=20)] = "",
    fixed: Annotated[str, Form(max_length=20)] = "",
    minimum: Annotated[str, Form(alias="min", max_length=20)] = "",
    maximum: Annotated[str, Form(alias="max", max_length=20)] = "",
) -> Response:
    rule = FeeRule(
        channel.strip(), kind, bps=_bps(rate) if kind is FeeKind.BPS else 0,
        min_fen=_fen(minimum, "最低手续费") or 0, max_fen=_fen(maximum, "最高手续费"),
        fixed_fen=(_fen(fixed, "固定手续费") or 0) if kind is FeeKind.FIXED else 0,
    )  # fmt: skip
    console_state(request).engine.set_fee_rule(biller.code, rule, actor=user.actor, reason=reason)
    shown = label("channel", rule.channel)
    return done(request, user, f"{PREFIX}/billers/{biller.code}", f"已设置{shown}的手续费规则")


@router.post("/admin/billers/{code}/webhooks")
def add_webhook(
    request: Request,
    user: Admin,
    biller: BillerInPath,
    reason: Reason,
    url: Annotated[str, Form(max_length=500)],
    events: Annotated[str, Form(max_length=500)] = "*",
) -> Response:
    engine = console_state(request).engine
    made = add_endpoint(
        engine, biller.code, url, new_secret(), events or "*", actor=user.actor, reason=reason
    )
    return _shown_once(request, user, engine, made, f"已添加回调地址 {made.url}")


def _endpoint(engine: Engine, endpoint_id: int) -> WebhookEndpoint:
    found = next(
        (e for e in list_endpoints(engine, include_inactive=True) if e.id == endpoint_id), None
    )
    if found is None:
        raise Refusal(404, f"回调地址 {endpoint_id} 不存在")
    return found


def _shown_once(
    request: Request, user: ConsoleUser, engine: Engine, endpoint: WebhookEndpoint, what: str
) -> Response:
    biller = engine.biller(endpoint.biller_code)
    return _biller_page(request, user, biller, secret=endpoint.secret, what=what)


@router.post("/admin/webhooks/{endpoint_id}/rotate")
def rotate_webhook(request: Request, user: Admin, endpoint_id: int, reason: Reason) -> Response:
    engine = console_state(request).engine
    _endpoint(engine, endpoint_id)
    rotated = rotate_secret(engine, endpoint_id, actor=user.actor, reason=reason)
    return _shown_once(
        request, user, engine, rotated, f"已更换回调地址 {endpoint_id} 的签名密钥，立即生效"
    )


@router.post("/admin/webhooks/{endpoint_id}/deactivate")
def deactivate_webhook(request: Request, user: Admin, endpoint_id: int, reason: Reason) -> Response:
    engine = console_state(request).engine
    found = _endpoint(engine, endpoint_id)
    deactivate_endpoint(engine, endpoint_id, actor=user.actor, reason=reason)
    return done(
        request, user, f"{PREFIX}/billers/{found.biller_code}", f"已停用回调地址 {endpoint_id}"
    )


@router.post("/admin/webhooks/{endpoint_id}/reactivate")
def reactivate_webhook(request: Request, user: Admin, endpoint_id: int, reason: Reason) -> Response:
    engine = console_state(request).engine
    found = _endpoint(engine, endpoint_id)
    reactivate_endpoint(engine, endpoint_id, actor=user.actor, reason=reason)
    return done(
        request, user, f"{PREFIX}/billers/{found.biller_code}", f"已启用回调地址 {endpoint_id}"
    )
