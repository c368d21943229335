"""Any back-office list as people read it: Chinese headers, codes as their Chinese labels
(:mod:`billfold.labels`), personal data masked unless asked for — as a :class:`Sheet` for
CSV/XLSX export, or as text cells for a table on screen."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from billfold.clock import DEFAULT_TZ
from billfold.collection.listing import Column, ListSpec
from billfold.labels import label
from billfold.masking import mask_value
from billfold.money import format_yuan

if TYPE_CHECKING:  # the sheets' module (CSV, XLSX) is imported when a sheet is made
    from billfold.settlement.exports import Cell, Kind, Sheet

__all__ = ["list_sheet", "list_texts"]

_SHEET_KINDS: dict[str, Kind] = {"money": "money", "count": "count"}


def _shown(column: Column, value: Any, mask: bool) -> Any:
    """A code as its label (a list of codes joined by 、), personal data masked."""
    if value is None:
        return None
    if isinstance(value, list):
        return "、".join(label(column.label or "", v) for v in value)
    if column.label:
        return label(column.label, value)
    if column.personal and mask:
        return mask_value(column.personal, str(value))
    return value


def list_sheet(spec: ListSpec, rows: Iterable[dict[str, Any]], *, mask: bool = True) -> Sheet:
    """The list as a sheet (money as yuan, times in the business time zone)."""
    from billfold.settlement.exports import Sheet

    columns = [(c.header, _SHEET_KINDS.get(c.kind, "text")) for c in spec.columns]
    cells: list[tuple[Cell, ...]] = [
        tuple(_shown(c, row.get(c.key), mask) for c in spec.columns) for row in rows
    ]
    return Sheet(spec.title, columns, cells)


def list_texts(
    spec: ListSpec, rows: Iterable[dict[str, Any]], *, mask: bool = True, tz: str = DEFAULT_TZ
) -> list[list[str]]:
    """Each row's cells as text for a table on screen."""
    zone = ZoneInfo(tz)
    result = []
    for row in rows:
        cells = []
        for column in spec.columns:
            value = _shown(column, row.get(column.key), mask)
            if value is None:
                cells.append("")
            elif column.kind == "money" and isinstance(value, int):
                cells.append(format_yuan(value))
            elif isinstance(value, datetime):
                cells.append(value.astimezone(zone).strftime("%Y-%m-%d %H:%M"))
            elif isinstance(value, date):
                cells.append(value.isoformat())
            else:
                cells.append(str(value))
        result.append(cells)
    return result
