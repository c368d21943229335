"""Escrow book entries as journal entries: each balances, and for any sequence of entries the
escrow accounts' balances are the book's totals (buyers' balance, held money)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.journal import is_balanced, trial_balance
from billfold.settlement.escrow import (
    EntryKind,
    EscrowEntry,
    escrow,
    escrow_buyers,
    escrow_held,
    journal_entry,
    totals,
)

BUREAU = "JG-1"
AT = datetime(2026, 9, 1, 2, tzinfo=UTC)


def entry(seq: int, kind: EntryKind, amount: int, contract: str | None = "HT-1") -> EscrowEntry:
    return EscrowEntry(seq, kind, "pos", f"T{seq}", contract, amount, date(2026, 9, 1), AT)


def test_a_payment_moves_money_into_the_account_for_the_contracts_bill() -> None:
    made = journal_entry(BUREAU, entry(1, EntryKind.PAYMENT, 500), bill_id=7)
    assert made.kind == "escrow_payment"
    assert [(p.account, p.amount_fen, p.bill_id) for p in made.postings] == [
        ("escrow:JG-1", 500, None),
        ("escrow_buyers:JG-1", -500, 7),
    ]
    assert made.memo == "escrow JG-1 #00000001 payment pos/T1"


def test_assigning_held_money_moves_it_from_held_to_the_buyers_without_touching_the_account() -> (
    None
):
    made = journal_entry(BUREAU, entry(2, EntryKind.ASSIGN, 300), bill_id=9)
    assert [(p.account, p.amount_fen, p.bill_id) for p in made.postings] == [
        ("escrow_held:JG-1", 300, None),
        ("escrow_buyers:JG-1", -300, 9),
    ]


@given(
    st.lists(
        st.tuples(st.sampled_from(list(EntryKind)), st.integers(min_value=1, max_value=10**10)),
        max_size=30,
    )
)
def test_the_escrow_accounts_always_agree_with_the_books_totals(
    moves: list[tuple[EntryKind, int]],
) -> None:
    book = [entry(n, kind, amount) for n, (kind, amount) in enumerate(moves, start=1)]
    entries = [journal_entry(BUREAU, e, bill_id=1) for e in book]
    assert all(is_balanced(e.postings) for e in entries)
    balance = trial_balance(p for e in entries for p in e.postings)
    expected = totals(book)
    assert -balance.get(escrow_buyers(BUREAU), 0) == expected.balance_fen
    assert -balance.get(escrow_held(BUREAU), 0) == expected.held_fen
    assert balance.get(escrow(BUREAU), 0) == expected.balance_fen + expected.held_fen
