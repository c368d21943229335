"""What a channel notification may carry into the database, checked at the HTTP edge.

A notification is signed by the channel, but a signature proves who sent it, not that its
values can be stored: a NUL in an order number fails on PostgreSQL (and is stored on
SQLite), an amount past the 64-bit range overflows. So before the channel parses it, every
string of a JSON or form body is checked for control characters; after it parses, the
event's ids and amount are checked too (an encrypted resource is only readable then). A
refusal is a :class:`~billfold.errors.InvalidInput` — the caller answers it as *refused* in
the channel's own words, and nothing is changed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from billfold.channels.base import ChannelEvent
from billfold.errors import InvalidAmount, InvalidInput
from billfold.money import MAX_FEN, MAX_YUAN
from billfold.text import first_control_character

__all__ = ["refuse_unclean_body", "refuse_unstorable_event"]

MAX_ID = 64


def _walk(value: Any, where: str) -> None:
    if isinstance(value, str):
        found = first_control_character(value)
        if found is not None:
            raise InvalidInput(f"{where or 'body'}: contains a control character ({found})")
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(key, where)
            _walk(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _walk(item, f"{where}[{n}]")


def refuse_unclean_body(body: bytes) -> None:
    """Refuse a JSON or form body holding a control character in any string."""
    text = body.decode("utf-8", "surrogateescape")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if parsed is not None:
        _walk(parsed, "")
        return
    if "=" in text and not text.lstrip().startswith("<"):  # a form (Alipay), not XML
        _walk(dict(parse_qsl(text, keep_blank_values=True, errors="surrogateescape")), "")


def refuse_unstorable_event(event: ChannelEvent) -> None:
    """Refuse an event whose ids or amount the database cannot take as they are."""
    for name, value in (
        ("order_no", event.order_no),
        ("channel_txn_id", event.channel_txn_id),
        ("refund_no", event.refund_no or ""),
        ("currency", event.currency),
    ):
        if len(value) > MAX_ID:
            raise InvalidInput(f"{name}: {len(value)} characters, at most {MAX_ID}")
        _walk(value, name)
    amount = event.amount_fen
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_FEN:
        raise InvalidAmount(
            f"amount_fen: {str(amount)[:30]} is not integer fen from 0 to {MAX_FEN} "
            f"({MAX_YUAN} yuan)"
        )
