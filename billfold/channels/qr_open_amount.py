"""A static stall code's scan becomes an order: an open-amount bill for what the payer
entered, within the biller's bounds, then an order for it (the ``qr`` channel's
:func:`open_amount_order`, re-exported by :mod:`billfold.channels.qr`)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from billfold.channels.collect import ChannelRefused
from billfold.channels.ports import ChannelHost
from billfold.collection.bill import Bill, BillItem, BillKind
from billfold.collection.order import Order
from billfold.collection.payer import IdentifierKind, Payer
from billfold.errors import ConfigurationError, Conflict, InvalidAmount, InvalidInput
from billfold.merchants.channel_config import channel_refusal
from billfold.money import format_yuan

__all__ = ["DEFAULT_OPEN_BOUNDS", "open_amount_order"]

CHANNEL = "qr"  # the channel of the static code (billfold.channels.qr)
DEFAULT_OPEN_BOUNDS = (1, 1_000_000)
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def open_amount_order(
    engine: ChannelHost, biller_code: str, amount_fen: int, *, request_id: str | None = None
) -> Order:
    """A static-code scan becomes an order: an open-amount bill for the amount the payer
    entered (within the biller's ``open_min_fen``–``open_max_fen``), then an order for it.

    ``request_id`` (the payer page's submission id) makes a repeated submission return the
    same order instead of a second one."""
    low, high = _open_bounds(engine, biller_code)
    _check_amount(amount_fen, low, high, biller_code)
    bill_no, key = _bill_no_and_key(engine.clock.now(), request_id)
    bill = Bill(
        biller_id=0,
        bill_no=bill_no,
        payer_id=0,
        items=[BillItem(code="qr", name="扫码收款", amount_fen=0)],
        kind=BillKind.OPEN,
        open_min_fen=low,
        open_max_fen=high,
        description="static QR code payment",
    )
    try:  # each walk-in payer is known only by the bill, so no lookup lists others' bills
        engine.add_bill(biller_code, Payer(IdentifierKind.OTHER, bill_no), bill)
    except Conflict:
        if key is None:
            raise
    order = engine.create_order(biller_code, [bill_no], amount_fen=amount_fen, idempotency_key=key)
    if order.total_fen != amount_fen:
        raise Conflict(
            f"request_id {request_id} was submitted before for {format_yuan(order.total_fen)}, "
            f"not {format_yuan(amount_fen)}"
        )
    return order


def _open_bounds(engine: ChannelHost, biller_code: str) -> tuple[int, int]:
    """The biller's bounds for an entered amount; refused if it does not take the channel."""
    configs = engine.channel_configs(biller_code)
    refusal = channel_refusal(biller_code, configs, CHANNEL)
    if refusal:
        raise ChannelRefused(refusal)
    settings = next((c.settings for c in configs if c.channel == CHANNEL), {})
    low = settings.get("open_min_fen", DEFAULT_OPEN_BOUNDS[0])
    high = settings.get("open_max_fen", DEFAULT_OPEN_BOUNDS[1])
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or not (
        0 < low <= high
    ):
        raise ConfigurationError(
            f"qr config of biller {biller_code}: open_min_fen/open_max_fen must be integer fen "
            f"with 0 < min <= max, got {low!r}/{high!r}"
        )
    return low, high


def _check_amount(amount_fen: int, low: int, high: int, biller_code: str) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidAmount(f"amount: must be integer fen, got {type(amount_fen).__name__}")
    if not low <= amount_fen <= high:
        raise InvalidAmount(
            f"amount: {format_yuan(amount_fen)} is outside {format_yuan(low)}–"
            f"{format_yuan(high)} for {biller_code}'s stall code"
        )


def _bill_no_and_key(now: datetime, request_id: str | None) -> tuple[str, str | None]:
    """The bill's number and the order's idempotency key: from the submission id, or new."""
    if request_id is None:
        return f"QR{now:%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}", None
    if _REQUEST_ID.fullmatch(request_id):
        return f"QR-{request_id}", f"qr-static:{request_id}"
    raise InvalidInput(f"request_id: {request_id!r} must be 1-40 letters, digits, '-' or '_'")
