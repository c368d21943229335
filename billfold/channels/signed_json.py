"""What billfold's own JSON notification formats share (the QR aggregator's, the bank's).

Both send a JSON object and two headers: a Unix timestamp in seconds and a signature over
``timestamp + "\\n" + body`` (the raw body bytes, exactly as received). Each check here either
returns what it read or raises :class:`NotificationRejected` with a stable reason code and a
message saying exactly what was wrong; nothing is changed by a rejected notification.

The body of a payment notification::

    {"event": "payment.succeeded", "merchant_id": "M100001", "order_no": "BF2026…",
     "<txn field>": "…", "amount_fen": 1234, "currency": "CNY",
     "paid_at": "2026-09-01T10:00:05+08:00"}

``event`` is ``payment.succeeded``, ``payment.failed`` or ``order.closed``. Amounts are
integer fen (a JSON number with no fraction); ``paid_at`` is ISO 8601 with a UTC offset.

Both channels serve many billers and know each by the ``merchant_id`` of its channel config;
:class:`SettingsMerchants` finds a merchant's key (named by the settings, read through
:mod:`billfold.channels.secrets`) and the merchant an order was placed with.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from billfold.channels.base import ChannelEvent, EventKind, NotificationReply
from billfold.channels.ports import ChannelHost
from billfold.channels.secrets import EnvSecrets, MerchantDirectory, Secrets, secret
from billfold.channels.verification import NotificationRejected
from billfold.errors import BillfoldError, ConfigurationError

__all__ = [
    "EVENTS",
    "FRESHNESS",
    "MerchantKey",
    "MerchantLookup",
    "OrderOwner",
    "PaymentNotice",
    "Reason",
    "SettingsMerchants",
    "check_owner",
    "check_timestamp",
    "encode_body",
    "header",
    "json_reply",
    "load_object",
    "read_notice",
    "signed_message",
    "text_field",
    "unix_seconds",
]

FRESHNESS = timedelta(minutes=5)


class Reason(StrEnum):
    MISSING_HEADER = "missing_header"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE = "stale_timestamp"
    BAD_BODY = "bad_body"
    UNKNOWN_MERCHANT = "unknown_merchant"
    BAD_SIGNATURE = "bad_signature"
    MERCHANT_MISMATCH = "merchant_mismatch"
    UNSUPPORTED_EVENT = "unsupported_event"


EVENTS: Mapping[str, EventKind] = {
    "payment.succeeded": EventKind.PAID,
    "payment.failed": EventKind.FAILED,
    "order.closed": EventKind.CLOSED,
}


@dataclass(frozen=True, slots=True)
class OrderOwner:
    """The biller an order belongs to and the merchant id the channel knows it by."""

    order_no: str
    biller_code: str
    merchant_id: str | None
    bill_nos: tuple[str, ...]


class MerchantLookup(Protocol):
    """What a channel asks about its merchants."""

    def key(self, merchant_id: str, *, fresh: bool = False) -> bytes | None:
        """The merchant's key, ``None`` when no biller has that merchant id (or its key cannot
        be loaded); ``fresh`` reads the billers' settings again (a key may have rotated)."""
        ...

    def order_owner(self, order_no: str) -> OrderOwner | None:
        """Who ``order_no`` belongs to; ``None`` when billfold never issued that number."""
        ...


@dataclass(frozen=True, slots=True)
class MerchantKey:
    biller_code: str
    merchant_id: str
    key: bytes


#: How many orders' owners a :class:`SettingsMerchants` remembers (least recently used first out).
OWNERS_REMEMBERED = 4096


class SettingsMerchants:
    """:class:`MerchantLookup` over the billers' channel configs: a merchant is known by the
    config's ``merchant_id`` and its key is the secret ``key_name`` (``<key_name>_env`` or
    ``<key_name>_file`` in the settings)."""

    def __init__(
        self, engine: ChannelHost, channel: str, key_name: str, secrets: Secrets | None = None
    ) -> None:
        self.channel = channel
        self.key_name = key_name
        self.secrets: Secrets = secrets or EnvSecrets()
        self.directory: MerchantDirectory[MerchantKey] = MerchantDirectory(
            engine, channel, self._load, lambda merchant: [merchant.merchant_id]
        )
        # An order's owner never changes once issued: verifying a notification and writing its
        # voice broadcast ask about the same order, so the second asks no database.
        self._owners: OrderedDict[str, OrderOwner] = OrderedDict()
        self._seen: dict[str, str] = {}  # biller -> the settings its held key was read from

    def _load(self, biller_code: str, settings: Mapping[str, Any]) -> MerchantKey:
        where = f"{self.channel} settings of biller {biller_code}"
        merchant_id = settings.get("merchant_id")
        if not merchant_id:
            raise ConfigurationError(f"{where}: merchant_id is not set")
        value = secret(self.secrets, settings, self.key_name, where=where)
        return MerchantKey(biller_code, str(merchant_id), value)

    def _follow(self, biller_code: str, settings: Mapping[str, Any]) -> None:
        """Hold the key ``settings`` name now for their merchant (read once per content)."""
        content = json.dumps(dict(settings), sort_keys=True, default=str)
        if self._seen.get(biller_code) == content:
            return
        try:
            merchant = self._load(biller_code, settings)
        except BillfoldError:  # the key named cannot be read: none is held for the merchant
            merchant_id = settings.get("merchant_id")
            if merchant_id:
                self.directory.forget(str(merchant_id))
            self._seen.pop(biller_code, None)
            return
        self.directory.remember(merchant)
        self._seen[biller_code] = content

    def key(self, merchant_id: str, *, fresh: bool = False) -> bytes | None:
        if fresh:
            self._seen.clear()
            self.directory.reload()
            self._owners.clear()
        found = self.directory.find(merchant_id)
        return None if found is None else found.key

    def order_owner(self, order_no: str) -> OrderOwner | None:
        """Who ``order_no`` belongs to: remembered once read (an order's owner never
        changes), else :meth:`current_owner`."""
        known = self._owners.get(order_no)
        if known is not None:
            self._owners.move_to_end(order_no)
            return known
        return self.current_owner(order_no)

    def current_owner(self, order_no: str) -> OrderOwner | None:
        """Who ``order_no`` belongs to, read with its biller's current settings in one round
        trip (what verifying a notification asks); when those settings name another key
        than the one held for the merchant (the key was changed, by this process or
        another), the held key is replaced first, so the notification is verified with the
        key the settings name now."""
        found = self.directory.settings_for_order(order_no)
        if found.order is None or found.biller_code is None:
            return None  # not remembered: the number may be issued later
        if found.settings is not None:
            self._follow(found.biller_code, found.settings)
        merchant_id = (found.settings or {}).get("merchant_id")
        bill_nos = tuple(dict.fromkeys(line.bill_no for line in found.order.lines))
        owner = OrderOwner(order_no, found.biller_code, merchant_id, bill_nos)
        self._owners[order_no] = owner
        if len(self._owners) > OWNERS_REMEMBERED:
            self._owners.popitem(last=False)
        return owner


def header(headers: Mapping[str, str], name: str) -> str:
    """The value of header ``name`` (case-insensitive), which must be present and non-blank."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted and value.strip():
            return value.strip()
    raise NotificationRejected(Reason.MISSING_HEADER, f"header {name} is missing or empty")


def signed_message(timestamp: str, body: bytes) -> bytes:
    """The bytes a signature covers: the timestamp header, a newline, the raw body."""
    return timestamp.encode("ascii") + b"\n" + body


def unix_seconds(instant: datetime) -> str:
    return str(int(instant.timestamp()))


def check_timestamp(
    text: str, now: datetime, *, name: str, window: timedelta = FRESHNESS
) -> datetime:
    """The instant of Unix-seconds ``text``; refused when more than ``window`` from ``now``."""
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise NotificationRejected(
            Reason.BAD_TIMESTAMP, f"header {name} {text!r} is not a Unix time in seconds"
        )
    sent = datetime.fromtimestamp(int(text), UTC)
    age = (now - sent).total_seconds()
    limit = int(window.total_seconds())
    if age > limit:
        raise NotificationRejected(
            Reason.STALE,
            f"header {name} {text} is {int(age)} s old; notifications older than {limit} s "
            "are refused",
        )
    if -age > limit:
        raise NotificationRejected(
            Reason.STALE,
            f"header {name} {text} is {int(-age)} s ahead of our clock; at most {limit} s "
            "is allowed",
        )
    return sent


def load_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotificationRejected(Reason.BAD_BODY, f"body is not UTF-8 JSON: {exc}") from None
    if not isinstance(value, dict):
        raise NotificationRejected(Reason.BAD_BODY, "body must be a JSON object")
    return value


def encode_body(value: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the senders of these formats write it."""
    return json.dumps(dict(value), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def text_field(obj: Mapping[str, Any], name: str, max_len: int = 64) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise NotificationRejected(Reason.BAD_BODY, f"body field {name} must be a non-empty string")
    if len(value) > max_len:
        raise NotificationRejected(
            Reason.BAD_BODY, f"body field {name} is {len(value)} characters, at most {max_len}"
        )
    return value


def _fen(obj: Mapping[str, Any], name: str) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise NotificationRejected(
            Reason.BAD_BODY, f"body field {name} must be a positive integer of fen, got {value!r}"
        )
    return value


def _instant(obj: Mapping[str, Any], name: str) -> datetime:
    text = text_field(obj, name)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise NotificationRejected(
            Reason.BAD_BODY,
            f"body field {name} {text!r} must be ISO 8601 with a UTC offset, "
            "e.g. 2026-09-01T10:00:05+08:00",
        )
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class PaymentNotice:
    """The verified content of a notification."""

    kind: EventKind
    merchant_id: str
    order_no: str
    txn_id: str
    amount_fen: int
    currency: str
    paid_at: datetime

    def event(self, channel: str) -> ChannelEvent:
        return ChannelEvent(
            channel=channel,
            kind=self.kind,
            order_no=self.order_no,
            channel_txn_id=self.txn_id,
            amount_fen=self.amount_fen,
            occurred_at=self.paid_at,
            currency=self.currency,
        )


def read_notice(obj: Mapping[str, Any], txn_field: str) -> PaymentNotice:
    """Read (and check the types of) a signed notification's fields."""
    event = text_field(obj, "event")
    if event not in EVENTS:
        raise NotificationRejected(
            Reason.UNSUPPORTED_EVENT,
            f"event {event!r} is not one of {', '.join(sorted(EVENTS))}",
        )
    currency = text_field(obj, "currency", 3) if "currency" in obj else "CNY"
    return PaymentNotice(
        kind=EVENTS[event],
        merchant_id=text_field(obj, "merchant_id"),
        order_no=text_field(obj, "order_no"),
        txn_id=text_field(obj, txn_field),
        amount_fen=_fen(obj, "amount_fen"),
        currency=currency,
        paid_at=_instant(obj, "paid_at"),
    )


def check_owner(channel: str, notice: PaymentNotice, owner: OrderOwner | None) -> None:
    """Refuse a notice naming a merchant other than the one the order was placed with.

    An order billfold does not know passes: the core keeps that money in suspense."""
    if owner is None or owner.merchant_id == notice.merchant_id:
        return
    placed = owner.merchant_id or f"no {channel} merchant id"
    raise NotificationRejected(
        Reason.MERCHANT_MISMATCH,
        f"order {notice.order_no} belongs to biller {owner.biller_code} ({placed}), "
        f"not to merchant {notice.merchant_id}",
    )


def json_reply(accepted: bool, message: str = "") -> NotificationReply:
    """``200 {"code":"SUCCESS"}`` or ``400 {"code":"FAIL","message":…}``."""
    if accepted:
        return NotificationReply(200, "application/json", b'{"code":"SUCCESS"}')
    body = {"code": "FAIL", "message": message or "rejected"}
    return NotificationReply(400, "application/json", encode_body(body))
