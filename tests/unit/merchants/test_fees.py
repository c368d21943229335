import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.errors import InvalidInput
from billfold.merchants.fees import FeeKind, FeeRule, round_half_up_div


@pytest.mark.parametrize(
    ("rule", "amount", "fee"),
    [
        (FeeRule("wechat", bps=60), 10_000, 60),
        (FeeRule("wechat", bps=60), 125, 1),  # 0.75 fen rounds half up to 1
        (FeeRule("wechat", bps=60), 83, 0),  # 0.498 rounds down
        (FeeRule("wechat", bps=30, min_fen=10), 100, 10),
        (FeeRule("wechat", bps=30, max_fen=2000), 10_000_000, 2000),
        (FeeRule("counter", kind=FeeKind.FIXED, fixed_fen=50), 30, 30),  # never above the amount
        (FeeRule("counter", kind=FeeKind.FIXED, fixed_fen=50), 10_000, 50),
    ],
)
def test_fee_rules(rule: FeeRule, amount: int, fee: int) -> None:
    assert rule.fee_for(amount) == fee


@given(st.integers(1, 10**10), st.integers(0, 10_000), st.integers(0, 500))
def test_a_fee_is_never_negative_nor_above_the_amount(amount: int, bps: int, min_fen: int) -> None:
    fee = FeeRule("x", bps=bps, min_fen=min_fen).fee_for(amount)
    assert 0 <= fee <= amount


@given(st.integers(0, 10**12), st.integers(1, 10**6))
def test_half_up_division_is_within_half_of_the_true_quotient(n: int, d: int) -> None:
    q = round_half_up_div(n, d)
    assert abs(q * d - n) * 2 <= d


def test_bad_fee_rules_are_refused() -> None:
    with pytest.raises(InvalidInput, match="bps: must be between 0 and 10000, got 10001"):
        FeeRule("x", bps=10_001)
    with pytest.raises(InvalidInput, match="max_fen: 5 is below min_fen 10"):
        FeeRule("x", min_fen=10, max_fen=5)
