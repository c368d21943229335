"""A statement to reconcile: where its bytes come from, its fingerprint, and how to parse it.

A :data:`Source` is a path (read twice: once to fingerprint it, once to parse it) or the
file's bytes. :class:`ParseRequest` is everything the parser needs besides the bytes; the
staging port (:class:`billfold.settlement.ports.StatementStaging`) takes both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billfold.settlement.parsers import OnError, ParseOptions, StatementReader, parse, parse_options

__all__ = ["CHUNK", "ParseRequest", "Progress", "Source", "chunks", "fingerprint"]

#: A statement: a path to read (twice: once to fingerprint it) or its bytes.
Source = Path | bytes
#: Called with the number of bytes read, as they are read.
Progress = Callable[[int], object]
CHUNK = 1 << 20


def fingerprint(source: Source) -> tuple[str, str]:
    """The file's SHA-256 and the name it goes by (:func:`source_name`)."""
    digest = hashlib.sha256()
    if isinstance(source, bytes):
        digest.update(source)
        return digest.hexdigest(), source_name(source)
    with source.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest(), source_name(source)


def source_name(source: Source) -> str:
    """The name a file goes by: its file name, ``<bytes>`` for bytes."""
    return "<bytes>" if isinstance(source, bytes) else source.name


def chunks(source: Source, progress: Progress | None = None) -> Iterator[bytes]:
    """The source's bytes in blocks of :data:`CHUNK`, reporting each to ``progress``."""
    if isinstance(source, bytes):
        for i in range(0, len(source), CHUNK):
            block = source[i : i + CHUNK]
            if progress:
                progress(len(block))
            yield block
        return
    with source.open("rb") as handle:
        while block := handle.read(CHUNK):
            if progress:
                progress(len(block))
            yield block


@dataclass(frozen=True, slots=True)
class ParseRequest:
    """Everything :func:`billfold.settlement.parsers.parse` needs besides the bytes."""

    format: str
    channel: str
    source_file: str
    on_error: OnError
    encoding: str | None = None
    column_map: Mapping[str, Any] | None = None

    def options(self) -> ParseOptions:
        """The options :meth:`reader` gives the format's parser."""
        return parse_options(
            self.format, self.channel, self.source_file, self.encoding, self.column_map
        )

    def reader(self, chunks: Iterator[bytes]) -> StatementReader:
        return parse(
            chunks,
            self.format,
            channel=self.channel,
            source_file=self.source_file,
            on_error=self.on_error,
            encoding=self.encoding,
            column_map=self.column_map,
        )
