"""The parsers' shortcuts for the common shapes (plain two-decimal amounts, times like
``2026-09-01 10:00:00``) give exactly what the general path gives, errors included."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.errors import InvalidAmount
from billfold.money import parse_yuan
from billfold.settlement.parsers._common import (
    ISO_SECONDS,
    FieldError,
    local_time,
    yuan,
    yuan_padded,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

amount_texts = st.one_of(
    st.from_regex(r"[+-]?[0-9]{1,18}(\.[0-9]{0,6})?", fullmatch=True),
    st.text(alphabet="0123456789.-+ ,e٣", max_size=12),
)


def _general(text: str, allow_negative: bool) -> int | str:
    try:
        return parse_yuan(text, field="金额", allow_negative=allow_negative)
    except InvalidAmount as exc:
        return exc.message.removeprefix("金额: ")


def _fast(text: str, allow_negative: bool) -> int | str:
    try:
        return yuan(text, "金额", allow_negative=allow_negative)
    except FieldError as exc:
        return exc.message


@given(amount_texts, st.booleans())
def test_an_amount_reads_the_same_as_through_parse_yuan(text: str, allow_negative: bool) -> None:
    assert _fast(text, allow_negative) == _general(text, allow_negative)


@given(st.from_regex(r"-?[0-9]{1,6}\.[0-9]{2}0{0,4}", fullmatch=True), st.booleans())
def test_a_padded_fee_reads_as_its_first_two_decimals(text: str, allow_negative: bool) -> None:
    expected = _general(text[: text.index(".") + 3], allow_negative)
    try:
        got: int | str = yuan_padded(text, "金额", allow_negative=allow_negative)
    except FieldError as exc:
        got = exc.message
    assert got == expected


def test_a_fee_with_a_digit_past_the_second_decimal_is_still_refused() -> None:
    with pytest.raises(FieldError) as bad:
        yuan_padded("0.60001", "手续费")
    assert (bad.value.field, bad.value.message) == (
        "手续费",
        "'0.60001' has more than two decimals",
    )


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31)))
def test_a_bill_time_reads_as_strptime_reads_it(moment: datetime) -> None:
    text = moment.strftime(ISO_SECONDS)
    expected = datetime.strptime(text, ISO_SECONDS).replace(tzinfo=SHANGHAI).astimezone(UTC)
    got = local_time(text, ISO_SECONDS, SHANGHAI, "交易时间")
    assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["2026-02-30 10:00:00", "2026-09-01 24:00:00", "2026-09-01T10:00:00", "2026-9-1 10:00:0x"],
)
def test_an_impossible_time_names_the_field_either_way(text: str) -> None:
    with pytest.raises(FieldError) as bad:
        local_time(text, ISO_SECONDS, SHANGHAI, "交易时间")
    assert bad.value.field == "交易时间"
    assert bad.value.message == f"{text!r} is not a time like '%Y-%m-%d %H:%M:%S'"


def test_a_short_month_still_reads_through_strptime() -> None:
    got = local_time("2026-9-1 10:00:00", ISO_SECONDS, SHANGHAI, "交易时间")
    assert got == datetime(2026, 9, 1, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["20000000000000.00", "10000000000000.01", "0010000000000000.01"])
def test_an_amount_over_the_largest_is_refused_on_the_fast_path_too(text: str) -> None:
    with pytest.raises(FieldError, match="over the largest amount"):
        yuan(text, "金额")
    with pytest.raises(FieldError, match="over the largest amount"):
        yuan_padded(text + "000", "金额")
