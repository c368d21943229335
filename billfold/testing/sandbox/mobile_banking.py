"""The bank's bill-pay side played by :class:`~billfold.testing.sandbox.gateway.SandboxGateway`.

:class:`SandboxBank` is a :class:`~billfold.channels.mobile_banking.BankApi`: it keeps the
orders the bank was asked to debit and, when the simulated payer pays, sends the bank's
confirmation in its real wire format, signed with the bank's test RSA key. The bank
transaction id given to :func:`~billfold.channels.mobile_banking.pay` is the one it confirms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa

from billfold.channels.base import RefundAnswer
from billfold.channels.mobile_banking import CHANNEL, BankOrder, build_confirmation
from billfold.errors import InvariantViolated
from billfold.testing.sandbox.gateway import RemoteOrder, SandboxGateway

__all__ = ["SandboxBank"]


@dataclass
class SandboxBank:
    """The bank played by :class:`SandboxGateway`, signing confirmations with ``private_key``."""

    gateway: SandboxGateway
    private_key: rsa.RSAPrivateKey
    channel: str = CHANNEL
    merchants: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.gateway.register(self.channel, self.confirmation)

    def open(
        self, merchant_id: str, order_no: str, amount_fen: int, bank_txn_id: str | None
    ) -> None:
        self.merchants.setdefault(order_no, merchant_id)
        self.gateway.open(self.channel, order_no, amount_fen, payer_ref=bank_txn_id)

    def query(self, order_no: str) -> BankOrder | None:
        remote = self.gateway.query(self.channel, order_no)
        if remote is None:
            return None
        return BankOrder(
            order_no,
            self.merchants[order_no],
            remote.amount_fen,
            remote.state,
            remote.payer_ref or remote.txn_id,
            remote.paid_fen,
            remote.paid_at,
        )

    def refund(self, order_no: str, refund_no: str, amount_fen: int) -> RefundAnswer:
        refund_id, decline = self.gateway.refund(self.channel, order_no, refund_no, amount_fen)
        if decline is not None:
            return RefundAnswer(False, decline=decline, message=f"sandbox bank declined: {decline}")
        return RefundAnswer(True, channel_refund_id=refund_id)

    def close(self, order_no: str) -> bool:
        return self.gateway.close(self.channel, order_no)

    def confirmation(self, remote: RemoteOrder, sent_at: datetime) -> tuple[dict[str, str], bytes]:
        txn_id = remote.payer_ref or remote.txn_id
        if not (txn_id is not None and remote.paid_at is not None):
            raise InvariantViolated("expected txn_id is not None and remote.paid_at is not None")
        return build_confirmation(
            self.private_key,
            merchant_id=self.merchants[remote.order_no],
            order_no=remote.order_no,
            bank_txn_id=txn_id,
            amount_fen=remote.paid_fen,
            paid_at=remote.paid_at,
            sent_at=sent_at,
        )
