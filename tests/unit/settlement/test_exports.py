"""Exports: CSV in UTF-8 with a BOM, XLSX with a bold totals row, personal data masked."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from billfold.errors import InvalidInput
from billfold.settlement.discrepancy import Code, Discrepancy
from billfold.settlement.exports import (
    discrepancy_sheet,
    export_format,
    recon_sheet,
    write_csv,
    write_xlsx,
)
from billfold.settlement.reconcile import StatementTotals
from billfold.settlement.run import ReconRun, RunKind, RunStatus

AT = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)


def found(n: int, who: str | None = "张三丰") -> Discrepancy:
    return Discrepancy(
        Code.CHANNEL_ONLY,
        "the channel took 10.00",
        "wechatpay",
        source_file="wx.csv",
        source_line=n,
        channel_txn_id=f"W{n}",
        line_amount_fen=1000 * n,
        difference_fen=1000 * n,
        occurred_at=AT,
        counterparty=who,
        id=n,
        run_id=1,
    )


def test_the_discrepancy_list_as_csv_opens_in_excel_and_masks_names() -> None:
    out = io.BytesIO()
    write_csv(discrepancy_sheet([found(1), found(2, None)]), out)
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    header, first, second = data.decode("utf-8-sig").splitlines()
    assert header.startswith("编号,对账批次,差错类型,状态,来源,渠道,渠道流水号")
    cells = first.split(",")
    assert cells[:7] == ["1", "1", "长款（渠道有系统无）", "待处理", "wx.csv:1", "微信支付", "W1"]
    assert cells[9] == "10.00" and cells[14] == "2026-09-01 10:00:00"
    assert "张**" in cells and "张三丰" not in data.decode("utf-8-sig")
    assert second.split(",")[15] == ""
    unmasked = io.BytesIO()
    write_csv(discrepancy_sheet([found(1)], mask=False), unmasked)
    assert "张三丰" in unmasked.getvalue().decode("utf-8-sig")


def test_the_reconciliation_report_as_xlsx_has_a_totals_row() -> None:
    def run(n: int, net: int) -> ReconRun:
        return ReconRun(
            n, RunKind.CHANNEL, "wechatpay", "1900000109", date(2026, 9, n), 1,
            RunStatus.CURRENT, "wechatpay", "wx.csv", "0" * 64, "Asia/Shanghai", True,
            StatementTotals(10, 9, 90000, 1, 500, 54, net), 0, 9, 90000, 9, 90000, 1, "cli", AT,
        )  # fmt: skip

    out = io.BytesIO()
    write_xlsx(recon_sheet([run(1, 89446), run(2, 1234)]), out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None and sheet.title == "对账报告"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("业务日期", "类型", "渠道", "商户号")
    assert rows[1][0] == "2026-09-01" and float(rows[1][13]) == 894.46
    totals = rows[-1]
    assert totals[0] == "合计" and totals[7] == 20 and float(totals[13]) == 906.80
    assert sheet.cell(row=4, column=1).font.bold
    assert sheet.cell(row=2, column=14).number_format == "#,##0.00"


def test_the_file_name_picks_the_format() -> None:
    assert export_format("Report.XLSX") == "xlsx" and export_format("a.csv") == "csv"
    with pytest.raises(InvalidInput) as bad:
        export_format("report.xls")
    assert bad.value.message == "out: 'report.xls' must end in .csv or .xlsx"


def test_the_discrepancy_list_tells_each_discrepancy_in_chinese_with_labels_not_codes() -> None:
    # before: the 说明 column carried the English message ("... the engine has it credited")
    status = Discrepancy(
        Code.STATUS_MISMATCH, "the channel says W9 is FAILED; the engine has it credited",
        "mobile_banking", line_amount_fen=500, engine_amount_fen=500, difference_fen=-500,
        line_status="FAILED", engine_status="credited", payment_id=9, id=9,
    )  # fmt: skip
    amount = Discrepancy(
        Code.AMOUNT_MISMATCH, "the channel says W8 paid 12.00; the engine has 10.00",
        "mobile_banking", line_amount_fen=1200, engine_amount_fen=1000, difference_fen=200, id=8,
    )  # fmt: skip
    out = io.BytesIO()
    write_csv(discrepancy_sheet([status, amount]), out)
    text = out.getvalue().decode("utf-8-sig")
    rows = text.splitlines()[1:]
    assert rows[0].split(",")[16] == "状态不符：渠道状态 失败，系统状态 已入账；差额 -5.00"
    assert rows[1].split(",")[16] == "金额不符：渠道金额 12.00，系统金额 10.00；差额 2.00"
    for code in ("mobile_banking", "amount_mismatch", "status_mismatch", "credited", "FAILED"):
        assert code not in text, code
