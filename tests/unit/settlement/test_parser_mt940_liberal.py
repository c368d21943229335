"""MT940 as banks really send it: envelopes, old tags, loose :61: lines (read, flagged)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from billfold.settlement.parsers import parse_all
from billfold.settlement.parsers.mt940 import parse_61
from billfold.settlement.statement import Direction, LineType, StatementError

# A Dutch-style export: bank identifier and "940" lines before :20:, :28: instead of
# :28C:, a :NS: tag, amounts without decimal comma, one line without customer reference.
ENVELOPED = (
    "\x01ABNANL2A\n"
    "940\n"
    "ABNANL2A\n"
    ":20:ABN AMRO BANK NV\n"
    ":25:517852257\n"
    ":28:19321/1\n"
    ":60F:C240130EUR3236,28\n"
    ":61:2401310131D500NMSCNONREF\n"
    ":86:GIRO 428428 KPN - DIGITENNE\n"
    ":NS:22KPN FACTUUR 2024-01\n"
    "23DIGITENNE\n"
    ":61:2401310131C1000,NTRF//BNK-77\n"
    ":86:SALARIS\n"
    ":62F:C240131EUR3736,28\n"
    "-\x03\n"
)


def _parse(text: str, **kw: Any) -> Any:
    return parse_all([text.encode()], "mt940", source_file="abn.940", **kw)


def test_envelope_lines_old_28_tag_and_ns_details_are_read() -> None:
    lines, errors = _parse(ENVELOPED)
    assert errors == []
    debit, credit = lines
    assert (debit.amount_fen, debit.direction, debit.currency) == (50000, Direction.DEBIT, "EUR")
    assert debit.source_line == 8
    assert debit.description == "GIRO 428428 KPN - DIGITENNE 22KPN FACTUUR 2024-01 23DIGITENNE"
    assert debit.channel_txn_id == "ABN AMRO BANK NV/19321/1/1"
    assert debit.deviations == ("amount '500' has no decimal comma; read as a whole amount",)
    assert credit.amount_fen == 100000
    assert credit.channel_txn_id == "BNK-77"
    assert credit.order_no is None
    assert credit.deviations == ("no customer reference (the spec asks for NONREF)",)


def test_balance_check_still_runs_on_an_enveloped_file() -> None:
    with pytest.raises(StatementError) as caught:
        _parse(ENVELOPED.replace(":62F:C240131EUR3736,28", ":62F:C240131EUR3736,29"))
    (error,) = caught.value.errors
    assert (error.line, error.field) == (14, ":62F:")
    assert "(19321/1)" in error.message


def test_swift_blocks_around_two_messages_in_one_file() -> None:
    message = (
        "{1:F01ICBKCNBJAXXX0000000000}{2:O940}{4:\n:20:S#\n:25:1100\n:28C:#/1\n"
        ":60F:C240130CNY0,00\n:61:240131C#,00NTRFNONREF\n:62F:C240131CNY#,00\n-}\n"
    )
    text = message.replace("#", "1") + message.replace("#", "2")
    lines, errors = _parse(text)
    assert errors == []
    assert [(line.amount_fen, line.channel_txn_id) for line in lines] == [
        (100, "S1/1/1/1"),
        (200, "S2/2/1/1"),
    ]


def test_long_customer_reference_is_kept_whole_and_flagged() -> None:
    parsed = parse_61("2401310131C1,00NTRFEREF-2024-01-31-000123//B1")
    assert parsed.customer_reference == "EREF-2024-01-31-000123"
    assert parsed.deviations == (
        "customer reference 'EREF-2024-01-31-000123' is longer than 16 characters",
    )


def test_impossible_value_date_keeps_the_entry_date_and_flags_the_line() -> None:
    text = ENVELOPED.replace(":61:2401310131C1000,", ":61:2402300228C1000,")
    lines, errors = _parse(text)
    assert errors == []
    credit = lines[1]
    assert credit.occurred_at == datetime(2024, 2, 27, 16, 0, tzinfo=UTC)  # 28 Feb, Shanghai
    assert "value date 240230 does not exist; the entry date is used" in credit.deviations
    assert parse_61("2402300228C1,00NTRFNONREF").entry_date == date(2024, 2, 28)


def test_reversals_are_signed_against_what_they_reverse() -> None:
    text = (
        ":20:R\n:25:1\n:28C:1/1\n:60F:C240130CNY100,00\n"
        ":61:240131RC30,00NTRFNONREF\n"  # a credit taken back: money leaves
        ":61:240131RD5,00NCHGNONREF\n"  # a charge given back: money comes in
        ":62F:C240131CNY75,00\n"
    )
    lines, errors = _parse(text)
    assert errors == []
    assert [(line.type, line.direction) for line in lines] == [
        (LineType.REVERSAL, Direction.DEBIT),
        (LineType.REVERSAL, Direction.CREDIT),
    ]


def test_a_dot_as_decimal_mark_is_refused_not_guessed() -> None:
    with pytest.raises(StatementError) as caught:
        _parse(ENVELOPED.replace("D500NMSC", "D1.000NMSC"))
    assert str(caught.value) == (
        "abn.940:8: :61: amount: '1.000' uses '.' as the decimal mark; "
        "MT940 amounts use ',' (1234,56)"
    )
