"""A workbook of several report sheets, optionally with a bar chart of a ratio per label.

Each sheet looks like the single-sheet exports (bold header, frozen first row, money as
numbers formatted ``#,##0.00``, a bold 合计 row); the chart gets a sheet of its own data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO
from zoneinfo import ZoneInfo

from billfold.clock import DEFAULT_TZ
from billfold.errors import InvariantViolated
from billfold.extras import requires_extra
from billfold.settlement.exports import Sheet, fill_worksheet

__all__ = ["RatioChart", "write_workbook"]


@dataclass(frozen=True, slots=True)
class RatioChart:
    """A bar chart of ``ratios`` (0.0-1.0 per label) on a sheet named ``title``."""

    title: str
    label: str
    value: str
    ratios: Sequence[tuple[str, float]]


def write_workbook(
    sheets: Sequence[Sheet],
    out: BinaryIO,
    *,
    chart: RatioChart | None = None,
    tz: str = DEFAULT_TZ,
) -> None:
    with requires_extra("xlsx"):
        from openpyxl import Workbook
        from openpyxl.chart import BarChart, Reference
        from openpyxl.styles import Font

    zone = ZoneInfo(tz)
    book = Workbook()
    first = book.active
    if first is None:
        raise InvariantViolated("first is missing")
    book.remove(first)
    bold = Font(bold=True)
    for sheet in sheets:
        fill_worksheet(book.create_sheet(sheet.title[:31]), sheet, zone)
    if chart is not None:
        ws = book.create_sheet(chart.title[:31])
        ws.append([chart.label, chart.value])
        for cell in ws[1]:
            cell.font = bold
        for label, ratio in chart.ratios:
            ws.append([label, round(ratio, 4)])
            ws.cell(row=ws.max_row, column=2).number_format = "0.0%"
        ws.freeze_panes = "A2"
        bars = BarChart()
        bars.type = "col"
        bars.title = chart.title
        bars.y_axis.title = chart.value
        bars.x_axis.title = chart.label
        bars.y_axis.scaling.min = 0
        bars.y_axis.scaling.max = 1
        bars.y_axis.number_format = "0%"
        rows = len(chart.ratios) + 1
        bars.add_data(Reference(ws, min_col=2, min_row=1, max_row=rows), titles_from_data=True)
        bars.set_categories(Reference(ws, min_col=1, min_row=2, max_row=rows))
        bars.width, bars.height = 18, 9
        ws.add_chart(bars, "D2")
    book.save(out)
