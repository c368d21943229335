import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.errors import InvalidAmount
from billfold.money import Money, format_yuan, parse_yuan


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
