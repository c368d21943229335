from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.settlement.parsers import parse, parse_all
from billfold.settlement.parsers._common import FieldError
from billfold.settlement.parsers.mt940 import StatementLine61, parse_61
from billfold.settlement.statement import Direction, LineError, LineType, StatementError

STATEMENT = """\
{1:F01ICBKCNBJAXXX0000000000}{2:O9401200240131ICBKCNBJAXXX00000000002401311200N}{4:
:20:STMT20240131
:25:110000123456789
:28C:00031/001
:60F:C240130CNY1000,00
:61:2401310131C200,50NTRFSETTLE-0130//BNK0001
ALIPAY T+1
:86:ALIPAY SETTLEMENT 20240130
BATCH 77
:61:240131D0,5NCHGNONREF
:86:BANK CHARGE
:61:240131RC100,00NTRFNONREF//BNK0003
:62F:C240131CNY1100,00
:64:C240131CNY1100,00
-}
"""


def _parse(text: str, **kw: Any) -> Any:
    return parse_all([text.encode()], "mt940", source_file="stmt.940", **kw)


def test_statement_lines_with_blocks_and_information() -> None:
    lines, errors = _parse(STATEMENT)
    assert errors == []
    credit, charge, reversal = lines
    assert credit.type is LineType.SETTLEMENT
    assert credit.direction is Direction.CREDIT
    assert credit.amount_fen == 20050
    assert credit.channel_txn_id == "BNK0001"
    assert credit.order_no == "SETTLE-0130"
    assert credit.merchant_id == "110000123456789"
    assert credit.currency == "CNY"
    assert credit.description == "ALIPAY T+1 ALIPAY SETTLEMENT 20240130 BATCH 77"
    assert credit.occurred_at == datetime(2024, 1, 30, 16, 0, tzinfo=UTC)
    assert credit.source_line == 6
    assert charge.type is LineType.FEE
    assert charge.direction is Direction.DEBIT
    assert charge.amount_fen == 50
    assert charge.order_no is None
    assert charge.channel_txn_id == "STMT20240131/00031/001/2"
    assert charge.description == "BANK CHARGE"
    assert reversal.type is LineType.REVERSAL
    assert reversal.direction is Direction.DEBIT
    assert reversal.source_line == 12


def test_several_statements_without_blocks() -> None:
    second = (
        ":20:STMT20240201\n:25:110000123456789\n:28C:00032/001\n:60F:C240131CNY1100,00\n"
        ":61:240201C1,NMSCNONREF\n:62F:C240201CNY1101,00\n"
    )
    text = "\n".join(line for line in STATEMENT.splitlines() if not line.startswith(("{", "-")))
    lines, errors = _parse(text + "\n" + second)
    assert errors == []
    assert [line.amount_fen for line in lines] == [20050, 50, 10000, 100]


def test_entry_date_in_the_next_year_is_placed_in_that_year() -> None:
    parsed = parse_61("2312310102C1,00NTRFNONREF")
    assert parsed.value_date == date(2023, 12, 31)
    assert parsed.entry_date == date(2024, 1, 2)


def test_balance_mismatch_names_the_statement() -> None:
    text = STATEMENT.replace(":62F:C240131CNY1100,00", ":62F:C240131CNY1100,01")
    with pytest.raises(StatementError) as caught:
        _parse(text)
    assert str(caught.value) == (
        "stmt.940:13: :62F:: statement STMT20240131 (00031/001): opening balance 1000.00 "
        "plus 3 entries (100.00) is 1100.00, but the closing balance is 1100.01"
    )


def test_balance_mismatch_is_quarantined_after_the_lines() -> None:
    text = STATEMENT.replace(":62F:C240131CNY1100,00", ":62F:D240131CNY1100,00")
    lines, errors = _parse(text, on_error="quarantine")
    assert len(lines) == 3
    assert [(e.line, e.field) for e in errors] == [(13, ":62F:")]
    assert errors[0].message.endswith("but the closing balance is -1100.00")


GOOD_61 = "2401310131C200,50NTRFSETTLE-0130//BNK0001"
BAD_61 = [
    ("2401", ":61: value date", "'2401' is too short"),
    ("240230C1,00NTRFX", ":61: value date", "'240230' is not a valid date and no entry date"),
    ("2413300131C1,00NTRFX", ":61: value date", "'241330' is not a valid date"),
    ("2401311331C1,00NTRFX", ":61: entry date", "'1331' is not a valid MMDD date"),
    ("2401310131X1,00NTRFX", ":61: debit/credit mark", "expected C, D, RC or RD, got 'X1'"),
    ("2401310131C", ":61: amount", "amount missing before ''"),
    ("2401310131C200,505NTRFX", ":61: amount", "'200,505' has more than two decimals"),
    ("2401310131C200.50NTRFX", ":61: amount", "'200.50' uses '.' as the decimal mark"),
    ("2401310131C200,50", ":61: transaction type", "expected N, F or S and 3 characters, got ''"),
]


@pytest.mark.parametrize(("new", "field", "message"), BAD_61)
def test_bad_statement_line_is_rejected_naming_file_line_and_subfield(
    new: str, field: str, message: str
) -> None:
    with pytest.raises(StatementError) as caught:
        _parse(STATEMENT.replace(GOOD_61, new))
    (error,) = caught.value.errors
    assert (error.file, error.line, error.field) == ("stmt.940", 6, field)
    assert error.message.startswith(message)


def test_bad_opening_balance_is_named_and_skips_the_balance_check() -> None:
    text = STATEMENT.replace(":60F:C240130CNY1000,00", ":60F:C240130CNY1000.00")
    lines, errors = _parse(text, on_error="quarantine")
    assert len(lines) == 3
    assert errors == [
        LineError(
            "stmt.940", 5, ":60F:", "'C240130CNY1000.00' is not a balance like C240131CNY1000,00"
        )
    ]


def test_quarantine_skips_a_bad_line_without_a_second_balance_error() -> None:
    text = STATEMENT.replace("240131D0,5NCHGNONREF", "240131D0,555NCHGNONREF")
    lines, errors = _parse(text, on_error="quarantine")
    assert [line.amount_fen for line in lines] == [20050, 10000]
    assert errors == [
        LineError("stmt.940", 10, ":61: amount", "'0,555' has more than two decimals")
    ]


def test_a_file_of_header_lines_without_any_tag_is_refused() -> None:
    with pytest.raises(StatementError) as caught:
        _parse("ABNANL2A\n940\nABNANL2A\n")
    assert str(caught.value) == "stmt.940:1: :20:: no MT940 statement found in the file"


def test_empty_file_is_refused() -> None:
    with pytest.raises(StatementError, match=r"stmt.940:1: :20:: no MT940 statement found"):
        _parse("\n\n")


def test_gbk_information_text_is_read() -> None:
    text = STATEMENT.replace("BANK CHARGE", "账户管理费")
    lines, _ = parse_all([text.encode("gbk")], "mt940")
    assert lines[1].description == "账户管理费"


def test_two_hundred_thousand_lines_are_read_lazily() -> None:
    pulled = 0

    def source() -> Iterator[bytes]:
        nonlocal pulled
        yield b":20:BIG\n:25:1\n:28C:1/1\n:60F:C240130CNY0,\n"
        for _ in range(100_000):
            pulled += 2
            yield b":61:240131C1,NTRFNONREF\n:86:X\n"
        yield b":62F:C240131CNY1000,00\n"

    reader = parse(source(), "mt940")
    assert next(reader).amount_fen == 100
    assert pulled < 10


# --- round trip through a small :61: formatter ----------------------------------------


def format_61(line: StatementLine61) -> str:
    """Write a :61: field text the way a bank would (test helper)."""
    whole, frac = divmod(line.amount_fen, 100)
    assert line.value_date is not None
    text = line.value_date.strftime("%y%m%d")
    if line.entry_date is not None:
        text += line.entry_date.strftime("%m%d")
    text += line.mark + (line.funds_code or "") + f"{whole},{frac:02d}"
    text += line.transaction_type + line.customer_reference
    if line.bank_reference:
        text += "//" + line.bank_reference
    return text


REF = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.", min_size=1, max_size=16)


@st.composite
def statement_lines(draw: st.DrawFn) -> StatementLine61:
    value = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2068, 12, 31)))
    entry = draw(st.none() | st.integers(min_value=-3, max_value=3))
    return StatementLine61(
        value_date=value,
        entry_date=None if entry is None else value + timedelta(days=entry),
        mark=draw(st.sampled_from(["C", "D", "RC", "RD"])),
        funds_code=draw(st.none() | st.sampled_from(["R", "Y", "D"])),
        amount_fen=draw(st.integers(min_value=0, max_value=999_999_999_999)),
        transaction_type=draw(st.sampled_from(["NTRF", "NCHG", "NMSC", "S103", "FCHK"])),
        customer_reference=draw(REF.filter(lambda r: "//" not in r)),
        bank_reference=draw(st.none() | REF),
        supplementary=None,
    )


@given(statement_lines())
def test_61_amount_and_dates_round_trip(line: StatementLine61) -> None:
    assert parse_61(format_61(line)) == line


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=3, max_value=5))
def test_61_amount_with_more_than_two_decimals_is_refused(fen: int, decimals: int) -> None:
    text = f"240131C{fen // 100},{fen % 100:02d}{'5' * (decimals - 2)}NTRFNONREF"
    with pytest.raises(FieldError, match="has more than two decimals"):
        parse_61(text)
