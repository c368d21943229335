"""The double-entry journal: immutable postings and entries, and the trial balance.

Sign convention: a debit is a positive amount, a credit a negative one. Every posting
carries its currency (ISO 4217, CNY unless said otherwise: a payment held in HKD is
journalled in HKD); an entry balances when its postings sum to zero *in each currency* —
billfold never converts, so an entry never mixes currencies to balance. The database
refuses an unbalanced entry too (docs/concepts.md, "The journal").

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
from billfold.money import CNY

__all__ = [
    "BANK",
    "FEE_INCOME",
    "REFUNDS_PAYABLE",
    "REFUND_TRANSFERS_IN_TRANSIT",
    "SUSPENSE",
    "JournalEntry",
    "Posting",
    "UnbalancedEntry",
    "balance_key",
    "clearing",
    "is_balanced",
    "payable",
    "trial_balance",
    "unbalanced_currencies",
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
    currency: str = CNY


@dataclass(frozen=True, slots=True)
class JournalEntry:
    kind: str
    postings: tuple[Posting, ...]
    memo: str = ""

    def __post_init__(self) -> None:
        if not self.postings:  # one posting (of more than 0.00) never balances: two or more
            raise UnbalancedEntry(f"{self.kind}: an entry needs postings")
        if any(p.amount_fen == 0 for p in self.postings):
            raise UnbalancedEntry(f"{self.kind}: a posting of 0.00 is not allowed")
        odd = unbalanced_currencies(self.postings)
        if odd:
            sums = ", ".join(f"{total} fen {currency}" for currency, total in odd.items())
            raise UnbalancedEntry(f"{self.kind}: postings sum to {sums}, not 0")

    @classmethod
    def build(
        cls, kind: str, postings: Iterable[Posting], memo: str = "", *, currency: str = CNY
    ) -> JournalEntry:
        """Build an entry in ``currency``: its postings are taken in that currency (a posting
        already in a third one raises :class:`UnbalancedEntry`), postings to the same
        (account, bill) are merged and zeros dropped."""
        merged: dict[tuple[str, int | None], int] = defaultdict(int)
        order: list[tuple[str, int | None]] = []
        for p in postings:
            if p.currency not in (CNY, currency):
                raise UnbalancedEntry(f"{kind}: a posting in {p.currency} in a {currency} entry")
            key = (p.account, p.bill_id)
            if key not in merged:
                order.append(key)
            merged[key] += p.amount_fen
        kept = tuple(
            Posting(a, merged[(a, b)], b, currency) for a, b in order if merged[(a, b)] != 0
        )
        return cls(kind, kept, memo)


def unbalanced_currencies(postings: Iterable[Posting]) -> dict[str, int]:
    """Per currency whose postings do not sum to zero, their sum (empty when balanced)."""
    totals: dict[str, int] = defaultdict(int)
    for p in postings:
        totals[p.currency] += p.amount_fen
    return {currency: total for currency, total in sorted(totals.items()) if total != 0}


def is_balanced(postings: Iterable[Posting]) -> bool:
    return not unbalanced_currencies(postings)


def balance_key(account: str, currency: str) -> str:
    """An account's key in a trial balance: the account in CNY, ``"account HKD"`` otherwise."""
    return account if currency == CNY else f"{account} {currency}"


def trial_balance(postings: Iterable[Posting]) -> dict[str, int]:
    """Balance per account and currency (debit positive; keys by :func:`balance_key`).
    The values of each currency sum to zero for a sound journal."""
    balances: dict[str, int] = defaultdict(int)
    for p in postings:
        balances[balance_key(p.account, p.currency)] += p.amount_fen
    return dict(sorted(balances.items()))
