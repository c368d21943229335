"""Finding a payer's bills on the public pages without letting anyone enumerate them.

* ``GET /pay/lookup`` asks for the biller first (缴费单位, a list of the billers that take
  payments here) and sends the payer on to that biller's page (``/pay/b/{biller}``): no
  search ever runs across every biller.
* A biller may ask for a second factor (:class:`~billfold.merchants.biller.LookupCheck`):
  the payer's name, or its last character. Bills are listed only for payers who pass it.
* "No such payer" and "a payer whose name does not match" get the same answer, word for
  word and status for status (:func:`not_found`), so an answer tells nothing.
* Each client address may search ``lookup_rate_limit`` times (a burst, then a steady rate;
  429 with Retry-After beyond it). The address is the connection's peer as the server
  reports it: behind a reverse proxy, ``billfold serve --forwarded-allow-ips`` says whose
  ``X-Forwarded-For`` uvicorn believes (no one else's is). Buckets are keyed by a hash of
  the address, so no address is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import groupby
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from billfold.adapters.http.auth import ApiState, api_state
from billfold.adapters.http.cashier_views import esc, fragment, page
from billfold.adapters.http.metrics import RATE_LIMIT_REFUSALS
from billfold.adapters.http.ratelimit import RateLimit
from billfold.collection.bill import Bill
from billfold.collection.payer import Payer
from billfold.merchants.biller import Biller, BillerKind, LookupCheck

__all__ = [
    "DEFAULT_LOOKUP_LIMIT",
    "MAX_IDENTIFIER",
    "STALL_KINDS",
    "check_refusal",
    "clean_identifier",
    "lookup_form",
    "not_found",
    "payable_groups",
    "router",
    "throttled",
]

router = APIRouter(prefix="/pay", include_in_schema=False)

#: Ten searches at once, then one every five seconds, per client address.
DEFAULT_LOOKUP_LIMIT = RateLimit(per_second=0.2, burst=10)
STALL_KINDS = frozenset({BillerKind.MARKET_STALL})
MAX_IDENTIFIER = 64
MAX_CHECK = 32
CHECK_LABELS = {
    LookupCheck.NAME_LAST_CHAR: "缴费人姓名的最后一个字",
    LookupCheck.NAME: "缴费人姓名",
}


def _client_key(request: Request) -> str:
    """The rate-limit bucket of the request's client address (16 characters, no address)."""
    host = request.client.host if request.client else "unknown"
    return "lk" + hashlib.sha256(host.encode()).hexdigest()[:14]


def throttled(request: Request) -> Response | None:
    """A 429 page when this client has searched too often, else ``None`` (a token taken)."""
    wait = api_state(request).lookups.take(_client_key(request))
    if not wait:
        return None
    RATE_LIMIT_REFUSALS.labels("lookup").inc()
    content = (
        '<div class="card"><h2 id="message">查询过于频繁</h2>'
        f'<p class="muted" id="detail">请 {wait} 秒后再试。</p></div>'
    )
    answer = page("查询过于频繁", content, status_code=429)
    answer.headers["Retry-After"] = str(wait)
    return answer


def clean_identifier(identifier: str | None) -> tuple[str, str]:
    """(identifier, error) — the identifier stripped, or the reason it cannot be looked up."""
    text = (identifier or "").strip()
    if len(text) > MAX_IDENTIFIER:
        return "", f"identifier: at most {MAX_IDENTIFIER} characters"
    return text, ""


def check_refusal(biller: Biller, given: str) -> str:
    """Why the second factor ``given`` cannot be checked (missing, too long), or ``""``."""
    if biller.lookup_check is LookupCheck.NONE:
        return ""
    if not given.strip():
        return f"请填写{CHECK_LABELS[biller.lookup_check]}"
    if len(given) > MAX_CHECK:
        return f"check: at most {MAX_CHECK} characters"
    return ""


def lookup_form(
    action: str, biller: Biller | None, identifier: str, given: str, results: str = ""
) -> str:
    """The search form (the second factor's field when the biller asks for one), then
    ``results`` (HTML)."""
    check = ""
    if biller is not None and biller.lookup_check is not LookupCheck.NONE:
        label = CHECK_LABELS[biller.lookup_check]
        check = (
            f'<label for="check">{esc(label)}</label>'
            f'<input id="check" name="check" type="text" autocomplete="off" '
            f'maxlength="{MAX_CHECK}" value="{esc(given)}" required>'
        )
    return fragment(
        "lookup", action=esc(action), identifier=esc(identifier), check=check, results=results
    )


def not_found(identifier: str) -> str:
    """The one answer for "no such payer" and "not this payer's": nothing tells them apart."""
    return (
        '<div class="card"><h2 id="message">未找到待缴账单</h2>'
        f'<p class="muted" id="detail">没有与“{esc(identifier)}”对应的待缴账单，'
        "请核对户号 / 学号 / 决定书编号及缴费人信息。</p></div>"
    )


def _groups(
    found: Sequence[tuple[Biller, Payer, Bill]],
) -> list[tuple[Biller, Payer, list[Bill]]]:
    def key(hit: tuple[Biller, Payer, Bill]) -> tuple[int, int]:
        return (hit[0].id or 0, hit[1].id or 0)

    groups = []
    for _, hits in groupby(sorted(found, key=key), key=key):
        rows = list(hits)
        groups.append((rows[0][0], rows[0][1], [bill for _, _, bill in rows if bill.payable]))
    return [(biller, payer, bills) for biller, payer, bills in groups if bills]


def payable_groups(
    state: ApiState, biller: Biller, identifier: str, given: str
) -> list[tuple[Biller, Payer, list[Bill]]]:
    """The biller's payable bills for ``identifier``, by payer, of payers who pass the
    biller's check with ``given``."""
    found = _groups(state.engine.bills_for(identifier, biller.code))
    return [g for g in found if biller.lookup_check.passes(g[1].name, given)]


@router.get("/lookup")
def lookup_page(
    request: Request,
    biller: str | None = None,
    identifier: str | None = None,
    check: str | None = None,
) -> Response:
    """Choose the biller, then search on its page."""
    billers = [
        b
        for b in api_state(request).engine.billers()
        if b.accepts_orders and b.kind not in STALL_KINDS
    ]
    chosen = next((b for b in billers if biller and b.code == biller.strip()), None)
    if chosen is not None:
        query = {k: v.strip() for k, v in (("identifier", identifier), ("check", check)) if v}
        target = f"/pay/b/{chosen.code}" + (f"?{urlencode(query)}" if query else "")
        return RedirectResponse(target, status_code=303)
    error = ""
    if biller or identifier:
        error = '<p class="error" id="error">请选择缴费单位</p>'
    options = "".join(f'<option value="{esc(b.code)}">{esc(b.name)}</option>' for b in billers)
    content = fragment(
        "picker",
        options=options,
        identifier=esc((identifier or "").strip()[:MAX_IDENTIFIER]),
        error=error,
    )
    return page(
        "查询账单",
        content,
        subheading="选择缴费单位，按户号 / 学号 / 决定书编号查询",
        status_code=422 if error else 200,
    )
