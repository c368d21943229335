"""Statement ingestion: one streaming parser per format behind one :func:`parse`.

Every parser reads its source lazily and yields :class:`StatementLine` values one by one,
so a file of millions of lines never sits in memory.

Errors come in two kinds:

* a *line* error (bad amount, bad date, missing column, unknown type code, an MT940
  balance that does not add up) is a :class:`LineError`. With ``on_error="reject"`` the
  first one raises :class:`StatementError` naming file, line and field. Lines before it
  have already been yielded, so callers load a statement **inside one database
  transaction** and roll back on the error: nothing is half-loaded. With
  ``on_error="quarantine"`` bad lines are collected in :attr:`StatementReader.errors`
  and skipped, good lines are yielded.
* a *file* error (wrong encoding, no header row, not a camt document, a DTD in the XML)
  always raises :class:`StatementError`, whatever ``on_error`` says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billfold.clock import DEFAULT_TZ
from billfold.errors import InvalidInput
from billfold.settlement.encoding import ByteSource
from billfold.settlement.parsers import alipay, camt, generic_csv, mt940, wechatpay
from billfold.settlement.parsers._common import ParseOptions
from billfold.settlement.statement import LineError, StatementError, StatementLine

__all__ = [
    "PARSERS",
    "OnError",
    "ParseOptions",
    "ParserFunc",
    "ParserSpec",
    "StatementReader",
    "parse",
    "parse_all",
    "parse_options",
]

OnError = Literal["reject", "quarantine"]
ParserFunc = Callable[[ByteSource, ParseOptions], Iterator[StatementLine | LineError]]


@dataclass(frozen=True, slots=True)
class ParserSpec:
    """A registered format: its parser and the channel name used when none is given."""

    parse: ParserFunc
    default_channel: str
    description: str


PARSERS: dict[str, ParserSpec] = {
    "generic-csv": ParserSpec(generic_csv.parse, "csv", "CSV with a configured column mapping"),
    "alipay": ParserSpec(alipay.parse, "alipay", "Alipay merchant bill (业务明细/账务明细)"),
    "wechatpay": ParserSpec(wechatpay.parse, "wechatpay", "WeChat Pay trade bill (ALL)"),
    "camt053": ParserSpec(camt.parse, "bank", "ISO 20022 camt.053 bank-to-customer statement"),
    "camt054": ParserSpec(camt.parse, "bank", "ISO 20022 camt.054 debit/credit notification"),
    "mt940": ParserSpec(mt940.parse, "bank", "SWIFT MT940 customer statement"),
}


class StatementReader(Iterator[StatementLine]):
    """Iterates the good lines of one file; quarantined problems collect in ``errors``."""

    def __init__(self, items: Iterator[StatementLine | LineError], on_error: OnError) -> None:
        self._items = items
        self._on_error = on_error
        self.errors: list[LineError] = []
        self.line_count = 0

    def __iter__(self) -> StatementReader:
        return self

    def __next__(self) -> StatementLine:
        for item in self._items:
            if isinstance(item, LineError):
                if self._on_error == "reject":
                    raise StatementError([item])
                self.errors.append(item)
                continue
            self.line_count += 1
            return item
        raise StopIteration


def parse(
    stream: ByteSource,
    format: str,
    *,
    channel: str | None = None,
    source_file: str | None = None,
    on_error: OnError = "reject",
    encoding: str | None = None,
    column_map: Mapping[str, Any] | None = None,
    tz: str = DEFAULT_TZ,
) -> StatementReader:
    """Parse ``stream`` (an open binary file or an iterable of byte chunks) lazily.

    ``format`` is a key of :data:`PARSERS`. ``channel`` defaults to the format's
    (``alipay``, ``wechatpay``, ``bank``, ``csv``). ``source_file`` names the file in
    errors and lines (default: the stream's ``name``, else ``<stream>``). ``encoding``
    is ``utf-8`` or ``gbk`` (default: detect; ignored for camt, whose XML declares it).
    ``column_map`` is the generic CSV mapping. Times without a zone are in ``tz``.
    """
    if format not in PARSERS:
        parse_options(format, channel, "<stream>")  # raises, naming the known formats
    if on_error not in ("reject", "quarantine"):
        raise InvalidInput(f"on_error: must be 'reject' or 'quarantine', got {on_error!r}")
    if source_file is None:
        name = getattr(stream, "name", None)
        source_file = name if isinstance(name, str) else "<stream>"
    options = parse_options(format, channel, source_file, encoding, column_map, tz)
    spec = PARSERS[format]
    return StatementReader(spec.parse(stream, options), on_error)


def parse_options(
    format: str,
    channel: str | None,
    source_file: str,
    encoding: str | None = None,
    column_map: Mapping[str, Any] | None = None,
    tz: str = DEFAULT_TZ,
) -> ParseOptions:
    """The :class:`ParseOptions` :func:`parse` gives its format's parser."""
    spec = PARSERS.get(format)
    if spec is None:
        known = ", ".join(sorted(PARSERS))
        raise InvalidInput(f"format: unknown statement format {format!r}; known: {known}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"tz: unknown time zone {tz!r}") from None
    return ParseOptions(
        format=format,
        channel=channel or spec.default_channel,
        source_file=source_file,
        tz=zone,
        encoding=encoding,
        column_map=column_map,
    )


def parse_all(
    stream: ByteSource, format: str, **kwargs: Any
) -> tuple[list[StatementLine], list[LineError]]:
    """Parse a *small* file completely; returns the lines and the quarantined errors."""
    reader = parse(stream, format, **kwargs)
    lines = list(reader)
    return lines, reader.errors
