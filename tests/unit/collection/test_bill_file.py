"""Reading clerks' bill files: delimiters, XLSX, unknown columns, Excel's scientific notation."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook

from billfold.collection.bill_csv import (
    BillDraft,
    LineError,
    LineWarning,
    read_bill_csv,
    read_bill_rows,
)
from billfold.collection.bill_file import table_from_text, table_from_xlsx
from billfold.collection.payer import IdentifierKind
from billfold.errors import InvalidInput

ACCOUNT = IdentifierKind.ACCOUNT_NO


def read(text: str, **kw: bool) -> list[BillDraft | LineError | LineWarning]:
    return list(read_bill_csv(text, 1, ACCOUNT, **kw))


def drafts(items: list[BillDraft | LineError | LineWarning]) -> list[tuple[str, str, int]]:
    return [
        (d.bill.bill_no, d.payer.identifier, d.bill.items[0].amount_fen)
        for d in items
        if isinstance(d, BillDraft)
    ]


@pytest.mark.parametrize(("delimiter", "name"), [("\t", "tab"), (";", "semicolon")])
def test_tab_and_semicolon_files_are_detected_and_read(delimiter: str, name: str) -> None:
    text = "\n".join(
        delimiter.join(cells)
        for cells in (
            ["账单号", "户号", "姓名", "金额"],
            ["W1", "0101", "周先生", "86.40"],
            ["W2", "0102", "吴女士, 二楼", "45.00"],
        )
    )
    items = read(text)
    assert items[0] == LineWarning(1, "file", f"read as {name}-separated (found in the header)")
    assert drafts(items) == [("W1", "0101", 8640), ("W2", "0102", 4500)]


def test_a_comma_file_says_nothing_about_its_delimiter() -> None:
    items = read("bill_no,payer_id,amount\nW1,0101,1.00\n")
    assert not any(isinstance(i, LineWarning) for i in items)


def test_an_unknown_column_is_ignored_with_a_warning() -> None:
    items = read("账单号,户号,金额,备注\nW1,0101,86.40,二月补缴\n")
    assert items[0] == LineWarning(1, "header", "unknown column(s) ignored: 备注")
    assert drafts(items) == [("W1", "0101", 8640)]


def test_strict_refuses_an_unknown_column_and_reads_nothing() -> None:
    items = read("账单号,户号,金额,备注\nW1,0101,86.40,二月补缴\n", strict=True)
    assert items == [LineError(1, "header", "unknown column(s): 备注")]


@pytest.mark.parametrize(
    ("row", "field", "value"),
    [
        ("W1,8.8001E+09,86.40", "payer_id", "8.8001E+09"),
        ("1.23457E+11,0101,86.40", "bill_no", "1.23457E+11"),
        ("W1,0101,8.64E+01", "amount", "8.64E+01"),
    ],
)
def test_scientific_notation_is_refused_with_a_hint(row: str, field: str, value: str) -> None:
    items = read(f"bill_no,payer_id,amount\n{row}\nW2,0102,1.00\n")
    assert items[0] == LineError(
        2,
        field,
        f"{value!r} is in scientific notation: a spreadsheet turned a long number into an "
        "approximation and its digits are lost; format the column as text and export the "
        "file again",
    )
    assert drafts(items) == [("W2", "0102", 100)]


def test_a_bill_number_with_a_letter_e_is_not_scientific_notation() -> None:
    assert drafts(read("bill_no,payer_id,amount\n2024E001,0101,1.00\n")) == [
        ("2024E001", "0101", 100)
    ]


def test_trailing_empty_cells_are_fine_and_extra_values_are_not() -> None:
    items = read("bill_no,payer_id,amount\nW1,0101,1.00,,\nW2,0102,2.00,x\n")
    assert drafts(items) == [("W1", "0101", 100)]
    assert items[1] == LineError(3, "row", "expected 3 fields, found 4")


def xlsx(*rows: list[object]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "账单"
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_file_is_read_with_numbers_and_dates_as_text() -> None:
    data = xlsx(
        ["账单号", "户号", "金额", "截止日期", "手机号", "备注"],
        ["W1", "0101", 86.4, date(2026, 9, 25), 13812345678, None],
        ["W2", 102, 45, "2026-09-25", None, "x"],
        [None, None, None, None, None, None],
        ["W3", "0103", "1.234", None, None, None],
    )
    table = table_from_xlsx(data)
    items = list(read_bill_rows(table, 1, ACCOUNT))
    assert items[:2] == [
        LineWarning(1, "file", "read from sheet '账单' of an XLSX workbook"),
        LineWarning(1, "header", "unknown column(s) ignored: 备注"),
    ]
    w1, w2 = (i for i in items if isinstance(i, BillDraft))
    assert (w1.bill.items[0].amount_fen, w1.bill.due_date, w1.payer.phone) == (
        8640,
        date(2026, 9, 25),
        "13812345678",
    )
    assert (w2.payer.identifier, w2.bill.items[0].amount_fen) == ("102", 4500)
    assert isinstance(items[-1], LineError) and items[-1].line == 5
    assert items[-1].field == "amount"


def test_a_file_that_only_looks_like_xlsx_is_refused() -> None:
    with pytest.raises(InvalidInput, match="the file is not a readable XLSX workbook"):
        table_from_xlsx(b"PK\x03\x04 not really a zip")


def test_a_broken_quote_keeps_the_rows_before_it_and_names_its_line() -> None:
    table = table_from_text('bill_no,payer_id,amount\nW1,0101,1.00\n"W2,0102,1.00\n')
    items = list(read_bill_rows(table, 1, ACCOUNT))
    assert drafts(items) == [("W1", "0101", 100)]
    assert items[-1] == LineError(3, "row", "malformed CSV: unexpected end of data")
