"""The bank's side of auto-debit: the small remote API a debit run talks to, and a sandbox.

A real connector (a bank's 代扣 interface) implements :class:`DebitBank`. Every call is
idempotent on its request id: asking again with the same id returns the first answer and
never debits twice — that is what lets a run that died mid-call simply ask again.

:class:`SandboxBank` plays the bank for tests and the demo, backed by the
:class:`~billfold.channels.sandbox.SandboxGateway`. Its answers can be scripted per mandate:
``bank.script("MD…", Decline.INSUFFICIENT_FUNDS, Decline.INSUFFICIENT_FUNDS, None)`` makes
the next three debits fail twice for lack of funds, then succeed (``None`` = success).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billfold.channels.base import Decline, RefundAnswer, RemoteState
from billfold.channels.sandbox import SandboxGateway
from billfold.errors import ChannelError

__all__ = ["DebitAnswer", "DebitBank", "DebitRequest", "SandboxBank"]

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


_MESSAGES = {
    Decline.INSUFFICIENT_FUNDS: "余额不足 insufficient funds",
    Decline.ACCOUNT_CLOSED: "账户已销户 account closed",
    Decline.LIMIT_EXCEEDED: "超过银行限额 over the bank's limit",
    Decline.REJECTED: "银行拒绝 rejected by the bank",
}


class SandboxBank:
    """A scriptable bank. ``unreachable`` > 0 makes that many calls fail in transport."""

    def __init__(self, gateway: SandboxGateway) -> None:
        self.gateway = gateway
        self.scripts: dict[str, deque[Decline | None]] = {}
        self.answers: dict[str, DebitAnswer] = {}
        self.requests: list[DebitRequest] = []  # every debit request received, repeats too
        self.unreachable = 0
        self.lose_answers = 0  # debit, but the answer never reaches the caller

    def script(self, mandate_no: str, *outcomes: Decline | None) -> None:
        """Queue the next outcomes for debits under ``mandate_no`` (``None`` = success)."""
        self.scripts.setdefault(mandate_no, deque()).extend(outcomes)

    @property
    def debited(self) -> list[DebitAnswer]:
        return [a for a in self.answers.values() if a.succeeded]

    def debit(self, request: DebitRequest) -> DebitAnswer:
        if self.unreachable > 0:
            self.unreachable -= 1
            raise ChannelError("sandbox bank: connection timed out")
        self.requests.append(request)
        if request.request_id not in self.answers:
            self.answers[request.request_id] = self._decide(request)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            raise ChannelError("sandbox bank: no answer before the timeout")
        return self.answers[request.request_id]

    def _decide(self, request: DebitRequest) -> DebitAnswer:
        script = self.scripts.get(request.mandate_no)
        decline = script.popleft() if script else None
        if decline is None:
            self.gateway.open(CHANNEL, request.order_no, request.amount_fen, request.agreement_no)
            remote = self.gateway.pay(CHANNEL, request.order_no)
            if remote.state is RemoteState.PAID and remote.txn_id is not None:
                return DebitAnswer(
                    request.request_id,
                    True,
                    bank_txn_id=remote.txn_id,
                    debited_at=remote.paid_at or self.gateway.clock.now(),
                    message="扣款成功 debited",
                )
            decline = Decline.REJECTED
        return DebitAnswer(
            request.request_id, False, decline=decline, message=_MESSAGES.get(decline, "")
        )

    def query(self, request_id: str) -> DebitAnswer | None:
        if self.unreachable > 0:
            self.unreachable -= 1
            raise ChannelError("sandbox bank: connection timed out")
        return self.answers.get(request_id)

    def refund(
        self, refund_no: str, order_no: str, bank_txn_id: str, amount_fen: int
    ) -> RefundAnswer:
        refund_id, decline = self.gateway.refund(CHANNEL, order_no, refund_no, amount_fen)
        if decline is not None:
            return RefundAnswer(False, decline=decline, message=f"sandbox bank: {decline.value}")
        return RefundAnswer(True, channel_refund_id=refund_id)
