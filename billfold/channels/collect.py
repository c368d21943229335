"""Collecting through channels: the one way channel events reach the core.

:class:`Collector` wires channel adapters to their host (a
:class:`~billfold.channels.ports.ChannelHost`; :class:`~billfold.engine.Engine` in production):

* :meth:`Collector.start` checks the biller takes the channel (its designated sole channel,
  enabled channels), marks the order paying and asks the channel to collect;
* :meth:`Collector.notify` verifies a notification through the channel and hands a payment
  to the engine's exactly-once ``confirm``;
* :meth:`Collector.requery` and :meth:`Collector.requery_stuck` ask channels about orders
  whose notification never came, and settle their fate through the same ``confirm``;
* :meth:`Collector.pay_out_refunds` sends pending refunds to the channel that took the money;
  one the channel can never pay back (window closed, card cancelled, account closed) falls
  back to a bank transfer (:data:`TRANSFER_DECLINES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from billfold.channels.base import (
    Channel,
    ChannelEvent,
    CollectRequest,
    CollectStart,
    Decline,
    EventKind,
    RemoteState,
)
from billfold.channels.ports import ChannelHost
from billfold.collection.confirming import ConfirmResult
from billfold.collection.refund_transfer import TransferReason
from billfold.errors import ConfigurationError, Conflict, InvariantViolated, NotFound
from billfold.merchants.channel_config import channel_refusal

__all__ = ["TRANSFER_DECLINES", "ChannelRefused", "Collector", "RefundPayout"]

log = structlog.get_logger("billfold.channels")


#: Refusals that no retry cures: the refund is paid back by bank transfer instead.
TRANSFER_DECLINES: dict[Decline, TransferReason] = {
    Decline.REFUND_WINDOW_CLOSED: TransferReason.WINDOW_CLOSED,
    Decline.CARD_CANCELLED: TransferReason.CARD_CANCELLED,
    Decline.ACCOUNT_CLOSED: TransferReason.ACCOUNT_CLOSED,
}


class ChannelRefused(Conflict):
    """The biller does not take this channel (or only takes another one)."""

    code = "channel_refused"


@dataclass(frozen=True, slots=True)
class RefundPayout:
    refund_no: str
    succeeded: bool
    message: str = ""


class Collector:
    def __init__(self, engine: ChannelHost, channels: Mapping[str, Channel]) -> None:
        self.engine = engine
        self.channels = dict(channels)

    def channel(self, name: str) -> Channel:
        try:
            return self.channels[name]
        except KeyError:
            raise ConfigurationError(f"channel {name!r} is not set up in this billfold") from None

    def start(
        self, order_no: str, channel_name: str, *, payer_ref: str | None = None
    ) -> CollectStart:
        channel = self.channel(channel_name)
        order = self.engine.order(order_no)
        with self.engine.uow() as uow:
            biller = uow.billers.get(order.biller_id)
            if not (biller is not None and biller.id is not None):
                raise InvariantViolated("expected biller is not None and biller.id is not None")
            configs = uow.channels.configs(biller.id)
        refusal = channel_refusal(biller.code, configs, channel.name)
        if refusal:
            raise ChannelRefused(refusal)
        settings: dict[str, Any] = {}
        for config in configs:
            if config.channel == channel.name:
                settings = {
                    "merchant_id": config.merchant_id,
                    "app_id": config.app_id,
                    **config.settings,
                }
        if order.is_expired_at(self.engine.clock.now()) or not order.payable:
            raise Conflict(f"order {order_no} is {order.status.value}; create a new order")
        lines = ", ".join(sorted({line.bill_no for line in order.lines}))
        request = CollectRequest(
            order_no=order.order_no,
            biller_code=biller.code,
            biller_name=biller.name,
            amount_fen=order.total_fen,
            expires_at=order.expires_at,
            description=f"{biller.name} {lines}"[:127],
            currency=order.currency,
            payer_ref=payer_ref,
            settings=settings,
        )
        started = channel.start(request)  # the channel checks its own input first
        self.engine.start_payment(order_no, channel.name)
        return started

    def notify(
        self, channel_name: str, headers: Mapping[str, str], body: bytes
    ) -> ConfirmResult | None:
        """Handle a channel's notification. Raises SignatureInvalid (nothing changed) when the
        notification fails verification; returns the confirmation for payments."""
        event = self.channel(channel_name).parse_notification(headers, body)
        return self.apply(event)

    def apply(self, event: ChannelEvent) -> ConfirmResult | None:
        """Feed a verified channel event into the core."""
        if event.kind is EventKind.PAID:
            return self._confirm(event)
        if event.kind is EventKind.REVERSED:
            self.engine.reverse(
                event.channel,
                event.channel_txn_id,
                reason=event.detail or "reversal from channel",
                requested_by=event.channel,
                order_no=event.order_no,
            )
            return None
        if event.kind is EventKind.REFUND_FAILED and self._failed_for_good(event):
            return None
        if event.kind in (EventKind.REFUNDED, EventKind.REFUND_FAILED) and event.refund_no:
            self.engine.complete_refund(
                event.refund_no,
                succeeded=event.kind is EventKind.REFUNDED,
                channel_refund_id=event.channel_txn_id,
            )
            return None
        if event.kind is EventKind.CLOSED and event.order_no:
            self._closed(event, event.order_no)
            return None
        log.info("channel event needs no action", channel=event.channel, kind=event.kind.value)
        return None

    def _confirm(self, event: ChannelEvent) -> ConfirmResult:
        """A paid event: the core's exactly-once confirmation."""
        result = self.engine.confirm(
            event.channel,
            event.channel_txn_id,
            event.order_no,
            event.amount_fen,
            paid_at=event.occurred_at,
            currency=event.currency,
            on_credit=self._on_credit(event),
        )
        log.debug(  # the engine has logged the confirmation at INFO, with every fact
            "payment notified",
            channel=event.channel,
            order_no=event.order_no,
            status=result.status.value,
            duplicate=result.duplicate,
        )
        return result

    def _closed(self, event: ChannelEvent, order_no: str) -> None:
        """Closed unpaid at the channel: final. (A FAILED attempt is not: the payer may try
        again until the order expires, and the T+0 requery settles what lingers.)"""
        reason = event.detail or f"{event.channel} reported the order {event.kind.value}"
        failed = self.engine.fail_order(order_no, event.channel, reason)
        log.info(
            "order failure notified",
            channel=event.channel,
            order_no=order_no,
            kind=event.kind.value,
            failed=failed,
        )

    def _on_credit(self, event: ChannelEvent) -> tuple[tuple[str, dict[str, Any]], ...]:
        hook = getattr(self.channels.get(event.channel), "on_credit", None)
        return tuple(hook(event)) if callable(hook) else ()

    def requery(self, order_no: str) -> ConfirmResult | None:
        """Ask the order's channel what happened and settle it through ``confirm``."""
        order = self.engine.order(order_no)
        if order.channel is None:
            raise NotFound(f"order {order_no} was never sent to a channel")
        answer = self.channel(order.channel).query(order_no)
        if answer.event is not None and answer.event.kind is EventKind.PAID:
            return self.apply(answer.event)
        if answer.state in (RemoteState.CLOSED, RemoteState.FAILED):
            # settled the same day: the order fails and its bills stay open for a new order.
            # A failed attempt may leave the channel's order payable: close it there first
            # (should money still arrive, it goes to suspense with a refund queued).
            if answer.state is RemoteState.FAILED:
                self.channel(order.channel).close(order_no)
            reason = f"{order.channel} answered {answer.state.value} when asked"
            if self.engine.fail_order(order_no, order.channel, reason):
                log.info("order failed on requery", order_no=order_no, channel=order.channel)
        return None

    def requery_stuck(self, older_than: timedelta = timedelta(minutes=10)) -> list[ConfirmResult]:
        """T+0: orders paying for longer than ``older_than`` are asked about, the same day."""
        cutoff = self.engine.clock.now() - older_than
        settled: list[ConfirmResult] = []
        for order_no in self.engine.paying_orders(cutoff, list(self.channels)):
            result = self.requery(order_no)
            if result is not None:
                settled.append(result)
        return settled

    def pay_out_refunds(self) -> list[RefundPayout]:
        """Send every pending refund to the channel that took the money."""
        done: list[RefundPayout] = []
        for refund in self.engine.pending_refunds():
            payment = self.engine.payment(refund.payment_id)
            channel = self.channels.get(payment.channel)
            if channel is None:
                continue
            total = payment.amount_fen
            answer = channel.refund(
                refund.refund_no, payment.order_no, payment.channel_txn_id, refund.amount_fen, total
            )
            if answer.accepted and not answer.final:
                pass  # the channel's refund notification completes it
            elif answer.accepted:
                self.engine.complete_refund(
                    refund.refund_no, succeeded=True, channel_refund_id=answer.channel_refund_id
                )
            elif not (
                answer.decline and self._fall_back(refund.refund_no, answer.decline, answer.message)
            ):
                self.engine.complete_refund(refund.refund_no, succeeded=False)
            done.append(RefundPayout(refund.refund_no, answer.accepted, answer.message))
        return done

    def _failed_for_good(self, event: ChannelEvent) -> bool:
        if event.refund_no is None or event.decline is None:
            return False
        return self._fall_back(event.refund_no, event.decline, event.detail)

    def _fall_back(self, refund_no: str, decline: Decline, message: str) -> bool:
        """A refusal no retry cures: the refund needs a bank transfer. False for others."""
        reason = TRANSFER_DECLINES.get(decline)
        if reason is None:
            return False
        self.engine.refund_needs_transfer(refund_no, reason, message or decline.value)
        log.info("refund needs a bank transfer", refund_no=refund_no, reason=reason.value)
        return True
