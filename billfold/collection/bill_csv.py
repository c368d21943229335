"""Reading a biller's bill file (CSV or XLSX): pure parsing into drafts and per-line errors.

Layout: one row per bill, a header row naming the columns (English names, or the Chinese
aliases below). Required: ``bill_no``, ``payer_id`` and either ``amount`` (one item) or
``items`` (``code:名称=金额;code:名称=金额``). Optional: ``payer_kind``, ``payer_name``,
``payer_phone``, ``item``, ``item_name``, ``due_date`` (YYYY-MM-DD), ``kind``
(fixed/open/fine), ``min_amount``/``max_amount`` (open bills), ``decision_no``,
``allow_partial`` (yes/no), ``min_part``, ``late_fee`` (e.g. ``daily:5bps:cap=100%``),
``sub_unit``, ``period``, ``description``, ``priority``.

Columns billfold does not know (a clerk's 备注) are ignored with a warning; a biller that
wants them refused imports with ``strict``. A value Excel turned into scientific notation
(``8.8001E+09``: the digits after the fourth are gone) is refused on its line with a hint,
never stored. How the file is split into rows (delimiter, XLSX) is
:mod:`billfold.collection.bill_file`'s job.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from billfold.collection.bill import Bill, BillItem, BillKind
from billfold.collection.bill_file import BillTable, table_from_text
from billfold.collection.latefee import LateFeeRule
from billfold.collection.payer import IdentifierKind, Payer
from billfold.errors import InvalidInput
from billfold.money import parse_yuan

__all__ = [
    "BillDraft",
    "LineError",
    "LineWarning",
    "decode_bill_file",
    "read_bill_csv",
    "read_bill_rows",
]

ALIASES = {
    "账单号": "bill_no",
    "账单编号": "bill_no",
    "缴费人标识": "payer_id",
    "学号": "payer_id",
    "户号": "payer_id",
    "合同号": "payer_id",
    "标识类型": "payer_kind",
    "姓名": "payer_name",
    "缴费人": "payer_name",
    "电话": "payer_phone",
    "手机号": "payer_phone",
    "项目": "item",
    "项目名称": "item_name",
    "金额": "amount",
    "多项目": "items",
    "截止日期": "due_date",
    "缴费期限": "due_date",
    "类型": "kind",
    "决定书编号": "decision_no",
    "允许部分缴费": "allow_partial",
    "最低部分缴费": "min_part",
    "滞纳金规则": "late_fee",
    "单位": "sub_unit",
    "班级": "sub_unit",
    "期间": "period",
    "学期": "period",
    "说明": "description",
    "最低金额": "min_amount",
    "最高金额": "max_amount",
    "优先级": "priority",
}
KNOWN = {
    "bill_no",
    "payer_id",
    "payer_kind",
    "payer_name",
    "payer_phone",
    "item",
    "item_name",
    "amount",
    "items",
    "due_date",
    "kind",
    "decision_no",
    "allow_partial",
    "min_part",
    "late_fee",
    "sub_unit",
    "period",
    "description",
    "min_amount",
    "max_amount",
    "priority",
}
#: The columns in the order the content hash lists them.
_CANONICAL = sorted(KNOWN)
TRUE = {"yes", "y", "true", "1", "是"}
FALSE = {"no", "n", "false", "0", "否", ""}


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class LineWarning:
    """Something read differently from how it was written, or ignored; nothing refused."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]\d+")  # as Excel writes it: 8.8E+09


@dataclass(slots=True)
class BillDraft:
    line: int
    payer: Payer
    bill: Bill
    content_hash: str = field(default="")


def decode_bill_file(data: bytes, encoding: str = "auto") -> str:
    """Decode a bill file: UTF-8 (with or without BOM) or GBK/GB18030; ``auto`` tries them."""
    wanted = encoding.lower().replace("_", "-")
    if wanted in ("utf-8", "utf8", "utf-8-sig"):
        return _decode(data, "utf-8-sig", "UTF-8", hint="is the file GBK? try --encoding gbk")
    if wanted in ("gbk", "gb2312", "gb18030"):
        return _decode(data, "gb18030", "GBK", hint="is the file UTF-8? try --encoding utf-8")
    if wanted != "auto":
        raise InvalidInput(f"encoding: {encoding!r} is not supported (use auto, utf-8 or gbk)")
    if data.startswith(b"\xef\xbb\xbf"):
        return _decode(data, "utf-8-sig", "UTF-8", hint="the file starts with a UTF-8 BOM")
    try:
        return _no_nul(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    return _decode(data, "gb18030", "UTF-8 or GBK", hint="save it as UTF-8 and import again")


def _decode(data: bytes, codec: str, name: str, *, hint: str) -> str:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(
            f"line {line}: the file is not valid {name} (byte 0x{data[exc.start]:02x}); {hint}"
        ) from None
    return _no_nul(text)


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise InvalidInput("the file holds NUL characters: it is not a CSV text file")
    return text


def read_bill_csv(
    text: str, biller_id: int, default_kind: IdentifierKind, *, strict: bool = False
) -> Iterator[BillDraft | LineError | LineWarning]:
    """:func:`read_bill_rows` over CSV text (comma, tab or semicolon separated)."""
    return read_bill_rows(table_from_text(text), biller_id, default_kind, strict=strict)


def read_bill_rows(
    table: BillTable, biller_id: int, default_kind: IdentifierKind, *, strict: bool = False
) -> Iterator[BillDraft | LineError | LineWarning]:
    """Yield a draft or an error for each data row; repeated bill numbers are errors.

    Warnings (an ignored column, a detected delimiter) come first, before any row.
    """
    rows = iter(table.rows)
    header_row = next(rows, None)
    if header_row is None:
        line, message = table.error if table.error is not None else (1, "the file is empty")
        yield LineError(line, "header", message)
        return
    columns, notes = _columns(header_row, table.notes, strict=strict)
    yield from notes
    if columns is None:
        return
    seen: dict[str, int] = {}
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        values = _values(line, row, columns)
        if isinstance(values, LineError):
            yield values
            continue
        bill_no = values.get("bill_no", "")
        if bill_no in seen:
            yield LineError(line, "bill_no", f"{bill_no} repeats line {seen[bill_no]}")
            continue
        try:
            draft = _draft(values, line, biller_id, default_kind)
        except InvalidInput as exc:
            fld, _, msg = exc.message.partition(": ")
            yield LineError(line, fld if msg else "row", msg or exc.message)
            continue
        seen[bill_no] = line
        yield draft
    if table.error is not None:
        yield LineError(table.error[0], "row", table.error[1])


def _columns(
    header_row: tuple[int, list[str]], file_notes: Iterable[str], *, strict: bool
) -> tuple[list[str] | None, list[LineError | LineWarning]]:
    """The header's columns in billfold's names (``None`` when unusable) and what to say."""
    header_line, header = header_row
    while header and not header[-1].strip():
        header = header[:-1]
    notes: list[LineError | LineWarning] = [
        LineWarning(header_line, "file", note) for note in file_notes
    ]
    columns = [ALIASES.get(h.strip(), h.strip().lower()) for h in header]
    unknown = [h.strip() for h, c in zip(header, columns, strict=True) if c not in KNOWN]
    if unknown and strict:
        notes.append(LineError(header_line, "header", f"unknown column(s): {', '.join(unknown)}"))
        return None, notes
    if unknown:
        notes.append(
            LineWarning(header_line, "header", f"unknown column(s) ignored: {', '.join(unknown)}")
        )
    missing = [c for c in ("bill_no", "payer_id") if c not in columns]
    if "amount" not in columns and "items" not in columns:
        missing.append("amount or items")
    if missing:
        if len(header) == 1 and any(d in header[0] for d in ";\t|"):
            missing.append("(the header is one column: is the file separated by something else?)")
        notes.append(LineError(header_line, "header", f"missing column(s): {', '.join(missing)}"))
        return None, notes
    return columns, notes


def _values(line: int, row: list[str], columns: list[str]) -> dict[str, str] | LineError:
    """A row's values by column, or why the row cannot be read."""
    if len(row) > len(columns) and not any(c.strip() for c in row[len(columns) :]):
        row = row[: len(columns)]
    if len(row) != len(columns):
        return LineError(line, "row", f"expected {len(columns)} fields, found {len(row)}")
    values = {c: v.strip() for c, v in zip(columns, row, strict=True) if c in KNOWN}
    mangled = next(
        (c for c, v in values.items() if ("e" in v or "E" in v) and _SCIENTIFIC.fullmatch(v)),
        None,
    )
    if mangled is not None:
        return LineError(
            line,
            mangled,
            f"{values[mangled]!r} is in scientific notation: a spreadsheet turned a long "
            "number into an approximation and its digits are lost; format the column as "
            "text and export the file again",
        )
    return values


def _draft(
    values: dict[str, str], line: int, biller_id: int, default_kind: IdentifierKind
) -> BillDraft:
    kind_text = values.get("payer_kind", "")
    payer = Payer(
        kind=IdentifierKind.parse(kind_text) if kind_text else default_kind,
        identifier=_required(values, "payer_id"),
        name=values.get("payer_name") or None,
        phone=values.get("payer_phone") or None,
    )
    bill_kind = _enum(values.get("kind", "") or "fixed", "kind")
    items = _items(values, bill_kind)
    bill = Bill(
        biller_id=biller_id,
        bill_no=_required(values, "bill_no"),
        payer_id=0,
        items=items,
        kind=bill_kind,
        due_date=_date(values.get("due_date", ""), "due_date"),
        late_fee_rule=_late_fee(values.get("late_fee") or ""),
        allow_partial=_bool(values.get("allow_partial", ""), "allow_partial"),
        min_part_fen=parse_yuan(values["min_part"], field="min_part")
        if values.get("min_part")
        else 0,
        open_min_fen=_opt_yuan(values, "min_amount"),
        open_max_fen=_opt_yuan(values, "max_amount"),
        decision_no=values.get("decision_no") or None,
        sub_unit=values.get("sub_unit") or None,
        period=values.get("period") or None,
        description=values.get("description") or None,
    )
    canonical = {k: values.get(k, "") for k in _CANONICAL}
    digest = hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode()).hexdigest()
    return BillDraft(line, payer, bill, digest)


@lru_cache(maxsize=256)
def _late_fee(text: str) -> LateFeeRule:
    """A file's late-fee rules repeat on every line: each is parsed once (rules are frozen)."""
    return LateFeeRule.parse(text)


def _required(values: dict[str, str], name: str) -> str:
    value = values.get(name, "")
    if not value:
        raise InvalidInput(f"{name}: is empty")
    return value


def _enum(text: str, name: str) -> BillKind:
    try:
        return BillKind(text.lower())
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not one of fixed, open, fine") from None


def _bool(text: str, name: str) -> bool:
    value = text.lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise InvalidInput(f"{name}: {text!r} is not yes/no")


def _date(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not a date like 2026-09-01") from None


def _opt_yuan(values: dict[str, str], name: str) -> int | None:
    return parse_yuan(values[name], field=name) if values.get(name) else None


def _items(values: dict[str, str], kind: BillKind) -> list[BillItem]:
    priority = int(values["priority"]) if values.get("priority", "").isdigit() else 100
    if values.get("items"):
        items = []
        for position, part in enumerate(values["items"].split(";"), start=1):
            spec, sep, amount = part.partition("=")
            code, _, name = spec.partition(":")
            if not sep or not code.strip():
                raise InvalidInput(f"items: {part!r} is not like code:名称=12.34")
            items.append(
                BillItem(
                    code=code.strip(),
                    name=(name or code).strip(),
                    amount_fen=parse_yuan(amount, field=f"items {code.strip()}"),
                    priority=priority + position - 1,
                )
            )
        return items
    code = values.get("item") or "fee"
    if kind is BillKind.OPEN:
        if values.get("amount"):
            raise InvalidInput(
                "amount: an open-amount bill takes min_amount/max_amount, not amount"
            )
        return [
            BillItem(
                code=code, name=values.get("item_name") or code, amount_fen=0, priority=priority
            )
        ]
    amount_text = values.get("amount", "")
    if not amount_text:
        raise InvalidInput("amount: is empty")
    return [
        BillItem(
            code=code,
            name=values.get("item_name") or code,
            amount_fen=parse_yuan(amount_text, field="amount"),
            priority=priority,
        )
    ]
