"""Back-office exports: the reconciliation report, the discrepancy list and the settlement
report, as CSV (UTF-8 with a BOM, so Excel opens Chinese text right) or XLSX (openpyxl,
bold header, frozen first row, a totals row). Codes are shown as their Chinese labels
(:mod:`billfold.labels`).

A report is a :class:`Sheet`: headers, rows and which columns are money (integer fen,
written as yuan: ``"12.34"`` in CSV, a number formatted ``#,##0.00`` in XLSX) or counts.
Personal data — counterparties (payers' names, accounts, openids) and receiving account
numbers — is masked unless ``mask=False`` is asked for.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

from billfold.clock import DEFAULT_TZ
from billfold.errors import InvalidInput, InvariantViolated
from billfold.extras import requires_extra
from billfold.labels import label
from billfold.masking import mask_account, mask_name
from billfold.money import format_yuan
from billfold.settlement.batch import SettlementBatch
from billfold.settlement.discrepancy import Discrepancy
from billfold.settlement.run import ReconRun
from billfold.settlement.wording import describe

__all__ = [
    "Sheet",
    "discrepancy_sheet",
    "export_format",
    "fill_worksheet",
    "recon_sheet",
    "settlement_sheet",
    "write_csv",
    "write_sheet",
    "write_xlsx",
]

Kind = Literal["text", "money", "count"]
Cell = str | int | date | datetime | None


@dataclass(frozen=True, slots=True)
class Sheet:
    title: str
    columns: Sequence[tuple[str, Kind]]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return [name for name, _ in self.columns]

    def totals(self) -> tuple[Cell, ...]:
        """合计: sums of the money and count columns, the label in the first column."""
        sums: list[Cell] = []
        for index, (_, kind) in enumerate(self.columns):
            if kind == "text":
                sums.append(None)
            else:
                total = 0
                for row in self.rows:
                    value = row[index]
                    total += value if isinstance(value, int) else 0
                sums.append(total)
        sums[0] = "合计"
        return tuple(sums)


def _text(value: Cell, kind: Kind, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if kind == "money":
        if not isinstance(value, int):
            raise InvariantViolated("expected isinstance(value, int)")
        return format_yuan(value)
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(sheet: Sheet, out: BinaryIO, *, tz: str = DEFAULT_TZ) -> None:
    """CSV in UTF-8 with a byte-order mark; times in the business time zone."""
    zone = ZoneInfo(tz)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(sheet.headers)
    kinds = [kind for _, kind in sheet.columns]
    for row in sheet.rows:
        writer.writerow([_text(v, k, zone) for v, k in zip(row, kinds, strict=True)])
    out.write(text.getvalue().encode("utf-8-sig"))


def write_xlsx(sheet: Sheet, out: BinaryIO, *, tz: str = DEFAULT_TZ) -> None:
    """An XLSX workbook of one sheet, with a bold totals row under the data (``xlsx`` extra)."""
    with requires_extra("xlsx"):
        from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    if ws is None:
        raise InvariantViolated("ws is missing")
    ws.title = sheet.title[:31]
    fill_worksheet(ws, sheet, ZoneInfo(tz))
    book.save(out)


def fill_worksheet(ws: Any, sheet: Sheet, zone: ZoneInfo) -> None:
    """Write ``sheet`` onto the empty openpyxl worksheet ``ws``.

    Bold header and 合计 rows; money as numbers formatted ``#,##0.00``; times in ``zone``;
    each column as wide as its longest text (10 to 60); the header row frozen.
    """
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws.append(sheet.headers)
    kinds = [kind for _, kind in sheet.columns]
    for row in [*sheet.rows, sheet.totals()]:
        ws.append([_xlsx_value(v, k, zone) for v, k in zip(row, kinds, strict=True)])
    last = ws.max_row
    bold = Font(bold=True)
    for cell in (*ws[1], *ws[last]):
        cell.font = bold
    for index, kind in enumerate(kinds, start=1):
        if kind == "money":
            for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "#,##0.00"
        (column,) = ws.iter_cols(min_col=index, max_col=index, min_row=1, max_row=last)
        width = max(len(str(c.value or "")) for c in column)
        ws.column_dimensions[get_column_letter(index)].width = min(60, max(10, width * 1.3))
    ws.freeze_panes = "A2"


def _xlsx_value(value: Cell, kind: Kind, zone: ZoneInfo) -> Any:
    if value is None:
        return None
    if kind == "money":
        if not isinstance(value, int):
            raise InvariantViolated("expected isinstance(value, int)")
        return Decimal(format_yuan(value))
    if kind == "count":
        return value
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def export_format(name: str) -> Literal["csv", "xlsx"]:
    """The format a file name asks for: ``.csv`` or ``.xlsx``."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".xlsx"):
        return "xlsx"
    raise InvalidInput(f"out: {name!r} must end in .csv or .xlsx")


def write_sheet(sheet: Sheet, out: BinaryIO, fmt: Literal["csv", "xlsx"]) -> None:
    (write_csv if fmt == "csv" else write_xlsx)(sheet, out)


# -- the reports ---------------------------------------------------------------------------------

_RECON_COLUMNS: list[tuple[str, Kind]] = [
    ("业务日期", "text"),
    ("类型", "text"),
    ("渠道", "text"),
    ("商户号", "text"),
    ("版本", "count"),
    ("状态", "text"),
    ("文件", "text"),
    ("行数", "count"),
    ("支付笔数", "count"),
    ("支付金额", "money"),
    ("退款笔数", "count"),
    ("退款金额", "money"),
    ("手续费", "money"),
    ("应结净额", "money"),
    ("匹配笔数", "count"),
    ("匹配金额", "money"),
    ("系统笔数", "count"),
    ("系统金额", "money"),
    ("差错笔数", "count"),
]


def recon_sheet(runs: Iterable[ReconRun]) -> Sheet:
    """对账报告: one row per run (statement file) with its totals and findings."""
    rows: list[tuple[Cell, ...]] = []
    for r in runs:
        t = r.totals
        rows.append(
            (
                r.business_date,
                label("run_kind", r.kind),
                label("channel", r.channel),
                r.merchant_id or "*",
                r.revision,
                label("run_status", r.status),
                r.file_name,
                t.line_count,
                t.payment_count,
                t.payment_fen,
                t.refund_count,
                t.refund_fen,
                t.fee_fen,
                t.net_fen,
                r.matched_count,
                r.matched_fen,
                r.engine_count,
                r.engine_fen,
                r.discrepancy_count,
            )
        )
    return Sheet("对账报告", _RECON_COLUMNS, rows)


_DISCREPANCY_COLUMNS: list[tuple[str, Kind]] = [
    ("编号", "text"),
    ("对账批次", "text"),
    ("差错类型", "text"),
    ("状态", "text"),
    ("来源", "text"),
    ("渠道", "text"),
    ("渠道流水号", "text"),
    ("订单号", "text"),
    ("退款单号", "text"),
    ("渠道金额", "money"),
    ("系统金额", "money"),
    ("差额", "money"),
    ("渠道手续费", "money"),
    ("系统手续费", "money"),
    ("交易时间", "text"),
    ("对方", "text"),
    ("说明", "text"),
    ("处理方式", "text"),
    ("处理人", "text"),
    ("处理时间", "text"),
    ("处理说明", "text"),
]


def discrepancy_sheet(found: Iterable[Discrepancy], *, mask: bool = True) -> Sheet:
    """差错清单: one row per discrepancy, with its source and resolution."""
    rows: list[tuple[Cell, ...]] = []
    for d in found:
        who = d.counterparty
        rows.append(
            (
                str(d.id) if d.id is not None else "",
                str(d.run_id) if d.run_id is not None else "",
                label("discrepancy_code", d.code),
                label("discrepancy_status", d.status),
                d.source,
                label("channel", d.channel),
                d.channel_txn_id,
                d.order_no,
                d.refund_no,
                d.line_amount_fen,
                d.engine_amount_fen,
                d.difference_fen,
                d.line_fee_fen,
                d.engine_fee_fen,
                d.occurred_at,
                mask_name(who) if mask and who else who,
                describe(d),
                label("discrepancy_action", d.action) if d.action else None,
                d.resolved_by,
                d.resolved_at,
                d.resolution,
            )
        )
    return Sheet("差错清单", _DISCREPANCY_COLUMNS, rows)


_SETTLEMENT_COLUMNS: list[tuple[str, Kind]] = [
    ("结算批次号", "text"),
    ("商户", "text"),
    ("业务日期", "text"),
    ("状态", "text"),
    ("收款笔数", "count"),
    ("收款金额", "money"),
    ("退款笔数", "count"),
    ("退款金额", "money"),
    ("手续费", "money"),
    ("应付净额", "money"),
    ("暂缓笔数", "count"),
    ("暂缓金额", "money"),
    ("收款账户", "text"),
    ("审核人", "text"),
    ("付款人", "text"),
    ("确认人", "text"),
]


def settlement_sheet(batches: Iterable[SettlementBatch], *, mask: bool = True) -> Sheet:
    """结算报告: one row per batch; receiving accounts masked to their last four digits."""
    rows: list[tuple[Cell, ...]] = []
    for b in batches:
        t = b.totals
        accounts = "; ".join(
            " ".join(
                (
                    p.rule.account_name,
                    mask_account(p.rule.account_no) if mask else p.rule.account_no,
                    format_yuan(p.amount_fen),
                )
            )
            for p in b.parts
        )
        rows.append(
            (
                b.batch_no,
                b.biller_code,
                b.business_date,
                label("batch_status", b.status),
                t.payment_count,
                t.gross_fen,
                t.refund_count,
                t.refund_fen,
                t.fee_fen,
                b.net_fen,
                t.held_back_count,
                t.held_back_fen,
                accounts,
                b.approved_by,
                b.paid_by,
                b.confirmed_by,
            )
        )
    return Sheet("结算报告", _SETTLEMENT_COLUMNS, rows)
