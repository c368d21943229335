"""The QR aggregator's back end played by :class:`~billfold.testing.sandbox.gateway.SandboxGateway`.

:class:`SandboxAcquirer` is a :class:`~billfold.channels.qr.QrAcquirer`: it opens, queries,
refunds and closes remote orders in the gateway and, when the simulated payer pays, builds the
aggregator's notification in its real wire format, signed with the merchant's test key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from billfold.channels.base import RefundAnswer
from billfold.channels.qr import CHANNEL, AcquiredOrder, build_notification
from billfold.errors import InvariantViolated
from billfold.testing.sandbox.gateway import RemoteOrder, SandboxGateway

__all__ = ["SandboxAcquirer"]


class SandboxAcquirer:
    """The aggregator's back end played by :class:`SandboxGateway`, signing with ``keys``
    (merchant id -> notification key)."""

    def __init__(
        self, gateway: SandboxGateway, keys: Mapping[str, bytes], channel: str = CHANNEL
    ) -> None:
        self.gateway = gateway
        self.keys = dict(keys)
        self.channel = channel
        self.merchants: dict[str, str] = {}
        gateway.register(channel, self.notification)

    def create(self, merchant_id: str, order_no: str, amount_fen: int) -> None:
        self.merchants.setdefault(order_no, merchant_id)
        self.gateway.open(self.channel, order_no, amount_fen)

    def query(self, order_no: str) -> AcquiredOrder | None:
        remote = self.gateway.query(self.channel, order_no)
        if remote is None:
            return None
        return AcquiredOrder(
            order_no,
            self.merchants[order_no],
            remote.amount_fen,
            remote.state,
            remote.txn_id,
            remote.paid_fen,
            remote.paid_at,
        )

    def refund(self, order_no: str, refund_no: str, amount_fen: int) -> RefundAnswer:
        refund_id, decline = self.gateway.refund(self.channel, order_no, refund_no, amount_fen)
        if decline is not None:
            return RefundAnswer(False, decline=decline, message=f"sandbox declined: {decline}")
        return RefundAnswer(True, channel_refund_id=refund_id)

    def close(self, order_no: str) -> bool:
        return self.gateway.close(self.channel, order_no)

    def notification(self, remote: RemoteOrder, sent_at: datetime) -> tuple[dict[str, str], bytes]:
        merchant_id = self.merchants[remote.order_no]
        if not (remote.txn_id is not None and remote.paid_at is not None):
            raise InvariantViolated(
                "expected remote.txn_id is not None and remote.paid_at is not None"
            )
        return build_notification(
            self.keys[merchant_id],
            merchant_id=merchant_id,
            order_no=remote.order_no,
            txn_id=remote.txn_id,
            amount_fen=remote.paid_fen,
            paid_at=remote.paid_at,
            sent_at=sent_at,
            wallet=remote.payer_ref,
        )
