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
from zoneinfo import ZoneInfo

from billfold.clock import DEFAULT_TZ
from billfold.collection.bill_csv import LineError
from billfold.errors import ImportFailed, InvalidInput, InvariantViolated
from billfold.labels import label
from billfold.money import format_yuan, parse_yuan
from billfold.settlement.daybook import DayPayment
from billfold.settlement.utility_layout import (
    ARREARS_FIELDS,
    ARREARS_REQUIRED,
    COLLECTION_FIELDS,
    Layout,
    LayoutField,
)

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

_NUMERIC = {"amount", "principal", "late_fee", "seq"}


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


_Records = tuple[list[tuple[int, dict[str, str]]], list[LineError]]


def _records(text: str, layout: Layout) -> _Records:
    lines = text.splitlines()[layout.skip_lines :]
    if layout.format == "fixed":
        return _fixed_records(lines, layout)
    return _csv_records(lines, layout)


def _fixed_records(lines: list[str], layout: Layout) -> _Records:
    records: list[tuple[int, dict[str, str]]] = []
    errors: list[LineError] = []
    for number, raw in enumerate(lines, start=layout.skip_lines + 1):
        if not raw.strip():
            continue
        encoded = raw.encode(layout.encoding)
        values: dict[str, str] = {}
        for item in layout.fields:
            if not (item.start is not None and item.width is not None):
                raise InvariantViolated(
                    "expected item.start is not None and item.width is not None"
                )
            chunk = encoded[item.start - 1 : item.start - 1 + item.width]
            try:
                values[item.name] = chunk.decode(layout.encoding).strip()
            except UnicodeDecodeError:
                errors.append(LineError(number, item.name, "the field cuts a character in half"))
        records.append((number, values))
    return records, errors


def _positions(layout: Layout, header: list[str] | None) -> dict[str, int] | str:
    """Each field's 0-based column; the missing header column's name when one is missing."""
    positions: dict[str, int] = {}
    for item in layout.fields:
        if header is not None and item.column is not None:
            if item.column not in header:
                return item.column
            positions[item.name] = header.index(item.column)
        elif item.index is None:
            raise InvalidInput(
                f"layout: field {item.name!r} needs an index (the file has no header)"
            )
        else:
            positions[item.name] = item.index - 1
    return positions


def _csv_records(lines: list[str], layout: Layout) -> _Records:
    first = layout.skip_lines
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=layout.delimiter)
    records: list[tuple[int, dict[str, str]]] = []
    errors: list[LineError] = []
    try:
        header = [h.strip() for h in next(reader)] if layout.header else None
        positions = _positions(layout, header)
        if isinstance(positions, str):
            return [], [LineError(first + 1, "header", f"no column {positions!r}")]
        wanted = max(positions.values()) + 1
        for row in reader:
            number = first + reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < wanted:
                errors.append(
                    LineError(number, "row", f"expected at least {wanted} fields, found {len(row)}")
                )
                continue
            records.append((number, {n: row[i].strip() for n, i in positions.items()}))
    except StopIteration:
        return [], [LineError(first + 1, "header", "the file is empty")]
    except csv.Error as exc:
        errors.append(LineError(first + reader.line_num, "row", f"malformed CSV: {exc}"))
    return records, errors


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
                    "channel_name": label("channel", payment.channel),
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
        if not (item.start is not None and item.width is not None):
            raise InvariantViolated("expected item.start is not None and item.width is not None")
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
