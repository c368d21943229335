"""Turn a byte stream into numbered text lines, lazily, in UTF-8 or GBK/GB18030.

Channel bills arrive as UTF-8 (sometimes with a byte order mark) or as GBK, which is
what Alipay and most Chinese bank portals export. Nothing here reads a file whole:
bytes are pulled chunk by chunk and each line is decoded as it is reached.

Without a stated encoding the first line that is not plain ASCII decides: valid UTF-8
means UTF-8, otherwise GB18030 (a superset of GBK and GB2312). Lines before it are
ASCII, which reads the same either way, so nothing needs to be buffered. Every later
line must decode in the decided encoding; one that does not stops the file with an
error naming the line. Decoding errors are always fatal, even in quarantine mode: a
file in the wrong encoding is wrong as a whole, not line by line.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from billfold.settlement.statement import LineError, StatementError

__all__ = [
    "ByteSource",
    "ChunkReader",
    "iter_byte_chunks",
    "iter_text_lines",
    "normalize_encoding",
    "split_byte_lines",
]

ByteSource = BinaryIO | Iterable[bytes]
"""An open binary file, or any iterable of byte chunks (lines or blocks)."""

CHUNK_SIZE = 64 * 1024
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

_ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "utf8-sig": "utf-8",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "cp936": "gb18030",
}
_DISPLAY = {"utf-8": "UTF-8", "gb18030": "GBK/GB18030"}


def normalize_encoding(name: str) -> str:
    """Map a user's encoding name to ``"utf-8"`` or ``"gb18030"``.

    GBK and GB2312 are decoded as GB18030, their superset, so a stray character outside
    GBK does not fail a file that is otherwise fine.
    """
    key = name.strip().lower().replace("_", "-")
    try:
        return _ALIASES[key]
    except KeyError:
        raise StatementError(
            [
                LineError(
                    "<options>", 1, "encoding", f"unsupported encoding {name!r}; use utf-8 or gbk"
                )
            ]
        ) from None


def iter_byte_chunks(source: ByteSource) -> Iterator[bytes]:
    """Yield the chunks of ``source``: fixed-size reads of a file, or the iterable's items."""
    read = getattr(source, "read", None)
    if callable(read):
        while chunk := read(CHUNK_SIZE):
            yield bytes(chunk)
        return
    for chunk in source:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"statement sources yield bytes, got {type(chunk).__name__}")
        yield bytes(chunk)


def split_byte_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Re-split byte chunks on ``\\n``; the terminator (and a ``\\r`` before it) is dropped.

    Safe for GBK: its trailing bytes are never ``0x0A``.
    """
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        lines = (pending + chunk if pending else chunk).split(b"\n")
        pending = lines.pop()  # the unfinished last line (b"" after a final newline)
        for line in lines:
            yield line[:-1] if line.endswith(b"\r") else line
    if pending:
        yield _drop_cr(pending)


def _drop_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def iter_text_lines(
    source: ByteSource, *, encoding: str | None = None, source_file: str = "<stream>"
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each physical line, numbered from 1.

    ``encoding`` is ``None`` (detect), or a name :func:`normalize_encoding` accepts.
    Raises :class:`StatementError` naming the line that does not decode.
    """
    stated = normalize_encoding(encoding) if encoding is not None else None
    decided, how = stated, "stated"
    for number, raw in enumerate(split_byte_lines(iter_byte_chunks(source)), start=1):
        if number == 1 and raw.startswith((_UTF8_BOM, *_UTF16_BOMS)):
            raw = _strip_bom(raw, stated, source_file)
            decided, how = "utf-8", "from the byte order mark"
        if decided is None:
            if raw.isascii():
                yield number, raw.decode("ascii")
                continue
            decided = "utf-8" if _is_utf8(raw) else "gb18030"
            how = f"detected from line {number}"
        try:
            text = raw.decode(decided)
        except UnicodeDecodeError:
            text = _decode(raw, decided, how, number, source_file)  # raises, naming the line
        yield number, text


def _strip_bom(raw: bytes, stated: str | None, source_file: str) -> bytes:
    if raw.startswith(_UTF16_BOMS):
        raise StatementError(
            [
                LineError(
                    source_file,
                    1,
                    "encoding",
                    "UTF-16 files are not supported; save as UTF-8 or GBK",
                )
            ]
        )
    if stated == "gb18030":
        raise StatementError(
            [
                LineError(
                    source_file,
                    1,
                    "encoding",
                    "the file starts with a UTF-8 byte order mark but GBK was stated",
                )
            ]
        )
    return raw[len(_UTF8_BOM) :]


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode(raw: bytes, encoding: str, how: str, number: int, source_file: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        other = "gbk" if encoding == "utf-8" else "utf-8"
        message = (
            f"not valid {_DISPLAY[encoding]} ({how}): byte 0x{raw[exc.start]:02x} at "
            f"position {exc.start + 1}; the file may be in another encoding (try {other})"
        )
        raise StatementError([LineError(source_file, number, "encoding", message)]) from None


class ChunkReader(io.RawIOBase):
    """A read-only binary file over an iterable of byte chunks (for XML parsers)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: memoryview | bytearray) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size
