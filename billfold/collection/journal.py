"""The double-entry journal: immutable postings and entries, and the trial balance.

Sign convention: a debit is a positive amount, a credit a negative one; an entry balances
when its postings sum to zero.

Accounts:

* ``clearing:<channel>`` — money a channel has collected for us and owes us (asset)
* ``payable:<biller>`` — what we owe a biller (liability); postings carry the bill id
* ``suspense`` — money we hold that no bill can take (liability)
* ``fee_income`` — our fees (income)
* ``refunds_payable`` — refunds decided but not yet paid out (liability)
* ``refund_transfers_in_transit`` — refunds sent to the bank in a transfer file, not yet seen
  leaving the collection account on its statement (liability)
* ``bank:collection`` — the collection account at the bank (asset)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from billfold.errors import BillfoldError

__all__ = [
    "BANK",
    "FEE_INCOME",
    "REFUNDS_PAYABLE",
    "REFUND_TRANSFERS_IN_TRANSIT",
    "SUSPENSE",
    "JournalEntry",
    "Posting",
    "UnbalancedEntry",
    "clearing",
    "is_balanced",
    "payable",
    "trial_balance",
]

SUSPENSE = "suspense"
FEE_INCOME = "fee_income"
REFUNDS_PAYABLE = "refunds_payable"
REFUND_TRANSFERS_IN_TRANSIT = "refund_transfers_in_transit"
BANK = "bank:collection"


def clearing(channel: str) -> str:
    return f"clearing:{channel}"


def payable(biller_code: str) -> str:
    return f"payable:{biller_code}"


class UnbalancedEntry(BillfoldError):
    code = "unbalanced_entry"


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount_fen: int  # debit > 0, credit < 0
    bill_id: int | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    kind: str
    postings: tuple[Posting, ...]
    memo: str = ""

    def __post_init__(self) -> None:
        if not self.postings:
            raise UnbalancedEntry(f"{self.kind}: an entry needs postings")
        if any(p.amount_fen == 0 for p in self.postings):
            raise UnbalancedEntry(f"{self.kind}: a posting of 0.00 is not allowed")
        if not is_balanced(self.postings):
            total = sum(p.amount_fen for p in self.postings)
            raise UnbalancedEntry(f"{self.kind}: postings sum to {total} fen, not 0")

    @classmethod
    def build(cls, kind: str, postings: Iterable[Posting], memo: str = "") -> JournalEntry:
        """Build an entry, merging postings to the same (account, bill) and dropping zeros."""
        merged: dict[tuple[str, int | None], int] = defaultdict(int)
        order: list[tuple[str, int | None]] = []
        for p in postings:
            key = (p.account, p.bill_id)
            if key not in merged:
                order.append(key)
            merged[key] += p.amount_fen
        kept = tuple(Posting(a, merged[(a, b)], b) for a, b in order if merged[(a, b)] != 0)
        return cls(kind, kept, memo)


def is_balanced(postings: Iterable[Posting]) -> bool:
    return sum(p.amount_fen for p in postings) == 0


def trial_balance(postings: Iterable[Posting]) -> dict[str, int]:
    """Balance per account (debit positive). The values sum to zero for a sound journal."""
    balances: dict[str, int] = defaultdict(int)
    for p in postings:
        balances[p.account] += p.amount_fen
    return dict(sorted(balances.items()))
