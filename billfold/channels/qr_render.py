"""Render an aggregated-QR payload as a PNG or SVG, and as a printable counter sign.

QR codes use error correction level M (15% of the code may be damaged or covered) and the
4-module quiet zone the QR standard asks for.

The counter sign shows the merchant's (usually Chinese) name, the code, a caption and
optionally the amount. Pillow's built-in font has no Chinese glyphs, so a CJK font is looked
up in this order: the ``font_path`` argument, the ``BILLFOLD_CJK_FONT`` environment variable,
the PyPI package ``pylopdf-fonts-zh-cn`` (Noto Sans SC, SIL OFL), then well-known system
fonts (Debian ``fonts-noto-cjk`` / ``fonts-wqy-microhei``, macOS, Windows). A font is used
only if it also has Latin letters and "¥". A sign whose text needs glyphs that no font found
has is refused with :class:`ConfigurationError` rather than printed with empty boxes;
ASCII-only text falls back to Pillow's own font.

qrcode and Pillow come with the ``qr`` extra (``pip install 'billfold[qr]'``); without it
every function here raises :class:`~billfold.extras.MissingExtra`.
"""

from __future__ import annotations

import io
import os
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from billfold.errors import ConfigurationError, InvalidInput
from billfold.extras import requires_extra
from billfold.money import format_yuan

if TYPE_CHECKING:  # qrcode and Pillow are the 'qr' extra, imported where they are used
    from PIL import ImageFont

    _FontT = ImageFont.FreeTypeFont | ImageFont.ImageFont

__all__ = [
    "DEFAULT_CAPTION",
    "FONT_ENV_VAR",
    "FONT_PACKAGE",
    "cjk_face_index",
    "find_cjk_font",
    "render_counter_sign",
    "render_png",
    "render_svg",
]

DEFAULT_CAPTION = "扫码缴费 / Scan to pay"
FONT_ENV_VAR = "BILLFOLD_CJK_FONT"
FONT_PACKAGE = "pylopdf_fonts_zh_cn"  # pip install pylopdf-fonts-zh-cn
_PACKAGE_FONT_FILE = "NotoSansSC-Regular.otf"
_SYSTEM_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
_PROBE = "缴费Pay¥0"  # a font with these covers Chinese, Latin and the yuan sign


def _qr(payload: str, box_size: int, border: int, factory: Any = None) -> Any:
    if not isinstance(payload, str) or not payload:
        raise InvalidInput("QR payload must be a non-empty string")
    if box_size < 1 or border < 0:
        raise InvalidInput(f"box_size must be >= 1 and border >= 0, got {box_size}, {border}")
    with requires_extra("qr"):
        import qrcode
        import qrcode.constants
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=border,
        image_factory=factory,
    )
    code.add_data(payload)
    code.make(fit=True)
    return code


def render_png(payload: str, *, box_size: int = 10, border: int = 4) -> bytes:
    """PNG bytes of the QR code for ``payload``."""
    image = _qr(payload, box_size, border).make_image().get_image()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def render_svg(payload: str, *, box_size: int = 10, border: int = 4) -> str:
    """SVG text (a single path) of the QR code for ``payload``."""
    with requires_extra("qr"):
        from qrcode.image.svg import SvgPathImage
    image = _qr(payload, box_size, border, SvgPathImage).make_image()
    text: str = image.to_string(encoding="unicode")
    return text


# -- fonts -------------------------------------------------------------------------------------


def _candidates() -> list[Path]:
    found: list[Path] = []
    from_env = os.environ.get(FONT_ENV_VAR)
    if from_env:
        found.append(Path(from_env))
    if find_spec(FONT_PACKAGE) is not None:
        found.append(Path(str(resources.files(FONT_PACKAGE) / _PACKAGE_FONT_FILE)))
    found += [Path(path) for path in _SYSTEM_FONTS]
    return found


def cjk_face_index(path: Path) -> int:
    """The face to use in ``path``: in a font collection (``.ttc``) the Simplified Chinese
    one, else 0 (the PDF writer embeds the same face the PNG renderer draws with)."""
    with requires_extra("qr"):
        from PIL import ImageFont
    if path.suffix.lower() != ".ttc":
        return 0
    for index in range(1, 12):
        try:
            face = ImageFont.truetype(str(path), 12, index=index)
        except OSError:
            break
        if " SC" in (face.getname()[0] or ""):
            return index
    return 0


def _load(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """Load ``path``; in a font collection prefer the Simplified Chinese face."""
    with requires_extra("qr"):
        from PIL import ImageFont
    return ImageFont.truetype(str(path), size, index=cjk_face_index(path))


def _missing_glyphs(font: _FontT, text: str) -> list[str]:
    """Characters of ``text`` that ``font`` would draw as its 'missing glyph' box."""
    missing_box = font.getmask("\U0010fffd")
    reference = (missing_box.size, bytes(missing_box))
    missing = []
    for char in dict.fromkeys(text):
        if char.isspace():
            continue
        mask = font.getmask(char)
        if (mask.size, bytes(mask)) == reference:
            missing.append(char)
    return missing


def find_cjk_font(font_path: str | Path | None = None) -> Path | None:
    """The first usable font with Chinese glyphs, or None. An explicit path must be usable."""
    if font_path is not None:
        path = Path(font_path)
        if not path.is_file():
            raise ConfigurationError(f"font file {str(path)!r} does not exist")
        return path
    for path in _candidates():
        if path.is_file():
            try:
                font = _load(path, 24)
            except OSError:
                continue
            if not _missing_glyphs(font, _PROBE):
                return path
    return None


def _font_for(text: str, path: Path | None, size: int) -> _FontT:
    with requires_extra("qr"):
        from PIL import ImageFont
    font: _FontT = _load(path, size) if path else ImageFont.load_default(size)
    missing = _missing_glyphs(font, text)
    if missing:
        where = f"font {str(path)!r}" if path else "Pillow's default font (no CJK font found)"
        raise ConfigurationError(
            f"{where} has no glyphs for {''.join(missing)!r}; install the PyPI package "
            f"pylopdf-fonts-zh-cn, or Debian's fonts-noto-cjk, or set {FONT_ENV_VAR} to a "
            "font with Chinese glyphs"
        )
    return font


# -- counter sign ------------------------------------------------------------------------------

_WIDTH = 900
_MARGIN = 60
_GAP = 36


def _fit(text: str, path: Path | None, size: int, width: int) -> _FontT:
    """The font at ``size``, shrunk (down to 18 px) until ``text`` fits ``width``."""
    font = _font_for(text, path, size)
    while size > 18 and font.getlength(text) > width:
        size -= 4
        font = _font_for(text, path, size)
    return font


def render_counter_sign(
    payload: str,
    merchant_name: str,
    *,
    amount_fen: int | None = None,
    caption: str = DEFAULT_CAPTION,
    font_path: str | Path | None = None,
) -> bytes:
    """A printable PNG sign: merchant name, QR code, optional amount, caption."""
    with requires_extra("qr"):
        from PIL import Image, ImageDraw
    if not isinstance(merchant_name, str) or not merchant_name.strip():
        raise InvalidInput("merchant_name must be a non-empty string")
    if amount_fen is not None and (
        isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0
    ):
        raise InvalidInput(f"amount_fen must be a positive integer of fen, got {amount_fen!r}")
    inner = _WIDTH - 2 * _MARGIN
    path = find_cjk_font(font_path)
    lines = [(merchant_name.strip(), _fit(merchant_name.strip(), path, 64, inner))]
    code = _qr(payload, 1, 4)
    modules = code.modules_count + 2 * code.border
    code.box_size = max(1, inner // modules)
    qr_image = code.make_image().get_image().convert("RGB")
    below = []
    if amount_fen is not None:
        amount = f"¥{format_yuan(amount_fen)}"
        below.append((amount, _fit(amount, path, 56, inner)))
    if caption:
        below.append((caption, _fit(caption, path, 40, inner)))

    def height(text: str, font: _FontT) -> int:
        return int(font.getbbox(text)[3])

    total = _MARGIN + sum(height(t, f) + _GAP for t, f in lines + below)
    total += qr_image.height + _GAP + _MARGIN
    sign = Image.new("RGB", (_WIDTH, total), "white")
    draw = ImageDraw.Draw(sign)
    y = _MARGIN
    for text, font in lines:
        draw.text((_WIDTH // 2, y), text, font=font, fill="black", anchor="ma")
        y += height(text, font) + _GAP
    sign.paste(qr_image, ((_WIDTH - qr_image.width) // 2, y))
    y += qr_image.height + _GAP
    for text, font in below:
        draw.text((_WIDTH // 2, y), text, font=font, fill="black", anchor="ma")
        y += height(text, font) + _GAP
    buffer = io.BytesIO()
    sign.save(buffer, format="PNG")
    return buffer.getvalue()
