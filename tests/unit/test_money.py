import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.errors import InvalidAmount
from billfold.money import MAX_FEN, MAX_YUAN, Money, format_yuan, parse_yuan


@pytest.mark.parametrize(
    ("text", "fen"),
    [("12.34", 1234), ("0.01", 1), ("12", 1200), ("12.3", 1230), (" 7.00 ", 700), ("0", 0)],
)
def test_yuan_strings_parse_to_integer_fen(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("12.345", "amount: '12.345' has more than two decimals"),
        ("-1.00", "amount: '-1.00' is negative"),
        ("1,000.00", "amount: '1,000.00' is not an amount like '12.34'"),
        ("abc", "amount: 'abc' is not an amount like '12.34'"),
        ("", "amount: amount is empty"),
        ("1e3", "amount: '1e3' is not an amount like '12.34'"),
        (".5", "amount: '.5' is not an amount like '12.34'"),
    ],
)
def test_bad_amounts_are_refused_with_the_field_named(text: str, message: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan(text)
    assert str(caught.value) == message


def test_a_float_is_never_money() -> None:
    with pytest.raises(InvalidAmount, match="a float is not a money amount"):
        parse_yuan(12.34)  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount, match="integer fen"):
        Money(12.5)  # type: ignore[arg-type]


def test_negative_amounts_parse_only_when_allowed() -> None:
    assert parse_yuan("-3.10", allow_negative=True) == -310


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_formatting_and_parsing_round_trip(fen: int) -> None:
    assert parse_yuan(format_yuan(fen), allow_negative=True) == fen


@given(st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12))
def test_money_adds_and_subtracts_exactly(a: int, b: int) -> None:
    assert (Money(a) + Money(b)).fen == a + b
    assert (Money(a) - Money(b) + Money(b)) == Money(a)


def test_money_refuses_to_mix_currencies() -> None:
    with pytest.raises(InvalidAmount, match="cannot combine CNY with USD"):
        Money(1) + Money(1, "USD")


def test_money_shows_yuan() -> None:
    assert str(Money.parse("-0.05")) == "-0.05 CNY"


@pytest.mark.parametrize(
    "text", ["１２.３４", "١٢٣", "12.３4", "٣", "𝟏𝟐.00", "1\x002.00", "12.00\x00"]
)
def test_only_ascii_digits_are_money(text: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan(text, field="items[0].amount")
    assert str(caught.value).startswith("items[0].amount: ")
    assert "ASCII digits" in str(caught.value)


def test_the_largest_amount_fits_a_signed_64_bit_fen_value_with_room_for_sums() -> None:
    assert MAX_FEN == 10**15 and parse_yuan(MAX_YUAN) == MAX_FEN
    assert MAX_FEN * 9000 < 2**63  # thousands of the largest amounts still add up in BIGINT
    assert parse_yuan("-10000000000000.00", allow_negative=True) == -MAX_FEN


@pytest.mark.parametrize(
    "text", ["10000000000000.01", "99999999999999999999.99", "9223372036854775808", "-1" + "0" * 20]
)
def test_amounts_over_the_bound_are_refused_naming_it(text: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan(text, allow_negative=True)
    assert str(caught.value) == f"amount: {text!r} is over the largest amount, 10000000000000.00"
