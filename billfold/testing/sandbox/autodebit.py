""":class:`SandboxBank` plays the auto-debit bank for tests and the demo, backed by the
:class:`~billfold.testing.sandbox.gateway.SandboxGateway`. Its answers can be scripted per mandate:
``bank.script("MD…", Decline.INSUFFICIENT_FUNDS, Decline.INSUFFICIENT_FUNDS, None)`` makes
the next three debits fail twice for lack of funds, then succeed (``None`` = success).
"""

from __future__ import annotations

from collections import deque

from billfold.channels.autodebit_bank import CHANNEL, DebitAnswer, DebitRequest
from billfold.channels.base import Decline, RefundAnswer, RemoteState
from billfold.errors import ChannelError
from billfold.testing.sandbox.gateway import SandboxGateway

__all__ = ["SandboxBank"]

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
