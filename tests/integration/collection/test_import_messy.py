"""Importing the files clerks really send: XLSX, tabs, extra columns, renamed payers."""

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.errors import ImportFailed


@pytest.fixture
def water(engine: Engine) -> Engine:
    engine.create_biller(Biller(code="w1", name="自来水", kind=BillerKind.UTILITY))
    return engine


def bill_count(engine: Engine) -> int:
    with engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(t.bills)).scalar_one())


def test_an_xlsx_file_imports_like_its_csv(water: Engine) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["账单号", "户号", "姓名", "金额"], ["W1", "0101", "周先生", 86.4]):
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    report = water.import_bills("w1", data.getvalue(), file_name="arrears.xlsx")
    assert (report.created, report.errors) == (1, [])
    assert [str(w) for w in report.warnings] == [
        "line 1: file: read from sheet 'Sheet' of an XLSX workbook"
    ]
    assert [b.principal_fen for _, _, b in water.bills_for("0101")] == [8640]


def test_a_tab_separated_file_with_a_remark_column_imports_with_warnings(water: Engine) -> None:
    text = "账单号\t户号\t金额\t备注\nW1\t0101\t86.40\t二月\n"
    report = water.import_bills("w1", text.encode("gbk"))
    assert report.created == 1
    assert [str(w) for w in report.warnings] == [
        "line 1: file: read as tab-separated (found in the header)",
        "line 1: header: unknown column(s) ignored: 备注",
    ]


def test_strict_refuses_the_remark_column_and_imports_nothing(water: Engine) -> None:
    with pytest.raises(ImportFailed) as caught:
        water.import_bills(
            "w1", "账单号,户号,金额,备注\nW1,0101,86.40,二月\n".encode(), strict=True
        )
    assert caught.value.errors == ["line 1: header: unknown column(s): 备注"]
    assert bill_count(water) == 0


def test_scientific_notation_rejects_the_file_and_stores_nothing(water: Engine) -> None:
    text = "账单号,户号,金额\nW1,0101,86.40\nW2,8.8001E+09,45.00\n"
    with pytest.raises(ImportFailed) as caught:
        water.import_bills("w1", text.encode(), file_name="arrears.csv")
    (error,) = caught.value.errors
    assert error.startswith("line 3: payer_id: '8.8001E+09' is in scientific notation")
    assert error.endswith("format the column as text and export the file again")
    assert bill_count(water) == 0


def test_a_new_name_for_a_known_account_is_reported_as_a_change(water: Engine) -> None:
    water.import_bills("w1", "账单号,户号,姓名,金额\nW1,0101,周先生,86.40\n".encode())
    report = water.import_bills("w1", "账单号,户号,姓名,金额\nW2,0101,周女士,40.00\n".encode())
    assert report.created == 1
    assert [str(c) for c in report.changes] == [
        "line 2: payer_name: 0101: the file says '周女士', billfold has '周先生'; "
        "the stored name is kept"
    ]
    assert {p.name for _, p, _ in water.bills_for("0101")} == {"周先生"}
