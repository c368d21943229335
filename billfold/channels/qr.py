"""The aggregated-QR channel (聚合码): billfold as the aggregator that acquires QR payments.

**Codes.** :meth:`QrChannel.start` answers ``scan_qr`` with a *dynamic* EMV MPM payload for
the order (initiation ``12``, the amount in tag 54, the order's reference in 62.05 and its
bill number in 62.01 when the order pays one bill) rendered as PNG and SVG. :func:`stall_code`
is the *static* code printed on a stall's sign (no amount). A payer who scans it states the
amount; :func:`open_amount_order` turns that into an ad-hoc open-amount bill and an order.
Wallets that read EMV (UnionPay, bank apps) pay it directly; WeChat and Alipay land on the
aggregator's page, where :func:`route` picks the flow from the User-Agent.

**Per-biller settings** (channel config ``qr``): ``merchant_id`` (the config's own field),
``merchant_name_en`` (tag 59, ASCII, at most 25), ``merchant_city_en`` (tag 60, ASCII, at
most 15), ``mcc`` (tag 52, default 8999), optional ``merchant_city_zh``, ``account_guid``,
``open_min_fen``/``open_max_fen`` (stall-code amount bounds, default 0.01–10000.00) and
``notify_key_env`` or ``notify_key_file`` naming the merchant's notification key.

**Notifications** (the aggregator's wire format): a JSON body as described in
:mod:`billfold.channels.signed_json` with the transaction id in ``txn_id`` (and an optional
``wallet``), and two headers: ``X-QR-Timestamp`` (Unix seconds, at most 5 minutes from our
clock) and ``X-QR-Signature: v1=<hex HMAC-SHA256(key, timestamp + "\\n" + body)>`` with the
merchant's key (at least 16 bytes). Accepted: ``200 {"code":"SUCCESS"}``; rejected: 400.

Every credited QR payment also writes a ``voice.broadcast`` event (:meth:`QrChannel.on_credit`)
for the stall's speaker, in the same transaction as the credit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from billfold.channels import emv
from billfold.channels.base import (
    ChannelEvent,
    CollectRequest,
    CollectStart,
    Decline,
    EventKind,
    NotificationReply,
    RefundAnswer,
    RemoteState,
    StatusAnswer,
)
from billfold.channels.collect import ChannelRefused
from billfold.channels.ports import ChannelHost
from billfold.channels.qr_open_amount import CHANNEL, DEFAULT_OPEN_BOUNDS, open_amount_order
from billfold.channels.qr_render import render_png, render_svg
from billfold.channels.secrets import Secrets
from billfold.channels.signed_json import (
    FRESHNESS,
    MerchantLookup,
    PaymentNotice,
    Reason,
    SettingsMerchants,
    check_owner,
    check_timestamp,
    encode_body,
    header,
    json_reply,
    load_object,
    read_notice,
    signed_message,
    text_field,
    unix_seconds,
)
from billfold.channels.verification import NotificationRejected
from billfold.channels.wallet_routing import Flow, ScanRoute, WalletRouter, route, route_with
from billfold.clock import Clock
from billfold.errors import ConfigurationError, InvalidInput
from billfold.merchants.channel_config import channel_refusal
from billfold.money import format_yuan
from billfold.text import first_control_character

__all__ = [
    "CHANNEL",
    "DEFAULT_OPEN_BOUNDS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AcquiredOrder",
    "Flow",
    "QrAcquirer",
    "QrChannel",
    "ScanRoute",
    "build_notification",
    "open_amount_order",
    "reference_label",
    "route",
    "sign",
    "stall_code",
    "verify_notification",
    "voice_text",
]

DEFAULT_GUID = "CN.BILLFOLD.QR"
DEFAULT_MCC = "8999"
TIMESTAMP_HEADER = "X-QR-Timestamp"
SIGNATURE_HEADER = "X-QR-Signature"
KEY_NAME = "notify_key"
MIN_KEY_BYTES = 16
_ANS25 = re.compile(r"[\x20-\x7e]{1,25}")


# -- payloads ----------------------------------------------------------------------------------


def reference_label(order_no: str) -> str:
    """Tag 62.05 for an order: its number, without the constant ``BF`` prefix when the
    number is longer than the 25 characters EMV allows (billfold's are 26)."""
    label = order_no[2:] if len(order_no) > 25 and order_no.startswith("BF") else order_no
    if not _ANS25.fullmatch(label):
        raise InvalidInput(f"order {order_no!r} does not fit tag 62.05 (25 ASCII characters)")
    return label


def _payload(
    settings: Mapping[str, Any],
    biller_code: str,
    biller_name: str,
    *,
    guid: str,
    amount_fen: int | None = None,
    additional: emv.AdditionalData | None = None,
) -> emv.EmvPayload:
    where = f"qr config of biller {biller_code}"
    merchant_id = settings.get("merchant_id")
    if not merchant_id:
        raise ConfigurationError(f"{where}: merchant_id is not set")
    for name in ("merchant_name_en", "merchant_city_en"):
        if not settings.get(name):
            raise ConfigurationError(f"{where}: settings need {name} (ASCII) for the QR code")
    city_zh = settings.get("merchant_city_zh")
    try:
        return emv.EmvPayload(
            merchant_name=str(settings["merchant_name_en"]),
            merchant_city=str(settings["merchant_city_en"]),
            merchant_category_code=str(settings.get("mcc", DEFAULT_MCC)),
            account_templates={
                "26": {"00": str(settings.get("account_guid", guid)), "01": str(merchant_id)}
            },
            initiation=emv.Initiation.STATIC if amount_fen is None else emv.Initiation.DYNAMIC,
            amount_fen=amount_fen,
            additional_data=additional,
            language=emv.MerchantLanguage(
                "ZH", biller_name.strip()[:25], str(city_zh)[:15] if city_zh else None
            ),
        )
    except InvalidInput as exc:
        raise ConfigurationError(f"{where}: {exc.message}") from None


def dynamic_payload(request: CollectRequest, bill_nos: Iterable[str], guid: str) -> str:
    """The EMV text of a dynamic code for one order."""
    bills = list(bill_nos)
    bill_no = bills[0] if len(bills) == 1 and _ANS25.fullmatch(bills[0]) else None
    additional = emv.AdditionalData(
        bill_number=bill_no, reference_label=reference_label(request.order_no)
    )
    payload = _payload(
        request.settings,
        request.biller_code,
        request.biller_name,
        guid=guid,
        amount_fen=request.amount_fen,
        additional=additional,
    )
    return emv.encode(payload)


def stall_code(engine: ChannelHost, biller_code: str, *, guid: str = DEFAULT_GUID) -> str:
    """The static code for a biller's counter sign: no amount, the payer states it."""
    biller = engine.biller(biller_code)
    configs = engine.channel_configs(biller_code)
    refusal = channel_refusal(biller_code, configs, CHANNEL)
    if refusal:
        raise ChannelRefused(refusal)
    config = next((c for c in configs if c.channel == CHANNEL), None)
    settings = {} if config is None else {"merchant_id": config.merchant_id, **config.settings}
    additional = emv.AdditionalData(store_label=biller_code[:25])
    payload = _payload(settings, biller_code, biller.name, guid=guid, additional=additional)
    return emv.encode(payload)


# -- the wire format ---------------------------------------------------------------------------


def _check_key(key: bytes, merchant_id: str) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"qr merchant {merchant_id}: the notification key is {len(key)} bytes; "
            f"at least {MIN_KEY_BYTES} are needed"
        )


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-QR-Signature`` value: ``v1=`` and the hex HMAC-SHA256 of timestamp + body."""
    digest = hmac.new(key, signed_message(timestamp, body), hashlib.sha256).hexdigest()
    return f"v1={digest}"


def _signed_by(key: bytes, merchant_id: str, timestamp: str, body: bytes, signature: str) -> bool:
    _check_key(key, merchant_id)
    expected = sign(key, timestamp, body).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def build_notification(
    key: bytes,
    *,
    merchant_id: str,
    order_no: str,
    txn_id: str,
    amount_fen: int,
    paid_at: datetime,
    sent_at: datetime,
    event: str = "payment.succeeded",
    currency: str = "CNY",
    wallet: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """A signed notification as the aggregator sends it: (headers, body)."""
    _check_key(key, merchant_id)
    content: dict[str, Any] = {
        "event": event,
        "merchant_id": merchant_id,
        "order_no": order_no,
        "txn_id": txn_id,
        "amount_fen": amount_fen,
        "currency": currency,
        "paid_at": paid_at.isoformat(),
    }
    if wallet:
        content["wallet"] = wallet
    body = encode_body(content)
    timestamp = unix_seconds(sent_at)
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(key, timestamp, body),
    }
    return headers, body


def _askable(order_no: Any) -> bool:
    """An order number worth looking up before the signature is checked (one a database
    takes as it is; anything else is refused later, by the checks that say why)."""
    return (
        isinstance(order_no, str)
        and 0 < len(order_no) <= 64
        and first_control_character(order_no) is None
    )


def verify_notification(
    headers: Mapping[str, str],
    body: bytes,
    lookup: MerchantLookup,
    now: datetime,
    freshness: timedelta = FRESHNESS,
) -> PaymentNotice:
    """Verify a notification exactly, or raise :class:`NotificationRejected` saying why."""
    timestamp = header(headers, TIMESTAMP_HEADER)
    signature = header(headers, SIGNATURE_HEADER)
    content = load_object(body)
    merchant_id = text_field(content, "merchant_id")
    # the order, its biller and the biller's current settings, in one round trip, before
    # the key is asked for: a key changed in the settings is the one verified with
    order_no = content.get("order_no")
    current = getattr(lookup, "current_owner", lookup.order_owner)  # not remembered: read now
    owner = current(str(order_no)) if _askable(order_no) else None
    key = lookup.key(merchant_id)
    if key is None:
        raise NotificationRejected(
            Reason.UNKNOWN_MERCHANT,
            f"merchant {merchant_id} is not the qr merchant of any biller "
            "(or its key could not be loaded)",
        )
    if not _signed_by(key, merchant_id, timestamp, body, signature):
        rotated = lookup.key(merchant_id, fresh=True)  # the merchant's key may have changed
        if rotated is not None and rotated != key:
            key = rotated
    if not _signed_by(key, merchant_id, timestamp, body, signature):
        raise NotificationRejected(
            Reason.BAD_SIGNATURE,
            f"{SIGNATURE_HEADER} does not match the timestamp and body signed with merchant "
            f"{merchant_id}'s key (tampered, or signed with another key)",
        )
    check_timestamp(timestamp, now, name=TIMESTAMP_HEADER, window=freshness)
    notice = read_notice(content, "txn_id")
    check_owner(CHANNEL, notice, owner)
    return notice


# -- the aggregator's API -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcquiredOrder:
    """What the aggregator's back end knows of an order."""

    order_no: str
    merchant_id: str
    amount_fen: int
    state: RemoteState
    txn_id: str | None = None
    paid_fen: int = 0
    paid_at: datetime | None = None


class QrAcquirer(Protocol):
    """The aggregator's back end (:class:`~billfold.testing.sandbox.qr.SandboxAcquirer` in
    tests and the demo)."""

    def create(self, merchant_id: str, order_no: str, amount_fen: int) -> None: ...

    def query(self, order_no: str) -> AcquiredOrder | None: ...

    def refund(self, order_no: str, refund_no: str, amount_fen: int) -> RefundAnswer: ...

    def close(self, order_no: str) -> bool: ...


# -- the channel -------------------------------------------------------------------------------


def voice_text(amount_fen: int) -> str:
    """What the stall's speaker says: ``收款 12.34 元``."""
    return f"收款 {format_yuan(amount_fen)} 元"


class QrChannel:
    """The aggregator as a :class:`~billfold.channels.base.Channel`."""

    def __init__(
        self,
        acquirer: QrAcquirer,
        merchants: MerchantLookup,
        clock: Clock,
        *,
        guid: str = DEFAULT_GUID,
        bank_app_markers: Iterable[str] = (),
        render: bool = True,
        freshness: timedelta = FRESHNESS,
    ) -> None:
        self.acquirer = acquirer
        self.merchants = merchants
        self.clock = clock
        self.guid = guid
        self.router = WalletRouter(bank_app_markers)
        self.render = render
        self.freshness = freshness

    @classmethod
    def for_engine(
        cls,
        engine: ChannelHost,
        acquirer: QrAcquirer,
        secrets: Secrets | None = None,
        **options: Any,
    ) -> QrChannel:
        """The channel for ``engine``'s billers, their keys read through ``secrets`` (default:
        the environment and files)."""
        merchants = SettingsMerchants(engine, CHANNEL, KEY_NAME, secrets)
        return cls(acquirer, merchants, engine.clock, **options)

    @property
    def name(self) -> str:
        return CHANNEL

    def start(self, request: CollectRequest) -> CollectStart:
        owner = self.merchants.order_owner(request.order_no)
        payload = dynamic_payload(request, owner.bill_nos if owner else (), self.guid)
        merchant_id = str(request.settings["merchant_id"])
        self.acquirer.create(merchant_id, request.order_no, request.amount_fen)
        data: dict[str, Any] = {
            "payload": payload,
            "amount_fen": request.amount_fen,
            "amount": format_yuan(request.amount_fen),
            "merchant_id": merchant_id,
            "reference": reference_label(request.order_no),
            "expires_at": request.expires_at.isoformat(),
        }
        if self.render:
            data["png_base64"] = base64.b64encode(render_png(payload)).decode("ascii")
            data["svg"] = render_svg(payload)
        return CollectStart(CHANNEL, request.order_no, "scan_qr", data)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelEvent:
        notice = verify_notification(
            headers, body, self.merchants, self.clock.now(), self.freshness
        )
        return notice.event(CHANNEL)

    def query(self, order_no: str) -> StatusAnswer:
        remote = self.acquirer.query(order_no)
        if remote is None:
            return StatusAnswer(RemoteState.NOT_FOUND)
        if remote.state is RemoteState.PAID and remote.txn_id and remote.paid_at:
            event = ChannelEvent(
                CHANNEL, EventKind.PAID, order_no, remote.txn_id, remote.paid_fen, remote.paid_at
            )
            return StatusAnswer(RemoteState.PAID, event)
        return StatusAnswer(remote.state)

    def refund(
        self, refund_no: str, order_no: str, channel_txn_id: str, amount_fen: int, total_fen: int
    ) -> RefundAnswer:
        if amount_fen > total_fen:
            return RefundAnswer(
                False, decline=Decline.REJECTED, message="refund is more than was paid"
            )
        return self.acquirer.refund(order_no, refund_no, amount_fen)

    def close(self, order_no: str) -> bool:
        return self.acquirer.close(order_no)

    def reply(self, accepted: bool, message: str = "") -> NotificationReply:
        return json_reply(accepted, message)

    def on_credit(self, event: ChannelEvent) -> list[tuple[str, dict[str, Any]]]:
        """The voice broadcast for the stall's speaker, written only if the payment credits."""
        if event.kind is not EventKind.PAID:
            return []
        owner = self.merchants.order_owner(event.order_no)
        payload = {
            "text": voice_text(event.amount_fen),
            "amount_fen": event.amount_fen,
            "order_no": event.order_no,
            "merchant_id": owner.merchant_id if owner else None,
            "channel_txn_id": event.channel_txn_id,
        }
        return [("voice.broadcast", payload)]

    def route(self, user_agent: str | None) -> ScanRoute:
        return route_with(self.router, user_agent)
