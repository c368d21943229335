"""ISO 20022 bank statements: camt.053 (BkToCstmrStmt/Stmt/Ntry) and camt.054
(BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry), any version (camt.053.001.02 … .08 and later).

The XML is read with ``defusedxml``'s ``iterparse``: DTDs, entity declarations and
external references are refused, and each ``Ntry`` is dropped from the tree as soon as
it has been turned into a line, so memory stays flat however long the statement is.

One entry becomes one line. References, remittance text and the counterparty come from
the entry's ``NtryDtls/TxDtls``. A batch entry (several ``TxDtls``) becomes one line per
transaction when every ``TxDtls`` states its amount (``Amt``, or ``AmtDtls/TxAmt/Amt``
before version 04) and they add up to the entry's amount; otherwise it stays one line of
the total, flagged in ``deviations``. Amounts may have up to five fraction digits (the
schema's limit) when they are whole fen: ``8.850`` is 8.85, ``8.855`` is refused.

``source_line`` — and the ``line`` of a :class:`LineError` — is the 1-based ordinal of
the ``Ntry`` element in the file, not a physical line: XML has no stable line layout.
Malformed XML is reported with its physical line.

Mapping: ``CRDT`` is a :attr:`LineType.SETTLEMENT` credit (a channel paying out to us),
``DBIT`` a debit of type OTHER (FEE when its bank transaction code is a charge),
``RvslInd`` true a REVERSAL. Status BOOK is SUCCESS; PDNG, INFO and FUTR are PENDING.
Booking date (else value date) gives ``occurred_at``; a date without time is the start
of that day in the business time zone, or in the offset it carries (``2024-01-31+08:00``).
Both dates are optional in the schema: an entry with neither takes the creation time of
its statement or notification (``CreDtTm``, which the schema requires) and says so in
``deviations``. A reversal (``RvslInd`` true) keeps the direction ``CdtDbtInd`` gives: it
is the booking that undoes the original one (CRDT undoes a debit).

The XML declares its own encoding. Expat reads UTF-8 (and single-byte encodings) but no
Chinese multi-byte ones, so a document declared GBK/GB2312/GB18030 (or with no
declaration and ``encoding="gbk"`` stated) is transcoded to UTF-8 on the fly.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from billfold.money import format_yuan
from billfold.settlement.encoding import ByteSource, ChunkReader, iter_byte_chunks
from billfold.settlement.parsers._common import FieldError, ParseOptions, exact_fen, fatal
from billfold.settlement.statement import (
    Direction,
    LineError,
    LineStatus,
    LineType,
    StatementLine,
)

__all__ = ["parse"]

_CONTAINERS = {"camt053": ("BkToCstmrStmt", "Stmt"), "camt054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}
_STATUSES = {
    "BOOK": LineStatus.SUCCESS,
    "PDNG": LineStatus.PENDING,
    "INFO": LineStatus.PENDING,
    "FUTR": LineStatus.PENDING,
}
_NOT_PROVIDED = "NOTPROVIDED"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Finder:
    """Namespace-aware lookups by local names, e.g. ``find(e, "Amt")``."""

    def __init__(self, namespace: str) -> None:
        self._prefix = f"{{{namespace}}}" if namespace else ""

    def path(self, path: str) -> str:
        return "/".join(self._prefix + part for part in path.split("/"))

    def find(self, elem: Element, path: str) -> Element | None:
        return elem.find(self.path(path))

    def text(self, elem: Element, *paths: str) -> str | None:
        for path in paths:
            found = elem.find(self.path(path))
            if found is not None and found.text and found.text.strip():
                return found.text.strip()
        return None

    def all(self, elem: Element, path: str) -> list[Element]:
        return elem.findall(self.path(path))


def parse(source: ByteSource, options: ParseOptions) -> Iterator[StatementLine | LineError]:
    """Yield one line per ``Ntry`` of a camt.053 or camt.054 document."""
    file = options.source_file
    message, container = _CONTAINERS.get(options.format, _CONTAINERS["camt053"])
    stack: list[Element] = []
    finder = _Finder("")
    account: str | None = None
    created: str | None = None
    ordinal = 0
    chunks = _as_utf8(iter_byte_chunks(source), options)
    events: Any = SafeET.iterparse(ChunkReader(chunks), events=("start", "end"), forbid_dtd=True)
    try:
        for event, elem in events:
            name = _local(elem.tag)
            if event == "start":
                stack.append(elem)
                if len(stack) == 1:
                    finder = _Finder(_namespace(elem))
                _check_opening(name, len(stack), message, options)
                continue
            stack.pop()
            parent = stack[-1] if stack else None
            if name == "Acct" and parent is not None and _local(parent.tag) == container:
                account = finder.text(elem, "Id/IBAN", "Id/Othr/Id")
            elif name == "CreDtTm" and parent is not None and _local(parent.tag) == container:
                created = (elem.text or "").strip() or None
            elif name == "Ntry":
                ordinal += 1
                context = _Context(finder, ordinal, account, created, options)
                try:
                    yield from _entry(elem, context)
                except FieldError as exc:
                    yield exc.at(file, ordinal)
                if parent is not None:
                    parent.remove(elem)
            elif name == container and parent is not None:
                parent.remove(elem)
                account = created = None
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else 1
        raise fatal(file, line, "xml", f"malformed XML: {exc}") from None
    except defusedxml.DefusedXmlException as exc:
        raise fatal(file, 1, "xml", f"refused: {exc}") from None


def _namespace(elem: Element) -> str:
    return elem.tag[1:].split("}", 1)[0] if elem.tag.startswith("{") else ""


def _check_opening(name: str, depth: int, message: str, options: ParseOptions) -> None:
    """The root must be ``Document`` and hold the message the format names."""
    file = options.source_file
    if depth == 1 and name != "Document":
        raise fatal(file, 1, "Document", f"not an ISO 20022 document: root is {name}")
    if depth == 2 and name != message:
        raise fatal(
            file,
            1,
            message,
            f"expected a {options.format[:4]}.{options.format[4:]} document "
            f"({message}) but found {name}",
        )


_DECLARATION = re.compile(rb"^(\xef\xbb\xbf)?<\?xml[^>]*?encoding=[\"']([A-Za-z0-9_.-]+)[\"']")
_CHINESE = {"gbk", "gb2312", "gb18030", "cp936"}


def _as_utf8(chunks: Iterator[bytes], options: ParseOptions) -> Iterator[bytes]:
    """Pass UTF-8 XML through; transcode GBK/GB18030 XML to UTF-8 on the fly.

    Expat reads no multi-byte Chinese encodings, and Chinese banks do send
    ``encoding="GBK"`` statements. The declaration is rewritten to UTF-8 and the bytes are
    decoded incrementally, chunk by chunk.
    """
    first = b""
    for chunk in chunks:
        first += chunk
        if len(first) >= 256 or b"?>" in first:
            break
    match = _DECLARATION.match(first)
    declared = match.group(2).decode("ascii").lower() if match else None
    stated = (options.encoding or "").lower().replace("_", "-") or None
    wanted = declared if declared in _CHINESE else stated if stated in _CHINESE else None
    if wanted is None:
        yield first
        yield from chunks
        return
    if match is not None:
        first = first[: match.start(2)] + b"UTF-8" + first[match.end(2) :]
    decoder = codecs.getincrementaldecoder("gb18030")()
    offset = 0
    for chunk in itertools.chain([first], chunks):
        try:
            yield decoder.decode(chunk).encode("utf-8")
        except UnicodeDecodeError as exc:
            raise fatal(
                options.source_file,
                1,
                "encoding",
                f"not valid GBK/GB18030 at byte {offset + exc.start + 1}",
            ) from None
        offset += len(chunk)
    yield decoder.decode(b"", final=True).encode("utf-8")


@dataclass(frozen=True, slots=True)
class _Context:
    """What an entry needs from around it."""

    finder: _Finder
    ordinal: int
    account: str | None
    created: str | None
    options: ParseOptions


@dataclass(frozen=True, slots=True)
class _Head:
    """The entry-level values every line of the entry shares."""

    currency: str
    credit: bool
    status: LineStatus
    occurred_at: datetime
    deviations: tuple[str, ...]


def _entry(entry: Element, ctx: _Context) -> list[StatementLine]:
    """The line(s) of one ``Ntry``: one, or one per transaction of a batch."""
    finder = ctx.finder
    amt = finder.find(entry, "Amt")
    if amt is None or not (amt.text or "").strip():
        raise FieldError("Ntry/Amt", "value is empty")
    amount_fen = exact_fen(amt.text or "", "Ntry/Amt")
    currency = amt.get("Ccy")
    if not currency:
        raise FieldError("Ntry/Amt", "the Ccy attribute is missing")
    indicator = finder.text(entry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise FieldError("Ntry/CdtDbtInd", f"{indicator!r} is not CRDT or DBIT")
    status_code = finder.text(entry, "Sts/Cd", "Sts")
    if status_code not in _STATUSES:
        raise FieldError("Ntry/Sts", f"unknown status {status_code!r}; expected BOOK or PDNG")
    occurred_at, deviations = _when(entry, ctx)
    transactions = finder.all(entry, "NtryDtls/TxDtls")
    parts = _batch_amounts(transactions, finder, amount_fen)
    if parts is None and len(transactions) > 1:
        deviations.append(
            f"batch of {len(transactions)} transactions without their own amounts; "
            "read as one line of the total"
        )
    head = _Head(
        currency.upper(), indicator == "CRDT", _STATUSES[status_code], occurred_at,
        tuple(deviations),
    )  # fmt: skip
    if parts is None:
        details = transactions[0] if transactions else entry
        return [_line(entry, details, amount_fen, _charges(entry, finder), None, head, ctx)]
    own_charges = any(finder.find(tx, "Chrgs") is not None for tx in transactions)
    lines = []
    for number, (tx, part) in enumerate(zip(transactions, parts, strict=True), start=1):
        fee = _charges(tx if own_charges else entry, finder) if own_charges or number == 1 else 0
        lines.append(_line(entry, tx, part, fee, number, head, ctx))
    return lines


def _batch_amounts(transactions: list[Element], finder: _Finder, total: int) -> list[int] | None:
    """Each transaction's amount when a batch states them all, else ``None``."""
    if len(transactions) < 2:
        return None
    parts: list[int] = []
    for number, tx in enumerate(transactions, start=1):
        text = finder.text(tx, "Amt", "AmtDtls/TxAmt/Amt")
        if text is None:
            return None
        parts.append(exact_fen(text, f"Ntry/NtryDtls/TxDtls[{number}]/Amt"))
    if sum(parts) != total:
        raise FieldError(
            "Ntry/NtryDtls/TxDtls",
            f"the {len(parts)} transactions add up to {format_yuan(sum(parts))}, "
            f"the entry's amount is {format_yuan(total)}",
        )
    return parts


def _line(
    entry: Element,
    details: Element,
    amount_fen: int,
    fee_fen: int,
    batch_no: int | None,
    head: _Head,
    ctx: _Context,
) -> StatementLine:
    finder = ctx.finder
    line_type = _line_type(entry, details, head, finder)
    txn_id, order_no = _references(entry, details, batch_no, ctx)
    party = "Dbtr" if head.credit else "Cdtr"
    counterparty = finder.text(details, f"RltdPties/{party}/Nm", f"RltdPties/{party}/Pty/Nm")
    texts = [u.text.strip() for u in finder.all(details, "RmtInf/Ustrd") if u.text]
    description = (
        " ".join(texts) or finder.text(details, "AddtlTxInf") or finder.text(entry, "AddtlNtryInf")
    )
    indicator = "CRDT" if head.credit else "DBIT"
    return StatementLine(
        channel=ctx.options.channel,
        channel_txn_id=txn_id,
        order_no=order_no,
        amount_fen=amount_fen,
        fee_fen=fee_fen,
        currency=head.currency,
        occurred_at=head.occurred_at,
        type=line_type,
        status=head.status,
        direction=Direction.CREDIT if head.credit else Direction.DEBIT,
        merchant_id=ctx.account,
        counterparty=counterparty,
        description=description,
        source_file=ctx.options.source_file,
        source_line=ctx.ordinal,
        raw=f"{indicator} {format_yuan(amount_fen)} {head.currency} {txn_id}",
        deviations=head.deviations,
    )


def _line_type(entry: Element, details: Element, head: _Head, finder: _Finder) -> LineType:
    if (finder.text(entry, "RvslInd") or "").lower() in ("true", "1"):
        return LineType.REVERSAL
    if head.credit:
        return LineType.SETTLEMENT
    if _is_charge(entry, details, finder):
        return LineType.FEE
    return LineType.OTHER


def _references(
    entry: Element, details: Element, batch_no: int | None, ctx: _Context
) -> tuple[str, str | None]:
    """The line's transaction ID and the order number it carries (EndToEndId, else InstrId)."""
    finder = ctx.finder
    entry_ref = (
        finder.text(entry, "AcctSvcrRef") or finder.text(entry, "NtryRef") or f"Ntry#{ctx.ordinal}"
    )
    tx_ref = finder.text(details, "Refs/AcctSvcrRef", "Refs/TxId")
    if batch_no is None:
        txn_id = finder.text(entry, "AcctSvcrRef") or tx_ref or entry_ref
    else:
        txn_id = tx_ref or f"{entry_ref}/{batch_no}"
    for ref in ("Refs/EndToEndId", "Refs/InstrId"):
        order_no = finder.text(details, ref)
        if order_no and order_no != _NOT_PROVIDED:
            return txn_id, order_no
    return txn_id, None


def _is_charge(entry: Element, details: Element, finder: _Finder) -> bool:
    for elem in (details, entry):
        code = finder.text(elem, "BkTxCd/Domn/Fmly/SubFmlyCd")
        if code in ("CHRG", "FEES", "COMM"):
            return True
    return False


def _charges(entry: Element, finder: _Finder) -> int:
    total = 0
    for charges in finder.all(entry, "Chrgs"):
        for amt in [*finder.all(charges, "Amt"), *finder.all(charges, "Rcrd/Amt")]:
            total += exact_fen(amt.text or "", "Ntry/Chrgs/Amt")
    return total


_DATE = re.compile(r"(\d{4}-\d\d-\d\d)(Z|[+-]\d\d:\d\d)?")


def _when(entry: Element, ctx: _Context) -> tuple[datetime, list[str]]:
    """``occurred_at`` and the deviations about it (see the module docstring)."""
    for group in ("BookgDt", "ValDt"):
        stamp = ctx.finder.text(entry, f"{group}/DtTm")
        day = ctx.finder.text(entry, f"{group}/Dt")
        if stamp:
            return _date_time(stamp, f"Ntry/{group}/DtTm", ctx.options), []
        if day:
            return _day(day, f"Ntry/{group}/Dt", ctx.options), []
    if ctx.created is None:
        raise FieldError("Ntry/BookgDt", "neither a booking date nor a value date is given")
    used = _date_time(ctx.created, "CreDtTm", ctx.options)
    return used, ["no booking or value date; the creation time of the statement (CreDtTm) is used"]


def _date_time(stamp: str, field: str, options: ParseOptions) -> datetime:
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        raise FieldError(field, f"{stamp!r} is not an ISO date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=options.tz)
    return parsed.astimezone(UTC)


def _day(text: str, field: str, options: ParseOptions) -> datetime:
    match = _DATE.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        parsed = datetime.strptime(match[1], "%Y-%m-%d")
    except ValueError:
        raise FieldError(field, f"{text!r} is not a date like 2024-01-31") from None
    offset = match[2]
    if offset is None:
        return parsed.replace(tzinfo=options.tz).astimezone(UTC)
    zone = UTC if offset == "Z" else datetime.strptime(offset, "%z").tzinfo
    return parsed.replace(tzinfo=zone).astimezone(UTC)
