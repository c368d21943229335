"""The journal's values: postings, entries that must balance, and the trial balance."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.journal import (
    FEE_INCOME,
    REFUNDS_PAYABLE,
    SUSPENSE,
    JournalEntry,
    Posting,
    UnbalancedEntry,
    clearing,
    is_balanced,
    payable,
    trial_balance,
)
from billfold.errors import BillfoldError

ACCOUNTS = [clearing("wechat"), clearing("alipay"), payable("s1"), SUSPENSE, REFUNDS_PAYABLE]
fen = st.integers(min_value=-(10**12), max_value=10**12)
nonzero_fen = fen.filter(bool)
postings = st.builds(
    Posting,
    st.sampled_from(ACCOUNTS),
    fen,
    st.one_of(st.none(), st.integers(1, 3)),
)


@st.composite
def balanced(draw: st.DrawFn) -> list[Posting]:
    """Postings that sum to zero and do not all cancel out per (account, bill)."""
    drawn = draw(st.lists(postings, min_size=1, max_size=8))
    total = sum(p.amount_fen for p in drawn)
    if total:
        drawn.append(Posting(FEE_INCOME, -total))
    if not any(_merged(drawn).values()):
        drawn += [Posting(SUSPENSE, 1), Posting(REFUNDS_PAYABLE, -1)]
    return draw(st.permutations(drawn))


def _merged(items: list[Posting]) -> dict[tuple[str, int | None], int]:
    sums: dict[tuple[str, int | None], int] = defaultdict(int)
    for p in items:
        sums[(p.account, p.bill_id)] += p.amount_fen
    return sums


# -- building entries ----------------------------------------------------------------------------


@given(balanced())
def test_build_merges_postings_per_account_and_bill_and_keeps_the_totals(
    items: list[Posting],
) -> None:
    entry = JournalEntry.build("payment", items, memo="m")

    keys = [(p.account, p.bill_id) for p in entry.postings]
    assert len(keys) == len(set(keys))
    assert all(p.amount_fen != 0 for p in entry.postings)
    assert {k: v for k, v in _merged(items).items() if v} == _merged(list(entry.postings))
    first_seen = list(dict.fromkeys((p.account, p.bill_id) for p in items))
    assert keys == [k for k in first_seen if k in set(keys)]
    assert is_balanced(entry.postings)
    assert (entry.kind, entry.memo) == ("payment", "m")


def test_build_keeps_postings_to_one_account_for_different_bills_apart() -> None:
    entry = JournalEntry.build(
        "payment",
        [
            Posting(clearing("wechat"), 300),
            Posting(payable("s1"), -100, bill_id=1),
            Posting(payable("s1"), -150, bill_id=2),
            Posting(payable("s1"), -50, bill_id=1),
        ],
    )

    assert entry.postings == (
        Posting("clearing:wechat", 300),
        Posting("payable:s1", -150, 1),
        Posting("payable:s1", -150, 2),
    )


def test_build_drops_accounts_that_net_to_zero() -> None:
    entry = JournalEntry.build(
        "refund",
        [
            Posting(SUSPENSE, 500),
            Posting(REFUNDS_PAYABLE, -500),
            Posting(FEE_INCOME, 20),
            Posting(FEE_INCOME, -20),
        ],
    )

    assert entry.postings == (Posting(SUSPENSE, 500), Posting(REFUNDS_PAYABLE, -500))


@given(balanced(), nonzero_fen)
def test_an_entry_that_does_not_balance_is_refused_with_its_kind_and_total(
    items: list[Posting], off_by: int
) -> None:
    with pytest.raises(UnbalancedEntry) as caught:
        JournalEntry.build("fee", [*items, Posting(FEE_INCOME, off_by)])

    assert caught.value.message == f"fee: postings sum to {off_by} fen CNY, not 0"


def test_an_unbalanced_entry_built_directly_is_refused() -> None:
    with pytest.raises(UnbalancedEntry, match=r"^payment: postings sum to -1 fen CNY, not 0$"):
        JournalEntry("payment", (Posting(clearing("pos"), 999), Posting(payable("s1"), -1000)))


def test_an_entry_without_postings_is_refused() -> None:
    with pytest.raises(UnbalancedEntry, match=r"^reversal: an entry needs postings$"):
        JournalEntry("reversal", ())


def test_an_entry_whose_postings_all_cancel_out_is_refused() -> None:
    with pytest.raises(UnbalancedEntry, match=r"^suspense: an entry needs postings$"):
        JournalEntry.build("suspense", [Posting(SUSPENSE, 100), Posting(SUSPENSE, -100)])


def test_a_posting_of_zero_is_refused_in_an_entry_built_directly() -> None:
    with pytest.raises(UnbalancedEntry, match=r"^fee: a posting of 0.00 is not allowed$"):
        JournalEntry("fee", (Posting(FEE_INCOME, 0), Posting(SUSPENSE, 5), Posting(SUSPENSE, -5)))


def test_an_unbalanced_entry_is_a_billfold_error_with_a_stable_code() -> None:
    error = UnbalancedEntry("x: postings sum to 1 fen, not 0")

    assert isinstance(error, BillfoldError)
    assert error.code == "unbalanced_entry"


def test_postings_and_entries_cannot_be_changed_once_made() -> None:
    posting = Posting(SUSPENSE, 5)
    entry = JournalEntry.build("suspense", [posting, Posting(REFUNDS_PAYABLE, -5)])

    with pytest.raises(dataclasses.FrozenInstanceError):
        posting.amount_fen = 6  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.postings = ()  # type: ignore[misc]


def test_account_names_carry_the_channel_and_the_biller() -> None:
    assert clearing("wechat") == "clearing:wechat"
    assert payable("w1") == "payable:w1"


# -- balance --------------------------------------------------------------------------------------


@given(st.lists(postings))
def test_is_balanced_means_the_postings_sum_to_zero(items: list[Posting]) -> None:
    assert is_balanced(items) is (sum(p.amount_fen for p in items) == 0)


@given(st.lists(balanced(), max_size=6))
def test_the_trial_balance_of_balanced_entries_sums_to_zero(groups: list[list[Posting]]) -> None:
    entries = [JournalEntry.build(f"e{i}", group) for i, group in enumerate(groups)]
    every = [p for entry in entries for p in entry.postings]

    balance = trial_balance(every)

    assert sum(balance.values()) == 0
    assert list(balance) == sorted(balance)
    for account in {p.account for p in every}:
        assert balance[account] == sum(p.amount_fen for p in every if p.account == account)


@given(st.lists(postings, min_size=1))
def test_the_trial_balance_of_unbalanced_postings_sums_to_their_total(
    items: list[Posting],
) -> None:
    assert sum(trial_balance(items).values()) == sum(p.amount_fen for p in items)


def test_the_trial_balance_of_nothing_is_empty() -> None:
    assert trial_balance([]) == {}


# -- currencies ----------------------------------------------------------------------------------


@given(balanced(), balanced())
def test_an_entry_balanced_in_each_of_two_currencies_is_accepted(
    cny: list[Posting], hkd: list[Posting]
) -> None:
    in_cny = JournalEntry.build("fx", cny).postings
    in_hkd = JournalEntry.build("fx", hkd, currency="HKD").postings
    entry = JournalEntry("fx", (*in_cny, *in_hkd))
    assert is_balanced(entry.postings)
    assert {p.currency for p in entry.postings} == {"CNY", "HKD"}


@given(nonzero_fen)
def test_a_debit_in_one_currency_never_balances_a_credit_in_another(amount: int) -> None:
    mixed = (Posting(SUSPENSE, amount, currency="HKD"), Posting(clearing("wechat"), -amount))
    with pytest.raises(UnbalancedEntry) as caught:
        JournalEntry("suspense", mixed)
    sums = sorted([f"{-amount} fen CNY", f"{amount} fen HKD"], key=lambda s: s.split()[-1])
    assert caught.value.message == f"suspense: postings sum to {', '.join(sums)}, not 0"
    assert not is_balanced(mixed)


def test_build_takes_its_postings_in_the_entry_currency() -> None:
    entry = JournalEntry.build(
        "suspense", [Posting(clearing("wechat"), 500), Posting(SUSPENSE, -500)], currency="HKD"
    )
    assert [p.currency for p in entry.postings] == ["HKD", "HKD"]


def test_build_refuses_a_posting_in_a_third_currency() -> None:
    with pytest.raises(UnbalancedEntry) as caught:
        JournalEntry.build(
            "suspense",
            [Posting(clearing("wechat"), 500, currency="USD"), Posting(SUSPENSE, -500)],
            currency="HKD",
        )
    assert caught.value.message == "suspense: a posting in USD in a HKD entry"


def test_the_trial_balance_keeps_each_currency_apart() -> None:
    postings = [
        Posting(SUSPENSE, -500, currency="HKD"),
        Posting(clearing("wechat"), 500, currency="HKD"),
        Posting(SUSPENSE, -300),
        Posting(clearing("wechat"), 300),
    ]
    assert trial_balance(postings) == {
        "clearing:wechat": 300,
        "clearing:wechat HKD": 500,
        "suspense": -300,
        "suspense HKD": -500,
    }
