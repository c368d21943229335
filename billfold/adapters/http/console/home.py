"""The console's home: what each role looks at first — today's figures and charts drawn on
the server (``charts``), for the user's biller or, for a back-office user, every biller."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup

from billfold.adapters.http.console.charts import bars, columns
from billfold.adapters.http.console.figures import Today, today
from billfold.adapters.http.console.guard import User, pages
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import PREFIX, add_nav, console_state, render
from billfold.merchants.roles import Role
from billfold.money import format_yuan

__all__ = ["router"]

router = pages()
add_nav("首页", f"{PREFIX}/", order=0)

#: the charts each role sees first, in order (a person with several roles sees each once)
CHARTS: dict[Role, tuple[str, ...]] = {
    Role.BURSAR: ("sub_units", "by_day", "by_channel"),
    Role.RECONCILER: ("by_channel", "in_transit", "discrepancies", "by_day"),
    Role.SUPERVISOR: ("escrow", "discrepancies", "by_channel", "sub_units"),
    Role.ADMIN: ("by_channel", "by_day"),
    Role.VIEWER: ("by_day", "by_channel", "sub_units"),
}


def _yuan(fen: int) -> str:
    return f"¥{format_yuan(fen)}"


def _percent(bp: int) -> str:
    return f"{bp / 100:.1f}%"


def _chart(name: str, t: Today) -> tuple[str, Markup] | None:
    if name == "sub_units":
        return "各班级/单位缴费率", bars("各班级/单位缴费率", t.by_sub_unit, _percent, scale=10_000)
    if name == "by_day":
        return "近 14 天每日收款", columns("近 14 天每日收款", t.by_day, _yuan)
    if name == "by_channel":
        return "今日各渠道收款", bars("今日各渠道收款", t.by_channel, _yuan)
    if name == "in_transit" and t.in_transit is not None:
        return "在途资金（按账龄）", bars("在途资金（按账龄）", t.in_transit, _yuan)
    if name == "discrepancies":
        return "待处理差错（按类型）", bars("待处理差错（按类型）", t.discrepancies, str)
    if name == "escrow" and t.escrow:
        return "监管账户余额（按项目）", bars("监管账户余额（按项目）", t.escrow, _yuan)
    return None


def charts_for(user: ConsoleUser, t: Today) -> list[tuple[str, Markup]]:
    names: list[str] = []
    for role in Role:
        if role in user.roles:
            names += [n for n in CHARTS[role] if n not in names]
    return [found for n in names if (found := _chart(n, t)) is not None]


@router.get("/")
def home(request: Request, user: User) -> Response:
    figures = today(console_state(request).engine, user.biller_id, user.biller_code)
    cards = [
        ("今日收款", _yuan(figures.collected_fen), f"{figures.collected_count} 笔"),
        ("未缴金额", _yuan(figures.outstanding_fen), "未缴、部分缴费与逾期账单"),
        ("逾期账单", f"{figures.overdue_bills} 张", "已过缴费期限"),
    ]
    if user.back_office:
        open_items = sum(n for _, n in figures.discrepancies)
        cards += [
            ("待处理差错", f"{open_items} 笔", "对账发现、尚未处理"),
            ("死信推送", f"{figures.dead_deliveries} 条", "用尽重试的 Webhook 推送"),
        ]
    return render(
        request, user, "home.html", figures=figures, cards=cards, charts=charts_for(user, figures)
    )


@router.get("")
def home_without_slash() -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)
