"""The receipt's verification page on the payer pages: what the QR printed on a receipt opens.

* ``GET /pay/r/{token}`` — says the receipt is genuine and shows what it says (payer masked
  as issued), or that it cannot be verified; the token is the receipt number and an HMAC
  keyed with the receipt's own secret (:mod:`billfold.collection.receipt`), so receipt
  numbers alone open nothing;
* ``GET /pay/r/{token}/pdf`` — the same receipt as a PDF (the ``pdf`` extra), its QR again
  pointing at this page.

Both are throttled per client like the other payer-page look-ups, not in the OpenAPI
document, and carry the payer pages' strict Content-Security-Policy.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from billfold.adapters.http.auth import api_state
from billfold.adapters.http.cashier_lookup import throttled
from billfold.adapters.http.cashier_views import esc, page
from billfold.collection.receipt import Receipt
from billfold.money import format_yuan, yuan_in_capitals
from billfold.packs.government import Government

__all__ = ["router"]

router = APIRouter(prefix="/pay/r", include_in_schema=False)


def _not_verified() -> Response:
    content = (
        '<div class="card"><h2 id="message" class="state failed">无法核验该凭证</h2>'
        '<p class="muted" id="detail">二维码无效，或该凭证不是本系统开具的。'
        "请向收款单位核实。</p></div>"
    )
    return page("凭证核验", content, heading="凭证核验", status_code=404)


def _receipt_card(receipt: Receipt, token: str) -> str:
    facts = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in receipt.facts())
    lines = "".join(
        f"<dt>{esc(line.name)}</dt><dd>¥{format_yuan(line.amount_fen)}</dd>"
        for line in receipt.lines
    )
    pdf = f"/pay/r/{quote(token, safe='')}/pdf"
    return (
        '<div class="card"><p class="state paid" id="state">凭证真实有效</p>'
        '<p class="muted">以下为收款单位开具时记录的内容，请与纸质凭证核对。</p></div>'
        f'<div class="card"><h2>缴款凭证</h2><dl id="facts">{facts}</dl></div>'
        f'<div class="card"><h2>缴款项目</h2><dl id="lines">{lines}</dl>'
        f'<p class="amount" id="total">¥{format_yuan(receipt.total_fen)}</p>'
        f'<p id="capitals">大写：{esc(yuan_in_capitals(receipt.total_fen))}</p>'
        f'<a class="button secondary" id="pdf" href="{esc(pdf)}">下载PDF凭证</a></div>'
    )


def _verified(request: Request, token: str) -> Receipt | None:
    return Government(api_state(request).engine).verified_receipt(token)


@router.get("/{token}")
async def verify_page(request: Request, token: str) -> Response:
    refused = throttled(request)
    if refused is not None:
        return refused
    receipt = await run_in_threadpool(_verified, request, token)
    if receipt is None:
        return _not_verified()
    return page(
        f"凭证核验 {receipt.receipt_no}",
        _receipt_card(receipt, token),
        heading=receipt.office_name,
        subheading="缴款凭证核验",
    )


def _pdf(request: Request, token: str) -> bytes | None:
    receipt = _verified(request, token)
    if receipt is None:
        return None
    base = str(request.base_url).rstrip("/")
    return Government(api_state(request).engine).receipt_pdf(receipt.receipt_no, base_url=base)


@router.get("/{token}/pdf")
async def receipt_pdf(request: Request, token: str) -> Response:
    refused = throttled(request)
    if refused is not None:
        return refused
    data = await run_in_threadpool(_pdf, request, token)
    if data is None:
        return _not_verified()
    number = token.partition(".")[0]
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{number}.pdf"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
