import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.errors import InvalidAmount
from billfold.money import MAX_FEN, MAX_YUAN, Money, format_yuan, parse_yuan, yuan_in_capitals


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


@pytest.mark.parametrize(
    ("yuan", "capitals"),
    [
        ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
        ("0.05", "伍分"),
        ("0.50", "伍角整"),
        ("0.00", "零元整"),
        ("10", "壹拾元整"),
        ("15.00", "壹拾伍元整"),
        ("100.10", "壹佰元壹角整"),
        ("1001", "壹仟零壹元整"),
        ("10000", "壹万元整"),
        ("20300.00", "贰万零叁佰元整"),
        ("100000000.01", "壹亿元零壹分"),
        ("1409.50", "壹仟肆佰零玖元伍角整"),
        ("6007.14", "陆仟零柒元壹角肆分"),
        ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
        ("325.04", "叁佰贰拾伍元零肆分"),
        ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
        ("107000.53", "壹拾万柒仟元伍角叁分"),
        ("100010000", "壹亿零壹万元整"),
        ("100001000", "壹亿零壹仟元整"),
        ("1000000000000", "壹万亿元整"),
        ("1000000000001", "壹万亿零壹元整"),
        (MAX_YUAN, "壹拾万亿元整"),
    ],
)
def test_amounts_in_chinese_capitals_follow_the_voucher_rules(yuan: str, capitals: str) -> None:
    assert yuan_in_capitals(parse_yuan(yuan)) == capitals


def _capitals_model(fen: int) -> str:
    """A second, digit-by-digit reading of the rules to check the converter against."""
    digits = "零壹贰叁肆伍陆柒捌玖"
    whole, cents = divmod(fen, 100)
    text = ""
    if whole:
        places = str(whole)[::-1]
        units = ["", "拾", "佰", "仟"]
        zero = False
        for position in range(len(places) - 1, -1, -1):
            digit = int(places[position])
            if digit:
                if zero:
                    text += "零"
                    zero = False
                text += digits[digit] + units[position % 4]
            elif text:
                zero = True
            if position % 4 == 0 and position:  # the end of a 万 or 亿 section
                section = places[position : position + 4]
                # 亿 is written even when its own four digits are zero; a section's unit
                # closes its trailing zeros (壹拾万壹仟: the rules let the 零 go)
                if position % 8 == 0:
                    text, zero = text + "亿", False
                elif int(section[::-1]):
                    text, zero = text + "万", False
        text += "元"
    jiao, fen_digit = divmod(cents, 10)
    if jiao:
        text += digits[jiao] + "角"
    elif fen_digit and whole:
        text += "零"
    if fen_digit:
        return text + digits[fen_digit] + "分"
    return (text or "零元") + "整"


@given(st.integers(min_value=0, max_value=MAX_FEN))
def test_amounts_in_capitals_agree_with_a_digit_by_digit_model(fen: int) -> None:
    assert yuan_in_capitals(fen) == _capitals_model(fen)


@given(st.integers(min_value=0, max_value=12).flatmap(
    lambda n: st.lists(st.sampled_from([0, 0, 0, 1, 5]), min_size=n + 1, max_size=n + 1)
))  # fmt: skip
def test_amounts_full_of_zeros_in_capitals_agree_with_the_model(digits: list[int]) -> None:
    fen = int("".join(map(str, digits)))
    assert yuan_in_capitals(fen) == _capitals_model(fen)


@pytest.mark.parametrize(
    ("fen", "message"),
    [
        (-1, "amount in capitals: -0.01 is negative"),
        (MAX_FEN + 1, "amount in capitals: over the largest amount, 10000000000000.00"),
    ],
)
def test_amounts_in_capitals_refuse_what_is_not_an_amount(fen: int, message: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        yuan_in_capitals(fen)
    assert refused.value.message == message
