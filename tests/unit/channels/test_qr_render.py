"""QR rendering: real PNG and SVG output, and a counter sign with Chinese text."""

from __future__ import annotations

import io
from pathlib import Path
from xml.etree import ElementTree

import pytest
import qrcode
import qrcode.constants
from PIL import Image, ImageFont

from billfold.channels.qr_render import (
    DEFAULT_CAPTION,
    find_cjk_font,
    render_counter_sign,
    render_png,
    render_svg,
)
from billfold.errors import ConfigurationError, InvalidInput

# The EMV MPM specification's example payload (it holds Chinese characters in tag 64).
PAYLOAD = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
    "540523.7253031565502016233030412340603***0708A60086670902ME91320016A011223344"
    "9988770708123456786304A13A"
)


def reference_matrix(payload: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(payload)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


@pytest.fixture(scope="module")
def latin_font(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pillow's own font written to a file: a real font without any Chinese glyphs."""
    default = ImageFont.load_default(12)
    assert isinstance(default, ImageFont.FreeTypeFont)
    path = tmp_path_factory.mktemp("fonts") / "latin-only.ttf"
    path.write_bytes(default.font_bytes)
    return path


def test_png_is_a_real_image_whose_modules_match_the_qr_matrix() -> None:
    image = Image.open(io.BytesIO(render_png(PAYLOAD, box_size=6)))
    assert image.format == "PNG"
    matrix = reference_matrix(PAYLOAD)
    side = len(matrix) * 6
    assert image.size == (side, side)
    gray = image.convert("L")
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            pixel = gray.getpixel((col * 6 + 3, row * 6 + 3))
            assert (pixel == 0) is dark, (row, col)


def test_png_has_a_four_module_white_quiet_zone() -> None:
    image = Image.open(io.BytesIO(render_png("000201", box_size=10))).convert("L")
    assert image.crop((0, 0, image.width, 40)).getextrema() == (255, 255)
    assert image.crop((0, 0, 40, image.height)).getextrema() == (255, 255)
    assert image.getpixel((45, 45)) == 0  # the finder pattern starts right after it


def test_svg_is_well_formed_xml_with_one_path_and_the_right_view_box() -> None:
    root = ElementTree.fromstring(render_svg(PAYLOAD))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    side = len(reference_matrix(PAYLOAD))
    assert root.attrib["viewBox"] == f"0 0 {side} {side}"
    paths = root.findall("{http://www.w3.org/2000/svg}path")
    assert len(paths) == 1 and paths[0].attrib["d"]


@pytest.mark.parametrize(
    ("payload", "options", "message"),
    [
        ("", {}, "QR payload must be a non-empty string"),
        ("X", {"box_size": 0}, "box_size must be >= 1 and border >= 0, got 0, 4"),
        ("X", {"border": -1}, "box_size must be >= 1 and border >= 0, got 10, -1"),
    ],
)
def test_bad_render_arguments_are_refused(
    payload: str, options: dict[str, int], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        render_png(payload, **options)
    with pytest.raises(InvalidInput, match=message):
        render_svg(payload, **options)


def test_a_cjk_font_is_available_for_counter_signs() -> None:
    font = find_cjk_font()
    assert font is not None, "install pylopdf-fonts-zh-cn (or fonts-noto-cjk) for Chinese signs"
    assert font.is_file()


def test_counter_sign_with_chinese_name_and_amount_is_a_printable_png() -> None:
    png = render_counter_sign(PAYLOAD, "海淀区自来水公司营业厅", amount_fen=12345)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.width == 900 and image.height > image.width
    gray = image.convert("L")
    name_band = gray.crop((0, 0, image.width, 140))
    assert sum(name_band.histogram()[:64]) > 500  # the name is drawn in black above the code


def test_counter_sign_grows_for_the_amount_line() -> None:
    without = Image.open(io.BytesIO(render_counter_sign(PAYLOAD, "最佳运输")))
    with_amount = Image.open(io.BytesIO(render_counter_sign(PAYLOAD, "最佳运输", amount_fen=1)))
    assert with_amount.height > without.height


def test_a_long_name_is_shrunk_to_fit_the_sign() -> None:
    png = render_counter_sign(PAYLOAD, "某" * 25, caption="")
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.width == 900
    # the 60 px side margins stay white: the name was shrunk rather than cut off
    assert image.crop((0, 0, 55, image.height)).getextrema() == (255, 255)


def test_a_font_without_chinese_glyphs_is_refused_rather_than_printing_boxes(
    latin_font: Path,
) -> None:
    with pytest.raises(
        ConfigurationError, match=r"has no glyphs for '海淀水务'.*pylopdf-fonts-zh-cn"
    ):
        render_counter_sign(PAYLOAD, "海淀水务", caption="", font_path=latin_font)
    with pytest.raises(ConfigurationError, match="has no glyphs for '扫码缴费'"):
        render_counter_sign(PAYLOAD, "CITY WATER", caption=DEFAULT_CAPTION, font_path=latin_font)


def test_an_ascii_only_sign_works_with_a_latin_font(latin_font: Path) -> None:
    png = render_counter_sign(PAYLOAD, "CITY WATER", caption="Scan to pay", font_path=latin_font)
    assert Image.open(io.BytesIO(png)).width == 900


def test_a_missing_font_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"font file .*nope.ttf' does not exist"):
        render_counter_sign(PAYLOAD, "水务", font_path=tmp_path / "nope.ttf")


@pytest.mark.parametrize(
    ("name", "amount", "message"),
    [
        ("  ", None, "merchant_name must be a non-empty string"),
        ("水务", 0, "amount_fen must be a positive integer of fen, got 0"),
        ("水务", 1.5, "amount_fen must be a positive integer of fen, got 1.5"),
    ],
)
def test_bad_sign_arguments_are_refused(name: str, amount: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        render_counter_sign(PAYLOAD, name, amount_fen=amount)  # type: ignore[arg-type]
