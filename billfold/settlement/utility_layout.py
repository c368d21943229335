"""A utility's file layout, described as data (see :mod:`billfold.settlement.utility_files`
for the format): which fields, where, in which encoding and units. Validated when built;
pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from billfold.errors import InvalidInput

__all__ = [
    "ARREARS_FIELDS",
    "ARREARS_REQUIRED",
    "COLLECTION_FIELDS",
    "Layout",
    "LayoutField",
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
    "channel_name",  # the channel's Chinese label (billfold.labels), for files people read
    "txn_id",
    "paid_at",
)
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
