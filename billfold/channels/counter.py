"""The counter (柜台): a clerk takes cash or a card and confirms with the receipt number.

There is no remote party and no signature: a confirmation is an action of an operator the
application has already authenticated, and the operator is recorded in the audit log. The
receipt number is the payment's transaction id, so a receipt confirmed twice credits once
(receipt numbers must be unique across the counters of a deployment: prefix them with the
counter's id).

Refunds are paid out in cash at the counter, so like any channel that pays out later a
counter refund stays **pending** when it is sent (``RefundAnswer(final=False)``): the money
has not left until the cashier hands it over and confirms it (:func:`confirm_cash_refund`,
``billfold refunds confirm-cash REFUND_NO --by NAME``, ``POST /v1/refunds/{no}/confirm-cash``).
Only then does the refund succeed and its journal entry (refunds payable → counter clearing)
move, through :meth:`Engine.complete_refund` as for every channel.

The HTTP form of a confirmation (``Collector.notify("counter", headers, body)``) is the JSON
``{"order_no": …, "receipt_no": …, "amount_fen": 1234, "operator": "clerk-07",
"tender": "cash"}``, with ``operator`` filled in by the authenticated session.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from billfold.channels.base import (
    ChannelEvent,
    CollectRequest,
    CollectStart,
    EventKind,
    NotificationReply,
    RefundAnswer,
    RemoteState,
    StatusAnswer,
)
from billfold.channels.collect import Collector
from billfold.channels.ports import ChannelHost
from billfold.channels.signed_json import json_reply, load_object, text_field
from billfold.channels.verification import NotificationRejected
from billfold.clock import Clock
from billfold.collection.confirming import ConfirmResult
from billfold.collection.refund import RefundRecord, RefundStatus
from billfold.errors import Conflict, InvalidAmount, InvalidInput, InvariantViolated, NotFound
from billfold.money import MAX_FEN, MAX_YUAN, format_yuan
from billfold.text import first_control_character

__all__ = [
    "CHANNEL",
    "CounterChannel",
    "CounterReceipt",
    "Tender",
    "confirm_at_counter",
    "confirm_cash_refund",
    "refund_at_counter",
]

CHANNEL = "counter"
_RECEIPT = re.compile(r"[A-Za-z0-9_./-]{1,64}")


class Tender(StrEnum):
    CASH = "cash"
    CARD = "card"


@dataclass(frozen=True, slots=True)
class CounterReceipt:
    """A clerk's confirmation: this receipt took this amount for this order."""

    order_no: str
    receipt_no: str
    amount_fen: int
    operator: str
    tender: Tender = Tender.CASH

    def __post_init__(self) -> None:
        if not isinstance(self.order_no, str) or not 0 < len(self.order_no) <= 64:
            raise InvalidInput("order_no: 1-64 characters required")
        for name in ("order_no", "operator"):
            found = first_control_character(str(getattr(self, name)))
            if found is not None:
                raise InvalidInput(f"{name}: contains a control character ({found})")
        if not isinstance(self.receipt_no, str) or not _RECEIPT.fullmatch(self.receipt_no):
            raise InvalidInput(
                f"receipt_no: {self.receipt_no!r} must be 1-64 letters, digits, '.', '/', '-' "
                "or '_'"
            )
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int):
            raise InvalidAmount("amount: must be integer fen")
        if self.amount_fen <= 0:
            raise InvalidAmount(
                f"amount: must be more than 0.00, got {format_yuan(self.amount_fen)}"
            )
        if self.amount_fen > MAX_FEN:
            raise InvalidAmount(f"amount: {format_yuan(self.amount_fen)} is over {MAX_YUAN}")
        if not isinstance(self.operator, str) or not self.operator.strip():
            raise InvalidInput("operator: the clerk confirming the payment is required")
        if len(self.operator) > 100:
            raise InvalidInput("operator: at most 100 characters")
        object.__setattr__(self, "tender", Tender(self.tender))

    def event(self, at: datetime) -> ChannelEvent:
        return ChannelEvent(
            channel=CHANNEL,
            kind=EventKind.PAID,
            order_no=self.order_no,
            channel_txn_id=self.receipt_no,
            amount_fen=self.amount_fen,
            occurred_at=at,
            detail=f"{self.tender.value} taken by {self.operator}",
        )


class CounterChannel:
    """The counter as a :class:`~billfold.channels.base.Channel`."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    @property
    def name(self) -> str:
        return CHANNEL

    def start(self, request: CollectRequest) -> CollectStart:
        amount = format_yuan(request.amount_fen)
        data = {
            "amount_fen": request.amount_fen,
            "amount": amount,
            "prompt": f"收款 {amount} 元",
            "biller_name": request.biller_name,
            "description": request.description,
            "expires_at": request.expires_at.isoformat(),
        }
        return CollectStart(CHANNEL, request.order_no, "collect_at_counter", data)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelEvent:
        obj = load_object(body)
        amount, tender = obj.get("amount_fen"), obj.get("tender", Tender.CASH.value)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise NotificationRejected("bad_body", f"amount_fen {amount!r} is not integer fen")
        if tender not in {t.value for t in Tender}:
            raise NotificationRejected("bad_body", f"tender {tender!r} is not cash or card")
        try:
            receipt = CounterReceipt(
                order_no=text_field(obj, "order_no"),
                receipt_no=text_field(obj, "receipt_no"),
                amount_fen=amount,
                operator=text_field(obj, "operator", 100),
                tender=Tender(tender),
            )
        except InvalidInput as exc:
            raise NotificationRejected("bad_body", exc.message) from None
        return receipt.event(self.clock.now())

    def query(self, order_no: str) -> StatusAnswer:
        """Nothing to ask: only the clerk's confirmation settles a counter order."""
        return StatusAnswer(RemoteState.PENDING)

    def refund(
        self, refund_no: str, order_no: str, channel_txn_id: str, amount_fen: int, total_fen: int
    ) -> RefundAnswer:
        return RefundAnswer(
            True,
            channel_refund_id=f"CTR-{refund_no}",
            message=(
                f"pay {format_yuan(amount_fen)} out in cash at the counter, then confirm it: "
                f"billfold refunds confirm-cash {refund_no} --by NAME"
            ),
            final=False,  # pending until the cashier confirms the cash went out
        )

    def close(self, order_no: str) -> bool:
        return True

    def reply(self, accepted: bool, message: str = "") -> NotificationReply:
        return json_reply(accepted, message)


def _audit(
    engine: ChannelHost, operator: str, action: str, target: str, reason: str, after: dict[str, Any]
) -> None:
    with engine.uow() as uow:
        uow.audit.append(
            actor=operator,
            action=action,
            target_type="payment",
            target_id=target,
            reason=reason,
            before=None,
            after=after,
            now=engine.clock.now(),
        )
        uow.commit()


def confirm_at_counter(
    collector: Collector,
    order_no: str,
    receipt_no: str,
    amount_fen: int,
    *,
    operator: str,
    tender: Tender = Tender.CASH,
) -> ConfirmResult:
    """The clerk took the money: confirm it through the core, once per receipt number."""
    receipt = CounterReceipt(order_no, receipt_no, amount_fen, operator, tender)
    result = collector.apply(receipt.event(collector.engine.clock.now()))
    if result is None:
        raise InvariantViolated("result is missing")
    if result.payment.order_no != order_no:
        raise Conflict(
            f"receipt {receipt_no} was already used for order {result.payment.order_no}; "
            "nothing was recorded for this order"
        )
    if not result.duplicate:
        _audit(
            collector.engine,
            operator,
            "counter_confirm",
            str(result.payment.id),
            f"receipt {receipt_no} ({receipt.tender.value})",
            {
                "order_no": order_no,
                "amount": format_yuan(amount_fen),
                "status": result.status.value,
            },
        )
    return result


def confirm_cash_refund(engine: ChannelHost, refund_no: str, *, by: str) -> RefundRecord:
    """The cashier handed a counter refund out in cash: it succeeds and its journal entry
    moves (once — a repeat answers the succeeded refund and changes nothing)."""
    if not isinstance(by, str) or not by.strip() or len(by) > 100:
        raise InvalidInput("by: the cashier who paid the refund out is required (1-100 characters)")
    found = first_control_character(by)
    if found is not None:
        raise InvalidInput(f"by: contains a control character ({found})")
    with engine.uow() as uow:
        refund = uow.refunds.get_by_no(refund_no)
        payment = uow.payments.get(refund.payment_id) if refund is not None else None
    if refund is None or payment is None:
        raise NotFound(f"refund {refund_no!r} does not exist")
    if payment.channel != CHANNEL:
        raise Conflict(
            f"refund {refund_no} is of a {payment.channel} payment; "
            f"it is paid out through {payment.channel}, not at the counter"
        )
    if refund.status is RefundStatus.SUCCEEDED:
        return refund  # confirmed before: the cash went out once
    done = engine.complete_refund(refund_no, succeeded=True, channel_refund_id=f"CTR-{refund_no}")
    _audit(
        engine,
        by,
        "counter_refund",
        str(payment.id),
        f"refund {refund_no} paid out in cash",
        {"refund_no": refund_no, "amount": format_yuan(refund.amount_fen)},
    )
    return done


def refund_at_counter(engine: ChannelHost, refund_no: str, *, operator: str) -> RefundRecord:
    """The clerk paid a pending refund of a counter payment out in cash (refused when it is
    not pending). Kept for callers of the first API; :func:`confirm_cash_refund` is the verb."""
    pending = {r.refund_no for r in engine.pending_refunds()}
    if isinstance(operator, str) and operator.strip() and refund_no not in pending:
        raise NotFound(f"no pending refund {refund_no}")
    return confirm_cash_refund(engine, refund_no, by=operator)
