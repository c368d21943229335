from __future__ import annotations

import codecs
import io
from collections.abc import Iterator

import pytest

from billfold.settlement.encoding import (
    ChunkReader,
    iter_text_lines,
    normalize_encoding,
    split_byte_lines,
)
from billfold.settlement.statement import StatementError

TEXT = "账号,金额\r\nA1,12.34\r\n商户,0.01\r\n"


def _lines(data: bytes, encoding: str | None = None) -> list[tuple[int, str]]:
    return list(iter_text_lines(io.BytesIO(data), encoding=encoding, source_file="f.csv"))


def test_utf8_is_detected() -> None:
    assert _lines(TEXT.encode("utf-8")) == [(1, "账号,金额"), (2, "A1,12.34"), (3, "商户,0.01")]


def test_utf8_bom_is_dropped() -> None:
    assert _lines(TEXT.encode("utf-8-sig"))[0] == (1, "账号,金额")


def test_gbk_is_detected() -> None:
    assert _lines(TEXT.encode("gbk"))[2] == (3, "商户,0.01")


def test_gbk_detected_after_ascii_lines() -> None:
    data = ("id,amount\nA1,1.00\n" + "商户,0.01\n").encode("gbk")
    assert _lines(data)[2] == (3, "商户,0.01")


def test_stated_gbk_reads_gbk() -> None:
    assert _lines(TEXT.encode("gbk"), "GBK")[0] == (1, "账号,金额")


def test_gb18030_characters_outside_gbk_are_read_when_gbk_is_stated() -> None:
    text = "名称\n𠀀\n"  # a CJK Extension B character: GB18030 only
    assert _lines(text.encode("gb18030"), "gbk")[1] == (2, "𠀀")


def test_wrong_stated_encoding_names_the_line() -> None:
    data = ("id,name\n" + "A1,商户\n").encode("gbk")
    with pytest.raises(StatementError) as caught:
        _lines(data, "utf-8")
    assert str(caught.value) == (
        "f.csv:2: encoding: not valid UTF-8 (stated): byte 0xc9 at position 4; "
        "the file may be in another encoding (try gbk)"
    )


def test_line_breaking_the_detected_encoding_is_named() -> None:
    data = "名称\n".encode() + "商户\n".encode("gbk")
    with pytest.raises(StatementError) as caught:
        _lines(data)
    assert str(caught.value) == (
        "f.csv:2: encoding: not valid UTF-8 (detected from line 1): byte 0xc9 at position 1;"
        " the file may be in another encoding (try gbk)"
    )


def test_gbk_line_after_a_utf8_bom_is_refused() -> None:
    data = codecs.BOM_UTF8 + b"id\n" + "商户\n".encode("gbk")
    with pytest.raises(StatementError) as caught:
        _lines(data)
    assert str(caught.value).startswith(
        "f.csv:2: encoding: not valid UTF-8 (from the byte order mark): byte 0xc9 at position 1"
    )


def test_utf8_bom_with_gbk_stated_is_refused() -> None:
    with pytest.raises(StatementError) as caught:
        _lines(TEXT.encode("utf-8-sig"), "gbk")
    assert str(caught.value) == (
        "f.csv:1: encoding: the file starts with a UTF-8 byte order mark but GBK was stated"
    )


def test_utf16_is_refused() -> None:
    with pytest.raises(StatementError, match="f.csv:1: encoding: UTF-16 files are not supported"):
        _lines(TEXT.encode("utf-16"))


def test_unknown_encoding_name_is_refused() -> None:
    with pytest.raises(StatementError, match="unsupported encoding 'latin-1'; use utf-8 or gbk"):
        normalize_encoding("latin-1")


def test_lines_are_resplit_across_arbitrary_chunks() -> None:
    chunks = [b"ab", b"c\r", b"\nde", b"f\n\ng", b""]
    assert list(split_byte_lines(chunks)) == [b"abc", b"def", b"", b"g"]


def test_lines_are_decoded_lazily() -> None:
    pulled: list[int] = []

    def source() -> Iterator[bytes]:
        for n in range(1, 100_000):
            pulled.append(n)
            yield f"{n},商户\n".encode("gbk")

    lines = iter_text_lines(source(), source_file="big.csv")
    assert next(lines) == (1, "1,商户")
    assert len(pulled) <= 2


def test_chunk_reader_reads_like_a_file() -> None:
    reader = ChunkReader([b"<a>", b"", b"hello", b"</a>"])
    assert reader.read() == b"<a>hello</a>"
