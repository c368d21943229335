"""The columnar WeChat Pay reader (polars) reads every line exactly as the streaming parser does.

Each statement below is read both ways: the parser's lines (as columns) and quarantined
errors must be the reader's, line for line; a file the parser refuses as a whole is one the
reader hands back (``None``) for the parser to refuse. The corpus is the parser tests' own
bills — good rows, every bad row, GBK, a byte order mark, CSV-quoted values, the older
24-column layout with full-width colons — and mixtures of them."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from test_parser_wechatpay import BAD, BILL, HEADER, PAYMENT, REFUND, SUMMARY, _row
from test_parser_wechatpay_liberal import (
    HEADER_24,
    HEADER_27,
    backticked,
    row27,
    through_a_csv_writer,
)

from billfold.settlement.parsers import columnar, parse, parse_options
from billfold.settlement.statement import StatementError

pytest.importorskip("polars")

OLD_PAYMENT = backticked(
    [
        "2016-05-04 13：05：01", "wx1", "10000100", "0", "", "1004400740201605042345678",
        "WATER-9", "oU2", "NATIVE", "SUCCESS", "CFT", "CNY", "12.30", "0.00", "0", "0",
        "0.00", "0.00", "", "", "水费", "", "0.07000", "0.60%",
    ]
)  # fmt: skip
OLD_PLAIN = OLD_PAYMENT.replace("13：05：01", "13:05:01")


def _mixed() -> str:
    rows = [HEADER]
    for i in range(40):
        rows.append(PAYMENT.replace("4200002086202401310745964084", f"42{i:026d}"))
        if i % 7 == 0:
            rows.append(REFUND)
        if i % 11 == 0:
            rows.extend(bad for bad, _, _ in BAD)
        if i % 13 == 0:
            rows += ["", "   ", "\t"]
    rows += [
        _row(fee=""),  # no fee: 0
        _row(fee="-0.60000"),
        _row(total="", settle="12.34"),  # 订单金额 empty: 应结订单金额
        _row(total=" 12.34"),  # spaces: the parser strips them
        _row(total="0012.30"),
        _row(total="12345678901234.00"),  # over the largest amount
        _row(when="2024-02-30 10:00:00"),
        _row(when=" 2024-01-31 10:00:00"),
        _row(attach='{"a":1,"b":2}'),
        PAYMENT.replace("`1900000109,`0,", "`1900000109,`1900000201,"),
        PAYMENT.replace("`CNY,", "`cny,"),
        PAYMENT.replace("`CNY,", "`,"),
        PAYMENT.replace("`WATER-2024-01,", "`,"),
        PAYMENT.replace("`WATER-2024-01,", "`水费单-1,"),
        PAYMENT.replace("`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,", "`,"),
        PAYMENT.replace("`4200002086202401310745964084,", "`,"),
        PAYMENT.replace("`4200002086202401310745964084,", "` 42 ,"),
        PAYMENT.replace("`SUCCESS,", "`success,"),
        PAYMENT + ",`extra",
        through_a_csv_writer(row27("物业费,3月", "PROP-2")),
        backticked(row27()),
        "`",
        "not a row",
        SUMMARY,
        "`2,`100.00,`50.00,`0.00,`0.30000,`100.00,`50.00",
        PAYMENT,  # below the summary: never read
    ]
    return "\n".join(rows)


def _old_layout() -> str:
    return "\n".join([HEADER_24, OLD_PAYMENT, OLD_PLAIN, OLD_PLAIN.replace("`CFT,", "`X,")])


CASES: list[tuple[str, bytes, str | None]] = [
    ("bill", BILL.encode(), None),
    ("bill, trailing newline", (BILL + "\n").encode(), None),
    ("bill, CRLF", BILL.replace("\n", "\r\n").encode(), None),
    ("bill with a byte order mark", BILL.encode("utf-8-sig"), None),
    ("bill in GBK, detected", BILL.encode("gbk"), None),
    ("bill in GBK, stated", BILL.encode("gbk"), "gbk"),
    ("bill in UTF-8, stated", BILL.encode(), "utf-8"),
    ("mixed", _mixed().encode(), None),
    ("mixed, CRLF", _mixed().replace("\n", "\r\n").encode(), None),
    ("mixed in GBK", _mixed().encode("gbk"), None),
    ("mixed in GBK, a byte order mark first", b"\xef\xbb\xbf" + _mixed().encode(), "utf-8"),
    ("blank rows above the header", ("\n \n" + BILL).encode(), None),
    (
        "the 27 columns of the liberal tests",
        "\n".join([HEADER_27, backticked(row27())]).encode(),
        None,
    ),
    ("the older 24-column layout", _old_layout().encode(), None),
    ("only the header", (HEADER + "\n").encode(), None),
]
# Files the parser refuses as a whole: the reader must leave them to it.
REFUSED: list[tuple[str, bytes, str | None]] = [
    ("empty", b"", None),
    ("not a trade bill", b"foo,bar\n`1,`2\n", None),
    ("a required column missing", (HEADER.replace("商户订单号,", "") + "\n").encode(), None),
    ("GBK stated as UTF-8", BILL.encode("gbk"), "utf-8"),
    ("a byte order mark on a file stated GBK", BILL.encode("utf-8-sig"), "gbk"),
    ("UTF-16", BILL.encode("utf-16"), None),
    ("UTF-8 broken further down", (HEADER + "\n" + PAYMENT + "\n").encode() + b"`\xff\xfe", None),
    ("an unsupported encoding stated", BILL.encode(), "latin-1"),
]


def _streamed(data: bytes, encoding: str | None) -> tuple[list[tuple[Any, ...]], list[Any]]:
    reader = parse(
        [data], "wechatpay", source_file="wx.csv", on_error="quarantine", encoding=encoding
    )
    lines = [columnar.line_values(line) for line in reader]
    return lines, reader.errors


def _columnar(data: bytes, encoding: str | None) -> columnar.Columns | None:
    options = parse_options("wechatpay", None, "wx.csv", encoding)
    return columnar.read(data, options)


@pytest.mark.parametrize(("data", "encoding"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_line_and_every_error_is_the_parsers(data: bytes, encoding: str | None) -> None:
    lines, errors = _streamed(data, encoding)
    read = _columnar(data, encoding)
    assert read is not None, "the columnar reader should take this file"
    assert read.frame.columns == list(columnar.COLUMNS)
    assert read.frame.rows() == lines
    assert read.errors == errors


def test_the_mixed_bill_really_has_both_kinds_of_row() -> None:
    lines, errors = _streamed(_mixed().encode(), None)
    assert len(lines) > 50
    assert len(errors) > 20
    assert {row[1] for row in lines} == {"PAYMENT", "REFUND"}


@pytest.mark.parametrize(
    ("data", "encoding"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_a_file_the_parser_refuses_is_left_to_the_parser(data: bytes, encoding: str | None) -> None:
    with pytest.raises(StatementError):
        _streamed(data, encoding)
    assert _columnar(data, encoding) is None


def test_a_lone_carriage_return_is_left_to_the_parser() -> None:
    data = (HEADER + "\n" + PAYMENT + "\r\r\n" + PAYMENT).encode()
    assert _columnar(data, None) is None
    lines, errors = _streamed(data, None)
    assert len(lines) + len(errors) == 2


def test_other_formats_are_left_to_their_parsers() -> None:
    options = parse_options("alipay", None, "a.csv")
    assert columnar.read(b"anything", options) is None


def test_without_polars_every_file_is_left_to_the_streaming_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for loaded in [m for m in sys.modules if m.split(".")[0] == "polars"]:
        monkeypatch.delitem(sys.modules, loaded)
    monkeypatch.setitem(sys.modules, "polars", None)
    assert not columnar.available()
    assert _columnar(BILL.encode(), None) is None
    lines, errors = _streamed(BILL.encode(), None)
    assert len(lines) == 2 and errors == []


#: A fresh interpreter: what polars' allocator will read once billfold's reader is imported.
_ALLOCATOR_PROBE = (
    "import os, sys\n"
    "assert 'polars' not in sys.modules\n"
    "from billfold.settlement.parsers import columnar\n"
    "print(os.environ.get(columnar.ALLOCATOR_ENV))\n"
)


@pytest.mark.parametrize(
    ("given", "seen"),
    [(None, "dirty_decay_ms:500,muzzy_decay_ms:0"), ("dirty_decay_ms:0", "dirty_decay_ms:0")],
)
def test_polars_allocator_returns_freed_pages_soon_unless_the_operator_says_otherwise(
    given: str | None, seen: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if given is not None:
        env["_RJEM_MALLOC_CONF"] = given
    done = subprocess.run(
        [sys.executable, "-c", _ALLOCATOR_PROBE], capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == seen
