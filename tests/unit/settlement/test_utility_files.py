"""Utility file layouts: arrears in (fixed width and CSV), the collection file out with its
control and checksum lines, byte-identical on regeneration (pure)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import pytest

from billfold.errors import ImportFailed, InvalidInput
from billfold.settlement.daybook import DayLine, DayPayment
from billfold.settlement.utility_files import (
    ARREARS_FIELDS,
    COLLECTION_FIELDS,
    Layout,
    arrears_bill_csv,
    collection_file,
    parse_arrears,
    verify_collection_file,
)

FIXED: dict[str, Any] = {
    "format": "fixed",
    "encoding": "gbk",
    "amount_unit": "fen",
    "date_format": "%Y%m%d",
    "late_fee": "daily:10bps:cap=30%",
    "item": "power",
    "item_name": "电费",
    "fields": [
        {"name": "account_no", "start": 1, "width": 6},
        {"name": "name", "start": 7, "width": 6},
        {"name": "amount", "start": 13, "width": 8},
        {"name": "due_date", "start": 21, "width": 8},
    ],
}
# 户号 6 bytes, 户名 6 bytes (three GBK 汉字), amount 8 digits of fen, due date
FIXED_FILE = "100001赵大海0002365020260815\r\n100002李四  0000990020260902\r\n".encode("gbk")
CSV: dict[str, Any] = {
    "format": "csv",
    "fields": [
        {"name": "bill_no", "column": "账单号"},
        {"name": "account_no", "column": "户号"},
        {"name": "amount", "column": "欠费金额"},
        {"name": "due_date", "column": "截止日"},
    ],
}


def _layout(data: dict[str, Any], known: tuple[str, ...] = ARREARS_FIELDS) -> Layout:
    return Layout.from_dict(data, known=known)


def test_a_fixed_width_gbk_file_is_read_by_byte_positions() -> None:
    rows = parse_arrears(FIXED_FILE, _layout(FIXED))
    assert [(r.line, r.account_no, r.name, r.amount_fen, r.due_date, r.bill_no) for r in rows] == [
        (1, "100001", "赵大海", 23_650, date(2026, 8, 15), "202608-100001"),
        (2, "100002", "李四", 9_900, date(2026, 9, 2), "202609-100002"),
    ]
    assert arrears_bill_csv(rows, _layout(FIXED)).splitlines() == [
        "bill_no,payer_id,payer_name,item,item_name,amount,due_date,late_fee,period",
        "202608-100001,100001,赵大海,power,电费,236.50,2026-08-15,daily:10bps:cap=30%,",
        "202609-100002,100002,李四,power,电费,99.00,2026-09-02,daily:10bps:cap=30%,",
    ]


def test_a_csv_file_is_read_by_its_header_names_in_any_column_order() -> None:
    data = "截止日,户号,欠费金额,账单号\n2026-09-20,5501,96.40,G202608-5501\n".encode()
    (row,) = parse_arrears(data, _layout(CSV))
    assert (row.bill_no, row.account_no, row.amount_fen, row.due_date) == (
        "G202608-5501",
        "5501",
        9_640,
        date(2026, 9, 20),
    )


def test_a_csv_without_header_uses_positions() -> None:
    layout = _layout(
        {
            "format": "csv",
            "header": False,
            "delimiter": "|",
            "fields": [
                {"name": "account_no", "index": 2},
                {"name": "amount", "index": 3},
                {"name": "due_date", "index": 1},
            ],
        }
    )
    (row,) = parse_arrears(b"2026-09-20|5501|96.40\n", layout)
    assert (row.account_no, row.amount_fen, row.bill_no) == ("5501", 9_640, "202609-5501")


def test_every_bad_arrears_line_is_named_and_nothing_is_returned() -> None:
    data = (
        "100001赵大海00023650202608x5\r\n"
        "      李四  0000990020260902\r\n"
        "100003王五  000000-120260902\r\n"
        "100004钱六  0000000020260902\r\n"
        "100001赵大海0002365020260815\r\n"
    ).encode("gbk")
    with pytest.raises(ImportFailed) as exc:
        parse_arrears(data, _layout(FIXED), file_name="power.dat")
    assert exc.value.message == "power.dat: 4 line(s) rejected; nothing was imported"
    assert exc.value.errors == [
        "line 1: due_date: '202608x5' does not match %Y%m%d",
        "line 2: account_no: '' must be 1-32 characters",
        "line 3: amount: '000000-1' is not a whole number of fen",
        "line 4: amount: must be more than 0.00",
    ]


def test_every_bad_field_of_a_line_is_named_not_only_the_first() -> None:
    text = (
        "账单号,户号,欠费金额,截止日\n"
        "G1,5501,12.3.4,2026/12/20\n"
        "G2,,0.00,2026-12-20\n"
        "G3,5503,1.00,2026-12-20\n"
    )
    with pytest.raises(ImportFailed) as exc:
        parse_arrears(text.encode(), _layout(CSV), file_name="gas.csv")
    assert exc.value.message == "gas.csv: 2 line(s) rejected; nothing was imported"
    assert exc.value.errors == [
        "line 2: amount: '12.3.4' is not an amount like '12.34'",
        "line 2: due_date: '2026/12/20' does not match %Y-%m-%d",
        "line 3: account_no: '' must be 1-32 characters",
        "line 3: amount: must be more than 0.00",
    ]


def test_a_bad_line_still_holds_its_bill_number_so_a_repeat_is_named_too() -> None:
    text = "账单号,户号,欠费金额,截止日\nG1,5501,x,2026-09-20\nG1,5502,2.00,2026-09-20\n"
    with pytest.raises(ImportFailed) as exc:
        parse_arrears(text.encode(), _layout(CSV))
    assert exc.value.errors == [
        "line 2: amount: 'x' is not an amount like '12.34'",
        "line 3: bill_no: G1 repeats line 2",
    ]


def test_a_repeated_bill_and_a_file_in_the_wrong_encoding_are_refused() -> None:
    twice = "账单号,户号,欠费金额,截止日\nG1,5501,1.00,2026-09-20\nG1,5502,2.00,2026-09-20\n"
    with pytest.raises(ImportFailed) as exc:
        parse_arrears(twice.encode(), _layout(CSV))
    assert exc.value.errors == ["line 3: bill_no: G1 repeats line 2"]
    with pytest.raises(InvalidInput) as bad:
        parse_arrears("户号".encode("gbk"), _layout(CSV))
    assert bad.value.message == "line 1: the file is not valid utf-8 (byte 0xbb)"
    with pytest.raises(ImportFailed) as header:
        parse_arrears("户号,金额\n".encode(), _layout(CSV))
    assert header.value.errors == ["line 1: header: no column '账单号'"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "xml"}, "layout: format must be csv or fixed, not 'xml'"),
        ({"fields": []}, "layout: fields must be a non-empty list"),
        ({"colour": "red"}, "layout: unknown setting(s) colour"),
        ({"encoding": "klingon"}, "layout: unknown encoding 'klingon'"),
        ({"amount_unit": "jiao"}, "layout: amount_unit must be yuan or fen, not 'jiao'"),
        ({"checksum": "crc32"}, "layout: checksum must be md5 or sha256, not 'crc32'"),
        (
            {"fields": [{"name": "amount", "start": 1}]},
            "layout: field 'amount' needs start and width (1 or more)",
        ),
        (
            {"fields": [{"name": "payer", "start": 1, "width": 3}]},
            "layout: unknown field 'payer'; known: " + ", ".join(ARREARS_FIELDS),
        ),
        (
            {
                "fields": [
                    {"name": "account_no", "start": 1, "width": 6},
                    {"name": "amount", "start": 6, "width": 8},
                ]
            },
            "layout: fields 'account_no' and 'amount' overlap",
        ),
        (
            {
                "fields": [
                    {"name": "amount", "start": 1, "width": 6},
                    {"name": "amount", "start": 7, "width": 8},
                ]
            },
            "layout: field 'amount' appears twice",
        ),
    ],
)
def test_a_bad_layout_is_refused_with_the_reason(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        _layout({**FIXED, **change})
    assert exc.value.message == message


def test_an_arrears_layout_needs_account_amount_and_due_date() -> None:
    layout = _layout({"format": "csv", "fields": [{"name": "account_no", "column": "户号"}]})
    with pytest.raises(InvalidInput) as exc:
        parse_arrears(b"x\n", layout)
    assert exc.value.message == "layout: field(s) amount, due_date required for an arrears file"


# -- the collection file ------------------------------------------------------------------------

DAY = date(2026, 9, 1)
PAYMENTS = [
    DayPayment(
        "mobile_banking",
        "PW-0001",
        "BF1",
        24_052,
        0,
        datetime(2026, 9, 1, 2, 1, tzinfo=UTC),
        (DayLine("202608-100001", "100001", None, 23_650, 402),),
    ),
    DayPayment(
        "autodebit",
        "SBX9",
        "BF2",
        15_000,
        0,
        datetime(2026, 9, 1, 3, 0, tzinfo=UTC),
        (
            DayLine("202607-100002", "100002", None, 5_000, 0),
            DayLine("202608-100002", "100002", None, 10_000, 0),
        ),
    ),
]
OUT_CSV: dict[str, Any] = {
    "format": "csv",
    "time_format": "%Y-%m-%d %H:%M:%S",
    "trailer": "合计,{count},{sum}",
    "checksum": "sha256",
    "checksum_line": "SHA256,{digest}",
    "line_end": "\n",
    "fields": [
        {"name": "seq", "column": "序号"},
        {"name": "account_no", "column": "户号"},
        {"name": "bill_no", "column": "账单号"},
        {"name": "late_fee", "column": "滞纳金"},
        {"name": "amount", "column": "实收"},
        {"name": "paid_at", "column": "时间"},
    ],
}
OUT_FIXED: dict[str, Any] = {
    "format": "fixed",
    "amount_unit": "fen",
    "date_format": "%Y%m%d",
    "trailer": "T{count:0>6}{sum:0>12}",
    "checksum_line": "M{digest}",
    "fields": [
        {"name": "date", "start": 1, "width": 8},
        {"name": "seq", "start": 9, "width": 4},
        {"name": "account_no", "start": 13, "width": 8},
        {"name": "amount", "start": 21, "width": 10},
        {"name": "channel", "start": 31, "width": 16},
    ],
}


def test_the_csv_collection_file_has_control_totals_and_a_checksum_line() -> None:
    data = collection_file(DAY, PAYMENTS, _layout(OUT_CSV, COLLECTION_FIELDS))
    body = (
        "序号,户号,账单号,滞纳金,实收,时间\n"
        "1,100001,202608-100001,4.02,240.52,2026-09-01 10:01:00\n"
        "2,100002,202607-100002,0.00,50.00,2026-09-01 11:00:00\n"
        "3,100002,202608-100002,0.00,100.00,2026-09-01 11:00:00\n"
        "合计,3,390.52\n"
    ).encode()
    assert data == body + f"SHA256,{hashlib.sha256(body).hexdigest()}\n".encode()
    assert verify_collection_file(data, _layout(OUT_CSV, COLLECTION_FIELDS)) is None


def test_the_fixed_width_collection_file_pads_numbers_with_zeros_and_text_with_spaces() -> None:
    layout = _layout(OUT_FIXED, COLLECTION_FIELDS)
    data = collection_file(DAY, PAYMENTS[:1], layout)
    body = b"202609010001100001  0000024052mobile_banking  \r\nT000001000000024052\r\n"
    assert data == body + f"M{hashlib.md5(body).hexdigest()}\r\n".encode()


def test_regenerating_a_day_gives_the_same_bytes_and_tampering_is_detected() -> None:
    layout = _layout(OUT_CSV, COLLECTION_FIELDS)
    first = collection_file(DAY, PAYMENTS, layout)
    assert collection_file(DAY, list(PAYMENTS), layout) == first
    tampered = first.replace(b"240.52", b"240.53")
    assert verify_collection_file(tampered, layout) == (
        f"checksum line 'SHA256,{hashlib.sha256(first.rsplit(b'SHA256', 1)[0]).hexdigest()}' "
        "does not match the content"
    )


def test_an_empty_day_still_has_its_control_and_checksum_lines() -> None:
    data = collection_file(DAY, [], _layout(OUT_FIXED, COLLECTION_FIELDS))
    body = b"T000000000000000000\r\n"
    assert data == body + f"M{hashlib.md5(body).hexdigest()}\r\n".encode()


def test_a_value_too_wide_for_its_field_is_refused() -> None:
    narrow = {**OUT_FIXED, "fields": [{"name": "txn_id", "start": 1, "width": 4}]}
    with pytest.raises(InvalidInput) as exc:
        collection_file(DAY, PAYMENTS, _layout(narrow, COLLECTION_FIELDS))
    assert exc.value.message == "line 1: txn_id: 'PW-0001' does not fit 4 bytes"
    bad = {**OUT_CSV, "trailer": "{total}"}
    with pytest.raises(InvalidInput) as template:
        collection_file(DAY, PAYMENTS, _layout(bad, COLLECTION_FIELDS))
    assert template.value.message == "layout: trailer template '{total}' is not usable ('total')"


def test_a_file_for_people_names_the_channel_in_chinese_and_one_for_machines_by_its_code() -> None:
    people = {**OUT_CSV, "fields": [{"name": "account_no", "column": "户号"},
                                    {"name": "channel_name", "column": "渠道"},
                                    {"name": "channel", "column": "渠道代码"}]}  # fmt: skip
    lines = collection_file(DAY, PAYMENTS, _layout(people, COLLECTION_FIELDS)).decode()
    assert lines.splitlines()[:4] == [
        "户号,渠道,渠道代码",
        "100001,手机银行,mobile_banking",
        "100002,签约代扣,autodebit",
        "100002,签约代扣,autodebit",
    ]
