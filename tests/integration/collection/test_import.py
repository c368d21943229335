"""Importing bill files: encodings, per-line errors, modes, idempotent re-imports."""

import pytest
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.collection.importer import ImportMode
from billfold.errors import ImportFailed, InvalidInput, NotFound

GOOD = "bill_no,payer_id,payer_name,item,amount,due_date\nW1,0101,周先生,water,86.40,2026-09-25\nW2,0102,吴女士,water,45.00,2026-09-25\n"


@pytest.fixture
def water(engine: Engine) -> Engine:
    engine.create_biller(Biller(code="w1", name="自来水", kind=BillerKind.UTILITY))
    return engine


def bill_count(engine: Engine) -> int:
    with engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(t.bills)).scalar_one())


@pytest.mark.parametrize(
    "data",
    [GOOD.encode("utf-8"), b"\xef\xbb\xbf" + GOOD.encode("utf-8"), GOOD.encode("gbk")],
    ids=["utf-8", "utf-8-bom", "gbk"],
)
def test_utf8_bom_and_gbk_files_import_the_same(water: Engine, data: bytes) -> None:
    report = water.import_bills("w1", data)
    assert (report.created, report.unchanged, report.errors) == (2, 0, [])
    bills = water.bills_for("0101")
    assert [(b.bill_no, p.name, b.principal_fen) for _, p, b in bills] == [("W1", "周先生", 8640)]
    assert bills[0][1].kind.value == "account_no"  # a utility knows payers by 户号


def test_reimporting_the_same_file_creates_nothing_twice(water: Engine) -> None:
    water.import_bills("w1", GOOD.encode())
    again = water.import_bills("w1", GOOD.encode())
    assert (again.created, again.unchanged) == (0, 2)
    assert bill_count(water) == 2


BAD = (
    "bill_no,payer_id,item,amount,due_date\n"
    "W1,0101,water,86.40,2026-09-25\n"
    "W2,0102,water,-1.00,2026-09-25\n"
    "W3,0103,water,1.234,2026-09-25\n"
    "W1,0104,water,5.00,2026-09-25\n"
    "W5,0105,water,5.00,2026-13-01\n"
    "W6,,water,5.00,2026-09-25\n"
    "W7,0107,water\n"
)


def test_all_or_nothing_reports_every_bad_line_and_imports_nothing(water: Engine) -> None:
    with pytest.raises(ImportFailed) as caught:
        water.import_bills("w1", BAD.encode(), file_name="arrears.csv")
    assert caught.value.message == "arrears.csv: 6 line(s) rejected; nothing was imported"
    assert caught.value.errors == [
        "line 3: amount: '-1.00' is negative",
        "line 4: amount: '1.234' has more than two decimals",
        "line 5: bill_no: W1 repeats line 2",
        "line 6: due_date: '2026-13-01' is not a date like 2026-09-01",
        "line 7: payer_id: is empty",
        "line 8: row: expected 5 fields, found 3",
    ]
    assert bill_count(water) == 0
    assert water.audit_log("biller", "w1") == [
        a for a in water.audit_log("biller", "w1") if a["action"] != "import_bills"
    ]


def test_valid_lines_mode_imports_the_good_lines_and_reports_the_rest(water: Engine) -> None:
    report = water.import_bills("w1", BAD.encode(), mode=ImportMode.VALID_LINES)
    assert (report.created, report.rejected) == (1, 6)
    assert bill_count(water) == 1


def test_a_changed_bill_under_a_known_number_is_refused(water: Engine) -> None:
    water.import_bills("w1", GOOD.encode())
    changed = GOOD.replace("86.40", "99.00")
    with pytest.raises(ImportFailed) as caught:
        water.import_bills("w1", changed.encode())
    assert caught.value.errors == [
        "line 2: bill_no: W1 already exists with different content; cancel or change it instead of importing it again"
    ]
    assert water.bill("w1", "W1").principal_fen == 8640


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (
            GOOD.encode("gbk"),
            {"encoding": "utf-8"},
            "line 2: the file is not valid UTF-8 (byte 0xd6); is the file GBK? try --encoding gbk",
        ),
        (
            b"bill_no\n\xff\xfe garbage",
            {},
            "line 2: the file is not valid UTF-8 or GBK (byte 0xff); save it as UTF-8 and import again",
        ),
        (b"bill_no\x00,payer_id\n", {}, "the file holds NUL characters: it is not a CSV text file"),
        (
            GOOD.encode(),
            {"encoding": "latin-1"},
            "encoding: 'latin-1' is not supported (use auto, utf-8 or gbk)",
        ),
    ],
)
def test_wrong_encodings_are_refused_clearly(
    water: Engine, data: bytes, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        water.import_bills("w1", data, **kwargs)
    assert caught.value.message == message
    assert bill_count(water) == 0


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "line 1: header: the file is empty"),
        ("bill_no,amount\nW1,1.00\n", "line 1: header: missing column(s): payer_id"),
        (
            'bill_no,payer_id,amount\n"W1,0101,1.00\n',
            "line 2: row: malformed CSV: unexpected end of data",
        ),
    ],
)
def test_malformed_csv_is_refused_with_the_line(water: Engine, text: str, error: str) -> None:
    with pytest.raises(ImportFailed) as caught:
        water.import_bills("w1", text.encode())
    assert caught.value.errors == [error]
    assert bill_count(water) == 0


def test_an_unknown_biller_is_refused(water: Engine) -> None:
    with pytest.raises(NotFound, match="biller 'nope' does not exist"):
        water.import_bills("nope", GOOD.encode())


def test_chinese_headers_and_multi_item_bills(water: Engine) -> None:
    csv = "账单号,户号,姓名,多项目,截止日期\nG1,0201,郑先生,gas:燃气费=120.00;meter:表具费=15.50,2026-09-30\n"
    water.import_bills("w1", csv.encode("gbk"))
    bill = water.bill("w1", "G1")
    assert [(i.code, i.name, i.amount_fen) for i in bill.items] == [
        ("gas", "燃气费", 12000),
        ("meter", "表具费", 1550),
    ]
