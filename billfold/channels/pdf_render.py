"""Printable PDF documents in Chinese: payment notices (one page per student) and receipts.

Every page is the same shape (:class:`DocumentPage`): a title, a table of facts (label and
value), the items with their amounts, the total in figures and in Chinese capitals
(大写金额, :func:`billfold.money.yuan_in_capitals`), and a QR code with a caption under it.
Pages are A5 portrait, the size of a notice slip or a receipt.

The Chinese font is the one the QR counter signs use (:func:`~billfold.channels.qr_render.
find_cjk_font`: ``BILLFOLD_CJK_FONT``, the ``cjk`` extra's Noto Sans SC, or Debian's
``fonts-noto-cjk`` / ``fonts-wqy-microhei``); fpdf2 embeds the subset of it the document
uses, CFF (OpenType ``.otf``) and TrueType outlines alike, so the PDF reads the same on a
machine with no Chinese font. Without any font with Chinese glyphs the document is refused
with :class:`~billfold.errors.ConfigurationError` rather than printed with empty boxes.

fpdf2, qrcode and Pillow are the ``pdf`` extra (``pip install 'billfold[pdf,cjk]'``); without
it every function here raises :class:`~billfold.extras.MissingExtra`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from billfold.channels.qr_render import FONT_ENV_VAR, cjk_face_index, find_cjk_font
from billfold.collection.receipt import Receipt
from billfold.errors import ConfigurationError, InvalidInput
from billfold.extras import requires_extra
from billfold.money import format_yuan, yuan_in_capitals

if TYPE_CHECKING:
    from fpdf import FPDF

__all__ = ["DocumentPage", "receipt_page", "render_pdf"]

_FAMILY = "cjk"
_WIDTH = 148.0  # A5, millimetres
_MARGIN = 12.0
_INNER = _WIDTH - 2 * _MARGIN
_LABEL_WIDTH = 30.0
_QR_SIZE = 42.0


@dataclass(frozen=True, slots=True)
class DocumentPage:
    """One printed page; every text is plain (nothing is interpreted as markup)."""

    title: str
    facts: tuple[tuple[str, str], ...]
    items: tuple[tuple[str, int], ...]  # (name, amount in fen)
    amount_fen: int  # the total printed in figures and in capitals
    qr_payload: str
    caption: str
    amount_label: str = "合计"
    footer: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise InvalidInput("title: a document page needs a title")
        if not self.qr_payload:
            raise InvalidInput("qr_payload: a document page needs the QR's address")
        if isinstance(self.amount_fen, bool) or self.amount_fen < 0:
            raise InvalidInput(f"amount_fen: {self.amount_fen!r} is not an amount")


def _font(font_path: str | Path | None) -> tuple[Path, int]:
    path = find_cjk_font(font_path)
    if path is None:
        raise ConfigurationError(
            "no font with Chinese glyphs found for the PDF; install the 'cjk' extra "
            "(pip install 'billfold[cjk]'), or Debian's fonts-noto-cjk, or set "
            f"{FONT_ENV_VAR} to a font with Chinese glyphs"
        )
    return path, cjk_face_index(path)


def _qr_png(payload: str) -> io.BytesIO:
    from billfold.channels.qr_render import render_png

    return io.BytesIO(render_png(payload, box_size=8, border=2))


def _facts(pdf: FPDF, facts: Sequence[tuple[str, str]]) -> None:
    if not facts:
        return
    with pdf.table(
        col_widths=(_LABEL_WIDTH, _INNER - _LABEL_WIDTH),
        width=_INNER,
        first_row_as_headings=False,
        borders_layout="NONE",
        line_height=6,
        text_align=("LEFT", "LEFT"),
    ) as table:
        for label, value in facts:
            row = table.row()
            row.cell(label)
            row.cell(value)


def _items(pdf: FPDF, page: DocumentPage) -> None:
    with requires_extra("pdf"):
        from fpdf.fonts import FontFace
    with pdf.table(
        col_widths=(_INNER - 36, 36),
        headings_style=FontFace(emphasis="", fill_color=(238, 238, 238)),
        width=_INNER,
        line_height=7,
        text_align=("LEFT", "RIGHT"),
    ) as table:
        heading = table.row()
        heading.cell("项目")
        heading.cell("金额（元）")
        for name, fen in page.items:
            row = table.row()
            row.cell(name)
            row.cell(format_yuan(fen))
        total = table.row()
        total.cell(f"{page.amount_label}（小写）")
        total.cell(f"¥{format_yuan(page.amount_fen)}")
        capitals = table.row()
        capitals.cell(f"{page.amount_label}（大写） {yuan_in_capitals(page.amount_fen)}", colspan=2)


def _page(pdf: FPDF, page: DocumentPage) -> None:
    pdf.add_page()
    pdf.set_font(_FAMILY, size=15)
    pdf.multi_cell(_INNER, 9, page.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(_FAMILY, size=9.5)
    _facts(pdf, page.facts)
    pdf.ln(3)
    _items(pdf, page)
    for note in page.notes:
        pdf.ln(1)
        pdf.multi_cell(_INNER, 5, note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    if pdf.get_y() + _QR_SIZE + 14 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.image(_qr_png(page.qr_payload), x=(_WIDTH - _QR_SIZE) / 2, w=_QR_SIZE, h=_QR_SIZE)
    pdf.set_font(_FAMILY, size=9)
    pdf.multi_cell(_INNER, 5, page.caption, align="C", new_x="LMARGIN", new_y="NEXT")
    if page.footer:
        pdf.set_font(_FAMILY, size=7.5)
        pdf.multi_cell(_INNER, 4, page.footer, align="C", new_x="LMARGIN", new_y="NEXT")


def render_pdf(
    pages: Sequence[DocumentPage],
    *,
    title: str = "",
    created_at: datetime | None = None,
    font_path: str | Path | None = None,
) -> bytes:
    """One PDF, a page (or more, when a page's content runs over) per :class:`DocumentPage`,
    with the CJK font embedded. ``title`` is the document's title in its properties;
    ``created_at`` its creation time (given, the same pages give the same bytes)."""
    if not pages:
        raise InvalidInput("pages: a document needs at least one page")
    path, index = _font(font_path)
    with requires_extra("pdf"):
        from fpdf import FPDF
    pdf = FPDF(orientation="P", unit="mm", format=(_WIDTH, 210.0))  # A5
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=_MARGIN)
    pdf.set_creator("billfold")
    pdf.set_title(title or pages[0].title)
    pdf.set_lang("zh-CN")
    if created_at is not None:
        pdf.set_creation_date(created_at)
    pdf.add_font(_FAMILY, fname=str(path), collection_font_number=index)
    for page in pages:
        _page(pdf, page)
    return bytes(pdf.output())


def receipt_page(receipt: Receipt, verify_url: str) -> DocumentPage:
    """A receipt's page: its facts (payer masked as issued, channel in Chinese, transaction
    reference), its lines, the total in figures and capitals, and the QR of ``verify_url``."""
    return DocumentPage(
        title=f"{receipt.office_name} 缴款凭证",
        facts=tuple(receipt.facts()),
        items=tuple((line.name, line.amount_fen) for line in receipt.lines),
        amount_fen=receipt.total_fen,
        qr_payload=verify_url,
        caption="扫码核验凭证真伪",
        footer=verify_url,
    )
