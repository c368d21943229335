"""The bank's side of auto-debit: the small remote API a debit run talks to.

A real connector (a bank's 代扣 interface) implements :class:`DebitBank`. Every call is
idempotent on its request id: asking again with the same id returns the first answer and
never debits twice — that is what lets a run that died mid-call simply ask again.

A sandbox bank for tests and the demo is :class:`billfold.testing.sandbox.autodebit.SandboxBank`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billfold.channels.base import Decline, RefundAnswer

__all__ = ["CHANNEL", "DebitAnswer", "DebitBank", "DebitRequest"]

CHANNEL = "autodebit"


@dataclass(frozen=True, slots=True)
class DebitRequest:
    request_id: str  # unique per attempt; the bank deduplicates on it
    mandate_no: str
    agreement_no: str
    order_no: str
    amount_fen: int
    currency: str = "CNY"


@dataclass(frozen=True, slots=True)
class DebitAnswer:
    """The bank's answer. A decline is a value: insufficient funds, account closed, …"""

    request_id: str
    succeeded: bool
    bank_txn_id: str | None = None
    debited_at: datetime | None = None
    decline: Decline | None = None
    message: str = ""


class DebitBank(Protocol):
    def debit(self, request: DebitRequest) -> DebitAnswer:
        """Debit the payer's account under the signed agreement. Raises ChannelError when
        the bank cannot be reached (the outcome is then unknown: ask :meth:`query`)."""
        ...

    def query(self, request_id: str) -> DebitAnswer | None:
        """The answer to an earlier request, or ``None`` if the bank never received it."""
        ...

    def refund(
        self, refund_no: str, order_no: str, bank_txn_id: str, amount_fen: int
    ) -> RefundAnswer: ...
