"""Files exchanged with a utility: the arrears file in, the daily collection file back.

Each utility has its own layout, described as data (a dict, e.g. loaded from JSON)::

    {"format": "fixed", "encoding": "gbk", "amount_unit": "fen", "date_format": "%Y%m%d",
     "fields": [{"name": "account_no", "start": 1, "width": 10},
                {"name": "amount", "start": 11, "width": 10}, ...]}

    {"format": "csv", "encoding": "utf-8", "delimiter": ",", "header": true,
     "fields": [{"name": "account_no", "column": "户号"}, {"name": "amount", "column": "金额"}]}

Fixed-width positions are 1-based and count bytes in the layout's encoding (a GBK 汉字 is two
bytes wide), as the utilities' mainframes do. A CSV field names its header (``column``) or,
without a header row, its 1-based position (``index``).

The collection file ends with a control line (count and sum, from the ``trailer`` template)
and a checksum line over every byte before it (``checksum``: md5 or sha256, written by the
``checksum_line`` template). Nothing in it depends on when it is written, so regenerating a
day gives the byte-identical file. Pure: no I/O.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from billfold.clock import DEFAULT_TZ
from billfold.collection.bill_csv import LineError
from billfold.errors import ImportFailed, InvalidInput
from billfold.money import format_yuan, parse_yuan
from billfold.settlement.daybook import DayPayment

__all__ = [
    "ARREARS_FIELDS",
    "COLLECTION_FIELDS",
    "ArrearsRow",
    "Layout",
    "LayoutField",
    "arrears_bill_csv",
    "collection_file",
    "parse_arrears",
    "verify_collection_file",
]

ARREARS_FIELDS = ("account_no", "amount", "due_date", "bill_no", "name", "period", "late_fee")
ARREARS_REQUIRED = ("account_no", "amount", "due_date")
COLLECTION_FIELDS = (
    "date",
    "seq",
    "account_no",
    "bill_no",
    "principal",
    "late_fee",
    "amount",
    "channel",
    "txn_id",
    "paid_at",
)
_NUMERIC = {"amount", "principal", "late_fee", "seq"}
_CHECKSUMS = ("md5", "sha256")


@dataclass(frozen=True, slots=True)
class LayoutField:
    name: str
    start: int | None = None  # fixed: 1-based byte position
    width: int | None = None  # fixed: bytes
    column: str | None = None  # csv: header name
    index: int | None = None  # csv without header: 1-based position


@dataclass(frozen=True, slots=True)
class Layout:
    format: str
    fields: tuple[LayoutField, ...]
    encoding: str = "utf-8"
    delimiter: str = ","
    header: bool = True
    skip_lines: int = 0
    amount_unit: str = "yuan"
    date_format: str = "%Y-%m-%d"
    time_format: str = "%Y%m%d%H%M%S"
    trailer: str = "TOTAL|{count}|{sum}"
    checksum: str = "md5"
    checksum_line: str = "CHECKSUM|{algorithm}|{digest}"
    line_end: str = "\r\n"
    late_fee: str = "none"
    item: str = "fee"
    item_name: str = "费用"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, known: Sequence[str]) -> Layout:
        """A layout, checked against the field names ``known`` (the arrears or the
        collection fields); a mistake raises InvalidInput naming it."""
        if not isinstance(data, Mapping):
            raise InvalidInput("layout: must be an object with format and fields")
        fmt = data.get("format")
        if fmt not in ("csv", "fixed"):
            raise InvalidInput(f"layout: format must be csv or fixed, not {fmt!r}")
        allowed = {
            "format", "fields", "encoding", "delimiter", "header", "skip_lines", "amount_unit",
            "date_format", "time_format", "trailer", "checksum", "checksum_line", "line_end",
            "late_fee", "item", "item_name",
        }  # fmt: skip
        extra = sorted(set(data) - allowed)
        if extra:
            raise InvalidInput(f"layout: unknown setting(s) {', '.join(extra)}")
        raw = data.get("fields")
        if not isinstance(raw, list) or not raw:
            raise InvalidInput("layout: fields must be a non-empty list")
        fields = tuple(_field(item, fmt, known) for item in raw)
        names = [f.name for f in fields]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InvalidInput(f"layout: field {repeated[0]!r} appears twice")
        if fmt == "fixed":
            spans = sorted((f.start or 0, (f.start or 0) + (f.width or 0), f.name) for f in fields)
            for (_, end, left), (start, _, right) in pairwise(spans):
                if start < end:
                    raise InvalidInput(f"layout: fields {left!r} and {right!r} overlap")
        layout = cls(
            fmt, fields, **{k: v for k, v in data.items() if k not in ("format", "fields")}
        )
        try:
            "x".encode(layout.encoding)
        except LookupError:
            raise InvalidInput(f"layout: unknown encoding {layout.encoding!r}") from None
        if layout.amount_unit not in ("yuan", "fen"):
            raise InvalidInput(
                f"layout: amount_unit must be yuan or fen, not {layout.amount_unit!r}"
            )
        if layout.checksum not in _CHECKSUMS:
            raise InvalidInput(f"layout: checksum must be md5 or sha256, not {layout.checksum!r}")
        if fmt == "csv" and (len(layout.delimiter) != 1 or layout.delimiter in '\r\n"'):
            raise InvalidInput(f"layout: delimiter {layout.delimiter!r} must be one character")
        return layout

    def named(self, name: str) -> LayoutField | None:
        for item in self.fields:
            if item.name == name:
                return item
        return None


def _field(item: Any, fmt: str, known: Sequence[str]) -> LayoutField:
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        raise InvalidInput("layout: every field needs a name")
    name = item["name"]
    if name not in known:
        raise InvalidInput(f"layout: unknown field {name!r}; known: {', '.join(known)}")
    if fmt == "fixed":
        start, width = item.get("start"), item.get("width")
        if not isinstance(start, int) or not isinstance(width, int) or start < 1 or width < 1:
            raise InvalidInput(f"layout: field {name!r} needs start and width (1 or more)")
        return LayoutField(name, start=start, width=width)
    column, index = item.get("column"), item.get("index")
    if column is None and index is None:
        raise InvalidInput(f"layout: field {name!r} needs a column or an index")
    if index is not None and (not isinstance(index, int) or index < 1):
        raise InvalidInput(f"layout: field {name!r}: index must be 1 or more")
    return LayoutField(name, column=str(column) if column is not None else None, index=index)


# -- the arrears file in ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArrearsRow:
    line: int
    account_no: str
    amount_fen: int
    due_date: date
    bill_no: str
    name: str = ""
    period: str = ""
    late_fee: str = ""


@dataclass(slots=True)
class _Reader:
    layout: Layout
    errors: list[LineError] = field(default_factory=list)


def _decode(data: bytes, layout: Layout) -> str:
    try:
        text = data.decode(
            "utf-8-sig" if layout.encoding.lower() in ("utf-8", "utf8") else layout.encoding
        )
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(
            f"line {line}: the file is not valid {layout.encoding} (byte 0x{data[exc.start]:02x})"
        ) from None
    return text


Records = list[tuple[int, dict[str, str]]]


def _records(text: str, layout: Layout) -> tuple[Records, list[LineError]]:
    lines = text.splitlines()
    first = layout.skip_lines
    if layout.format == "fixed":
        return _fixed_records(lines[first:], first, layout)
    return _delimited_records(lines[first:], first, layout)


def _fixed_records(lines: list[str], first: int, layout: Layout) -> tuple[Records, list[LineError]]:
    """Fixed-width lines: each field is cut by its byte position in the file's encoding."""
    records: Records = []
    errors: list[LineError] = []
    for number, raw in enumerate(lines, start=first + 1):
        if not raw.strip():
            continue
        encoded = raw.encode(layout.encoding)
        values: dict[str, str] = {}
        for item in layout.fields:
            assert item.start is not None and item.width is not None
            chunk = encoded[item.start - 1 : item.start - 1 + item.width]
            try:
                values[item.name] = chunk.decode(layout.encoding).strip()
            except UnicodeDecodeError:
                errors.append(LineError(number, item.name, "the field cuts a character in half"))
        records.append((number, values))
    return records, errors


def _delimited_records(
    lines: list[str], first: int, layout: Layout
) -> tuple[Records, list[LineError]]:
    """Delimited lines: each field by its header column or its index."""
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=layout.delimiter)
    records: Records = []
    errors: list[LineError] = []
    header_line = first + 1
    try:
        positions = _positions(reader, layout, header_line)
        if isinstance(positions, LineError):
            return [], [positions]
        for row in reader:
            number = first + reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            wanted = max(positions.values()) + 1
            if len(row) < wanted:
                errors.append(
                    LineError(number, "row", f"expected at least {wanted} fields, found {len(row)}")
                )
                continue
            records.append((number, {n: row[i].strip() for n, i in positions.items()}))
    except StopIteration:
        return [], [LineError(header_line, "header", "the file is empty")]
    except csv.Error as exc:
        errors.append(LineError(first + reader.line_num, "row", f"malformed CSV: {exc}"))
    return records, errors


def _positions(reader: Any, layout: Layout, header_line: int) -> dict[str, int] | LineError:
    """Where each field sits in a row (0-based); reads the header row when there is one."""
    positions: dict[str, int] = {}
    if not layout.header:
        for item in layout.fields:
            if item.index is None:
                raise InvalidInput(
                    f"layout: field {item.name!r} needs an index (the file has no header)"
                )
            positions[item.name] = item.index - 1
        return positions
    header = [h.strip() for h in next(reader)]
    for item in layout.fields:
        if item.column is not None:
            if item.column not in header:
                return LineError(header_line, "header", f"no column {item.column!r}")
            positions[item.name] = header.index(item.column)
        else:
            assert item.index is not None
            positions[item.name] = item.index - 1
    return positions


def _amount(text: str, layout: Layout, name: str) -> int:
    if layout.amount_unit == "fen":
        if not text.isdigit():
            raise InvalidInput(f"{name}: {text!r} is not a whole number of fen")
        return int(text)
    return parse_yuan(text, field=name)


def _arrears_row(
    number: int, values: dict[str, str], layout: Layout, seen: dict[str, int]
) -> tuple[ArrearsRow | None, list[LineError]]:
    """One arrears line checked field by field: every bad field is named, not only the first.
    A field missing from ``values`` was already refused (it cuts a character in half)."""
    errors: list[LineError] = []

    def bad(name: str, message: str) -> None:
        errors.append(LineError(number, name, message))

    account = values.get("account_no")
    if account is not None and (not account or len(account) > 32):
        bad("account_no", f"{account!r} must be 1-32 characters")
    amount = 0
    if "amount" in values:
        try:
            amount = _amount(values["amount"], layout, "amount")
        except InvalidInput as exc:
            bad("amount", exc.message.partition(": ")[2])
        else:
            if amount <= 0:
                bad("amount", "must be more than 0.00")
    due: date | None = None
    if "due_date" in values:
        try:
            due = datetime.strptime(values["due_date"], layout.date_format).date()
        except ValueError:
            bad("due_date", f"{values['due_date']!r} does not match {layout.date_format}")
    period = values.get("period", "")
    bill_no = values.get("bill_no") or ""
    if not bill_no and due is not None and account:
        bill_no = f"{period or due.strftime('%Y%m')}-{account}"
    if bill_no:
        if bill_no in seen:
            bad("bill_no", f"{bill_no} repeats line {seen[bill_no]}")
        else:
            seen[bill_no] = number
    if errors or account is None or due is None or "amount" not in values:
        return None, errors
    row = ArrearsRow(
        number,
        account,
        amount,
        due,
        bill_no,
        values.get("name", ""),
        period,
        values.get("late_fee", ""),
    )
    return row, errors


def parse_arrears(data: bytes, layout: Layout, *, file_name: str = "arrears") -> list[ArrearsRow]:
    """Every arrears line, or :class:`ImportFailed` naming every bad line and field."""
    missing = [name for name in ARREARS_REQUIRED if layout.named(name) is None]
    if missing:
        raise InvalidInput(f"layout: field(s) {', '.join(missing)} required for an arrears file")
    records, errors = _records(_decode(data, layout), layout)
    rows: list[ArrearsRow] = []
    seen: dict[str, int] = {}
    for number, values in records:
        row, bad = _arrears_row(number, values, layout, seen)
        errors += bad
        if row is not None:
            rows.append(row)
    if not records and not errors:
        errors.append(LineError(1, "row", "the file has no arrears lines"))
    if errors:
        errors.sort(key=lambda e: (e.line, e.field))
        rejected = len({e.line for e in errors})
        raise ImportFailed(
            f"{file_name}: {rejected} line(s) rejected; nothing was imported",
            [str(e) for e in errors],
        )
    return rows


def arrears_bill_csv(rows: Sequence[ArrearsRow], layout: Layout) -> str:
    """The arrears as billfold's own bill CSV (for :meth:`Engine.import_bills`): one bill per
    line, payer = 户号, the layout's late-fee rule unless the line names its own."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["bill_no", "payer_id", "payer_name", "item", "item_name", "amount", "due_date",
         "late_fee", "period"]
    )  # fmt: skip
    for row in rows:
        writer.writerow(
            [
                row.bill_no,
                row.account_no,
                row.name,
                layout.item,
                layout.item_name,
                format_yuan(row.amount_fen),
                row.due_date.isoformat(),
                row.late_fee or layout.late_fee,
                row.period,
            ]
        )
    return out.getvalue()


# -- the collection file out ------------------------------------------------------------------


def _money(fen: int, layout: Layout) -> str:
    return str(fen) if layout.amount_unit == "fen" else format_yuan(fen)


def _format_template(template: str, name: str, **values: str) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInput(f"layout: {name} template {template!r} is not usable ({exc})") from None


def collection_file(
    day: date, payments: Sequence[DayPayment], layout: Layout, *, tz: str = DEFAULT_TZ
) -> bytes:
    """The day's collections in the utility's layout: one line per bill paid, then the
    control line (count, sum) and the checksum line. Same input → same bytes."""
    zone = ZoneInfo(tz)
    rows: list[dict[str, str]] = []
    total = 0
    for payment in payments:
        for line in payment.lines:
            total += line.amount_fen
            rows.append(
                {
                    "date": day.strftime(layout.date_format),
                    "seq": str(len(rows) + 1),
                    "account_no": line.payer_identifier,
                    "bill_no": line.bill_no,
                    "principal": _money(line.principal_fen, layout),
                    "late_fee": _money(line.late_fee_fen, layout),
                    "amount": _money(line.amount_fen, layout),
                    "channel": payment.channel,
                    "txn_id": payment.channel_txn_id,
                    "paid_at": payment.paid_at.astimezone(zone).strftime(layout.time_format),
                }
            )
    body: list[bytes] = []
    end = layout.line_end.encode("ascii")
    if layout.format == "csv":
        text = io.StringIO()
        writer = csv.writer(text, delimiter=layout.delimiter, lineterminator=layout.line_end)
        if layout.header:
            writer.writerow([f.column or f.name for f in layout.fields])
        for row in rows:
            writer.writerow([row[f.name] for f in layout.fields])
        body.append(text.getvalue().encode(layout.encoding))
    else:
        for number, row in enumerate(rows, start=1):
            body.append(_fixed_line(row, layout, number) + end)
    summary = {"count": str(len(rows)), "sum": _money(total, layout), "date": day.isoformat()}
    body.append(
        _format_template(layout.trailer, "trailer", **summary).encode(layout.encoding) + end
    )
    content = b"".join(body)
    digest = hashlib.new(layout.checksum, content).hexdigest()
    check = _format_template(
        layout.checksum_line, "checksum_line", algorithm=layout.checksum.upper(), digest=digest
    )
    return content + check.encode("ascii") + end


def _fixed_line(row: Mapping[str, str], layout: Layout, number: int) -> bytes:
    width = max((f.start or 0) + (f.width or 0) - 1 for f in layout.fields)
    line = bytearray(b" " * width)
    for item in layout.fields:
        assert item.start is not None and item.width is not None
        value = row[item.name].encode(layout.encoding)
        if len(value) > item.width:
            raise InvalidInput(
                f"line {number}: {item.name}: {row[item.name]!r} does not fit {item.width} bytes"
            )
        if item.name in _NUMERIC:
            cell = value.rjust(item.width, b"0")
        else:
            cell = value.ljust(item.width, b" ")
        line[item.start - 1 : item.start - 1 + item.width] = cell
    return bytes(line)


def verify_collection_file(data: bytes, layout: Layout) -> str | None:
    """Why the file's checksum line does not hold, or None: what the utility checks."""
    end = layout.line_end.encode("ascii")
    body, _, last = data.rstrip(end).rpartition(end)
    content = body + end
    digest = hashlib.new(layout.checksum, content).hexdigest()
    expected = _format_template(
        layout.checksum_line, "checksum_line", algorithm=layout.checksum.upper(), digest=digest
    )
    if last.decode("ascii", "replace") != expected:
        return f"checksum line {last.decode('ascii', 'replace')!r} does not match the content"
    return None
