"""Split rules (分账): the parts always sum to the whole; the remainder goes where the rule
says; rule sets that could not add up are refused by name."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.errors import InvalidInput
from billfold.settlement.splits import (
    Remainder,
    SplitKind,
    SplitRule,
    rules_from_json,
    rules_to_json,
    split,
)


def rule(kind: SplitKind, value: int = 0, name: str = "x") -> SplitRule:
    return SplitRule(f"6222{name}", name, "工商银行", kind, value)


def test_thirds_leave_a_fen_that_goes_to_the_largest_share() -> None:
    rules = [rule(SplitKind.PERCENT, 3333, "a"), rule(SplitKind.PERCENT, 3334, "b"),
             rule(SplitKind.PERCENT, 3333, "c")]  # fmt: skip
    parts = split(100, rules, Remainder.LARGEST)
    assert [p.amount_fen for p in parts] == [33, 34, 33]
    assert [p.amount_fen for p in split(101, rules, Remainder.FIRST)] == [35, 33, 33]
    assert [p.amount_fen for p in split(101, rules, Remainder.LAST)] == [33, 33, 35]


def test_fixed_first_then_percentages_of_what_is_left_then_the_rest() -> None:
    rules = [rule(SplitKind.FIXED, 500, "fee"), rule(SplitKind.PERCENT, 2000, "canteen"),
             rule(SplitKind.REST, 0, "school")]  # fmt: skip
    assert [p.amount_fen for p in split(10_505, rules, Remainder.REST)] == [500, 2001, 8004]
    # A slow day: the fixed part takes what there is.
    assert [p.amount_fen for p in split(300, rules, Remainder.REST)] == [300, 0, 0]
    # The rounding fen go to the largest percentage, the rest's share stays exact.
    assert [p.amount_fen for p in split(10_507, rules, Remainder.LARGEST)] == [500, 2002, 8005]


def test_rule_sets_that_cannot_add_up_are_refused() -> None:
    half = rule(SplitKind.PERCENT, 5000)
    with pytest.raises(InvalidInput) as short:
        split(100, [half], Remainder.LARGEST)
    assert short.value.message == (
        "split: percentages add up to 50%; without a part taking the rest they must add up to 100%"
    )
    with pytest.raises(InvalidInput, match="at most one part may take the rest"):
        split(100, [rule(SplitKind.REST), rule(SplitKind.REST)], Remainder.REST)
    with pytest.raises(InvalidInput, match=r"add up to 150%, more than 100%"):
        split(100, [half, half, half, rule(SplitKind.REST)], Remainder.REST)
    with pytest.raises(InvalidInput, match="the remainder goes to the rest part, but there is"):
        split(100, [rule(SplitKind.PERCENT, 10000)], Remainder.REST)
    with pytest.raises(InvalidInput, match="the amount must be whole fen >= 0, got -1"):
        split(-1, [rule(SplitKind.REST)], Remainder.REST)
    with pytest.raises(InvalidInput, match="a percentage is 1-10000 basis points"):
        rule(SplitKind.PERCENT, 10001)
    with pytest.raises(InvalidInput, match="each part needs an account number and an account"):
        SplitRule("", "x", "y", SplitKind.REST)


def test_rules_round_trip_through_json_and_bad_json_is_named() -> None:
    rules = [rule(SplitKind.FIXED, 100, "a"), rule(SplitKind.REST, 0, "b")]
    assert rules_from_json(rules_to_json(rules)) == rules
    with pytest.raises(InvalidInput, match="part 1: kind must be fixed, percent or rest"):
        rules_from_json('[{"kind": "half", "account_no": "1", "account_name": "a"}]')


@st.composite
def rule_sets(draw: st.DrawFn) -> tuple[list[SplitRule], Remainder]:
    fixed = [
        rule(SplitKind.FIXED, draw(st.integers(1, 10**6)), f"f{i}")
        for i in range(draw(st.integers(0, 3)))
    ]
    count = draw(st.integers(0, 4))
    cuts = sorted(draw(st.lists(st.integers(1, 9999), min_size=count, max_size=count)))
    with_rest = draw(st.booleans()) or count == 0
    bounds = [0, *cuts, 10000 if not with_rest else draw(st.integers(max(cuts, default=0), 10000))]
    shares = [b - a for a, b in itertools.pairwise(bounds) if b - a > 0]
    percents = [rule(SplitKind.PERCENT, s, f"p{i}") for i, s in enumerate(shares)]
    if not with_rest and not percents:
        percents = [rule(SplitKind.PERCENT, 10000, "all")]
    rules = fixed + percents + ([rule(SplitKind.REST, 0, "rest")] if with_rest else [])
    choices = [Remainder.REST] if with_rest else []
    if percents:
        choices += [Remainder.LARGEST, Remainder.FIRST, Remainder.LAST]
    return draw(st.permutations(rules)), draw(st.sampled_from(choices))


@given(rule_sets(), st.integers(min_value=0, max_value=10**12))
def test_the_parts_always_sum_to_the_whole(
    rules_and_remainder: tuple[list[SplitRule], Remainder], total: int
) -> None:
    rules, remainder = rules_and_remainder
    parts = split(total, rules, remainder)
    assert sum(p.amount_fen for p in parts) == total
    assert [p.rule for p in parts] == rules
    assert all(p.amount_fen >= 0 for p in parts)
    for p in parts:
        if p.rule.kind is SplitKind.FIXED:
            assert p.amount_fen <= p.rule.value
    after_fixed = total - sum(p.amount_fen for p in parts if p.rule.kind is SplitKind.FIXED)
    crumbs = len([r for r in rules if r.kind is SplitKind.PERCENT]) + 1
    for p in parts:
        if p.rule.kind is SplitKind.PERCENT:  # within the rounding crumbs of the exact share
            exact = after_fixed * p.rule.value / 10000
            assert -1 < p.amount_fen - exact < crumbs
