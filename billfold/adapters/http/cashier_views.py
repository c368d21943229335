"""The payer pages' HTML: ``.html`` templates beside this module, filled with
:class:`string.Template`; every value from the database or the request is escaped here
(:func:`esc`) before it reaches a template, so templates hold only trusted markup.

Pages carry a strict Content-Security-Policy: no external resources, inline styles, and
only the page's own script (by nonce).
"""

from __future__ import annotations

import functools
import html
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from fastapi.responses import HTMLResponse

from billfold.channels.qr import Flow
from billfold.collection.order import OrderStatus
from billfold.labels import LABELS

__all__ = [
    "CHANNEL_LABELS",
    "FLOW_LABELS",
    "StatusView",
    "esc",
    "fragment",
    "page",
    "status_view",
]

TEMPLATES = Path(__file__).with_name("cashier_templates")

FLOW_LABELS = {
    Flow.WECHAT: "微信",
    Flow.ALIPAY: "支付宝",
    Flow.UNIONPAY: "云闪付",
    Flow.BANK_APP: "手机银行",
}
CHANNEL_LABELS = LABELS["channel"]  # the one table of labels (billfold.labels)


def esc(value: object) -> str:
    """Text (or a number) made safe for HTML content and quoted attributes."""
    return html.escape(str(value), quote=True)


@functools.cache
def _template(name: str) -> string.Template:
    return string.Template((TEMPLATES / f"{name}.html").read_text(encoding="utf-8"))


def fragment(name: str, **values: str) -> str:
    """A template filled with values that are already HTML (escape them with :func:`esc`)."""
    return _template(name).substitute(values)


def page(
    title: str,
    content: str,
    *,
    heading: str | None = None,
    subheading: str = "",
    status_code: int = 200,
    script: str = "",
    nonce: str | None = None,
) -> HTMLResponse:
    """A whole page: ``title``/``heading``/``subheading`` are plain text (escaped here),
    ``content`` and ``script`` are HTML."""
    body = fragment(
        "layout",
        title=esc(title),
        heading=esc(heading if heading is not None else title),
        subheading=esc(subheading),
        content=content,
        script=script,
    )
    script_src = f"'nonce-{nonce}'" if nonce else "'none'"
    headers = {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            f"script-src {script_src}; connect-src 'self'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(body, status_code=status_code, headers=headers)


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class StatusView:
    """What the result page says for an order's status; ``final`` stops the polling."""

    status: str
    label: str
    hint: str
    css: str
    final: bool


_PENDING = ("等待支付结果…", "支付结果以收款方系统确认为准，请勿重复付款。", "pending", False)
_VIEWS: dict[OrderStatus, tuple[str, str, str, bool]] = {
    OrderStatus.CREATED: ("尚未支付", "请返回支付页面完成支付。", "pending", False),
    OrderStatus.PAYING: _PENDING,
    OrderStatus.PAID: ("已支付", "支付成功，收款方已确认收款。", "paid", True),
    OrderStatus.PARTIALLY_REFUNDED: ("已支付（部分退款）", "部分款项已退回。", "paid", True),
    OrderStatus.REFUNDED: ("已退款", "款项已原路退回。", "failed", True),
    OrderStatus.REVERSED: ("已冲正", "本次支付已撤销。", "failed", True),
    OrderStatus.EXPIRED: ("订单已过期", "本订单未支付，请重新发起缴费。", "failed", True),
    OrderStatus.CANCELLED: ("订单已取消", "本订单未支付。", "failed", True),
    OrderStatus.FAILED: ("支付失败", "本订单未支付，请重新发起缴费。", "failed", True),
}


def status_view(status: OrderStatus) -> StatusView:
    label, hint, css, final = _VIEWS.get(status, _PENDING)
    return StatusView(status.value, label, hint, css, final)
