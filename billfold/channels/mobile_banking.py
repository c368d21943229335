"""Mobile banking bill pay (掌银缴费): the bank's app looks bills up, then pays them.

**Fetch** (:mod:`billfold.channels.mobile_banking_lookup`) — :func:`lookup` answers the
bank's "what does 2024001 owe?" by any identifier (户号, 学号, decision number, contract
number): the payable bills of billers that take this channel, with the late fee computed now
and the payer's name masked. An identifier nobody knows is an answer, not an error.

**Pay** — :func:`pay` is the bank's "I am about to debit 488.00 for these bills, my
transaction T": it creates the order (once per bank transaction) and sends it to the channel.
The bank debits the payer and confirms with a signed message, which reaches the core like any
channel notification: ``Collector.notify("mobile_banking", headers, body)`` →
:meth:`MobileBankingChannel.parse_notification` → ``engine.confirm``. Declines are values.

**The bank's confirmation** (wire format): the JSON body of
:mod:`billfold.channels.signed_json` with the transaction id in ``bank_txn_id``; headers
``X-Bank-Timestamp`` (Unix seconds, at most 5 minutes from our clock) and
``X-Bank-Signature``: base64 SHA256withRSA (PKCS#1 v1.5) over timestamp + "\\n" + body, by
the bank's private key. The public key comes from the biller's channel config:
``bank_public_key_env`` or ``bank_public_key_file`` (PEM). The config's ``merchant_id`` is the
biller's id at the bank; the optional ``app_link`` setting (e.g.
``bankapp://billpay?order={order_no}&amount={amount}``) is a link into the bank's app.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

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
from billfold.channels.collect import ChannelRefused, Collector
from billfold.channels.mobile_banking_lookup import (
    CHANNEL,
    LookupAnswer,
    LookupCode,
    PayableBill,
    bank_refusal,
    lookup,
)
from billfold.channels.ports import ChannelHost
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
from billfold.channels.verification import (
    NotificationRejected,
    decode_base64_signature,
    load_public_key,
    rsa_sha256_sign,
    rsa_sha256_verify,
)
from billfold.clock import Clock
from billfold.collection.order import Order
from billfold.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    InvalidTransition,
    LimitExceeded,
    NotFound,
)
from billfold.money import format_yuan

__all__ = [
    "CHANNEL",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "BankApi",
    "BankOrder",
    "LookupAnswer",
    "LookupCode",
    "MobileBankingChannel",
    "PayAnswer",
    "PayCode",
    "PayableBill",
    "build_confirmation",
    "lookup",
    "pay",
    "verify_confirmation",
]

TIMESTAMP_HEADER = "X-Bank-Timestamp"
SIGNATURE_HEADER = "X-Bank-Signature"
KEY_NAME = "bank_public_key"
_BANK_TXN = re.compile(r"[A-Za-z0-9_.-]{1,48}")


# -- pay ---------------------------------------------------------------------------------------


class PayCode(StrEnum):
    ACCEPTED = "accepted"  # the order is open for this debit: debit, then confirm
    PAID = "paid"  # this bank transaction's order is already paid
    NOT_FOUND = "not_found"  # no such biller or bill
    INVALID = "invalid"  # the amount or the bills cannot be paid like this
    REFUSED = "refused"  # the biller does not take this channel, is suspended, over a limit
    CONFLICT = "conflict"  # the bank transaction id was used for something else


@dataclass(frozen=True, slots=True)
class PayAnswer:
    code: PayCode
    message: str
    order_no: str | None = None
    amount_fen: int = 0
    expires_at: datetime | None = None

    @property
    def accepted(self) -> bool:
        return self.code is PayCode.ACCEPTED


def pay(
    collector: Collector,
    biller_code: str,
    bill_nos: Iterable[str],
    bank_txn_id: str,
    amount_fen: int,
) -> PayAnswer:
    """The bank asks to pay ``bill_nos`` with ``amount_fen`` as its transaction
    ``bank_txn_id``. Repeating the call with the same transaction answers the same order."""
    wanted = list(bill_nos)
    invalid = _invalid_request(bank_txn_id, amount_fen)
    if invalid is not None:
        return invalid
    try:
        refusal = bank_refusal(collector.engine, biller_code)
        if refusal:
            return PayAnswer(PayCode.REFUSED, refusal)
        order = collector.engine.create_order(
            biller_code, wanted, amount_fen=amount_fen, idempotency_key=f"{CHANNEL}:{bank_txn_id}"
        )
    except NotFound as exc:
        return PayAnswer(PayCode.NOT_FOUND, exc.message)
    except InvalidInput as exc:
        return PayAnswer(PayCode.INVALID, exc.message)
    except (LimitExceeded, Conflict) as exc:
        return PayAnswer(PayCode.REFUSED, exc.message)
    earlier = _answered_before(order, wanted, bank_txn_id, amount_fen)
    if earlier is not None:
        return earlier
    try:
        collector.start(order.order_no, CHANNEL, payer_ref=bank_txn_id)
    except ChannelRefused as exc:
        return PayAnswer(PayCode.REFUSED, exc.message)
    except InvalidTransition as exc:
        return PayAnswer(PayCode.CONFLICT, exc.message, order.order_no)
    return PayAnswer(
        PayCode.ACCEPTED,
        f"debit {format_yuan(order.total_fen)} and send the confirmation",
        order.order_no,
        order.total_fen,
        order.expires_at,
    )


def _invalid_request(bank_txn_id: str, amount_fen: int) -> PayAnswer | None:
    if not isinstance(bank_txn_id, str) or not _BANK_TXN.fullmatch(bank_txn_id):
        return PayAnswer(
            PayCode.INVALID, "bank_txn_id: 1-48 letters, digits, '.', '-' or '_' required"
        )
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        return PayAnswer(PayCode.INVALID, f"amount: must be positive integer fen, got {amount_fen}")
    return None


def _answered_before(
    order: Order, wanted: list[str], bank_txn_id: str, amount_fen: int
) -> PayAnswer | None:
    """The answer when the bank transaction already has its order: used for other bills or
    another amount (a conflict), or that order is no longer payable (paid, or a conflict)."""
    paid_bills = sorted({line.bill_no for line in order.lines})
    if order.total_fen != amount_fen or paid_bills != sorted(set(wanted)):
        return PayAnswer(
            PayCode.CONFLICT,
            f"bank transaction {bank_txn_id} was used before for order {order.order_no} "
            f"({', '.join(paid_bills)}, {format_yuan(order.total_fen)})",
            order.order_no,
        )
    if not order.payable:
        code = PayCode.PAID if order.payment_id is not None else PayCode.CONFLICT
        return PayAnswer(
            code,
            f"order {order.order_no} of bank transaction {bank_txn_id} is {order.status.value}",
            order.order_no,
            order.total_fen,
        )
    return None


# -- the bank's confirmation -----------------------------------------------------------------


def build_confirmation(
    private_key: rsa.RSAPrivateKey,
    *,
    merchant_id: str,
    order_no: str,
    bank_txn_id: str,
    amount_fen: int,
    paid_at: datetime,
    sent_at: datetime,
    event: str = "payment.succeeded",
    currency: str = "CNY",
) -> tuple[dict[str, str], bytes]:
    """The bank's signed confirmation: (headers, body)."""
    body = encode_body(
        {
            "event": event,
            "merchant_id": merchant_id,
            "order_no": order_no,
            "bank_txn_id": bank_txn_id,
            "amount_fen": amount_fen,
            "currency": currency,
            "paid_at": paid_at.isoformat(),
        }
    )
    timestamp = unix_seconds(sent_at)
    signature = rsa_sha256_sign(signed_message(timestamp, body), private_key)
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature,
    }
    return headers, body


def verify_confirmation(
    headers: Mapping[str, str],
    body: bytes,
    lookup: MerchantLookup,
    now: datetime,
    freshness: timedelta = FRESHNESS,
) -> PaymentNotice:
    """Verify the bank's confirmation exactly, or raise :class:`NotificationRejected`."""
    timestamp = header(headers, TIMESTAMP_HEADER)
    signature_text = header(headers, SIGNATURE_HEADER)
    merchant_id = text_field(load_object(body), "merchant_id")
    pem = lookup.key(merchant_id)
    if pem is None:
        raise NotificationRejected(
            Reason.UNKNOWN_MERCHANT,
            f"merchant {merchant_id} is not the mobile banking merchant of any biller "
            "(or its key could not be loaded)",
        )
    signature = decode_base64_signature(signature_text)
    if signature is None:
        raise NotificationRejected(Reason.BAD_SIGNATURE, f"{SIGNATURE_HEADER} is not base64")
    message = signed_message(timestamp, body)
    if not rsa_sha256_verify(message, signature, load_public_key(pem)):
        rotated = lookup.key(merchant_id, fresh=True)  # the bank's key may have changed
        if rotated is not None and rotated != pem:
            pem = rotated
    if not rsa_sha256_verify(message, signature, load_public_key(pem)):
        raise NotificationRejected(
            Reason.BAD_SIGNATURE,
            f"{SIGNATURE_HEADER} does not verify with the bank key of merchant {merchant_id} "
            "(tampered, or signed with another key)",
        )
    check_timestamp(timestamp, now, name=TIMESTAMP_HEADER, window=freshness)
    notice = read_notice(load_object(body), "bank_txn_id")
    check_owner(CHANNEL, notice, lookup.order_owner(notice.order_no))
    return notice


# -- the bank's API -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BankOrder:
    order_no: str
    merchant_id: str
    amount_fen: int
    state: RemoteState
    bank_txn_id: str | None = None
    paid_fen: int = 0
    paid_at: datetime | None = None


class BankApi(Protocol):
    """The bank's side (:class:`~billfold.testing.sandbox.mobile_banking.SandboxBank` in
    tests and the demo)."""

    def open(
        self, merchant_id: str, order_no: str, amount_fen: int, bank_txn_id: str | None
    ) -> None: ...

    def query(self, order_no: str) -> BankOrder | None: ...

    def refund(self, order_no: str, refund_no: str, amount_fen: int) -> RefundAnswer: ...

    def close(self, order_no: str) -> bool: ...


# -- the channel -------------------------------------------------------------------------------


class MobileBankingChannel:
    """The bank's bill pay as a :class:`~billfold.channels.base.Channel`."""

    def __init__(
        self,
        bank: BankApi,
        merchants: MerchantLookup,
        clock: Clock,
        *,
        freshness: timedelta = FRESHNESS,
    ) -> None:
        self.bank = bank
        self.merchants = merchants
        self.clock = clock
        self.freshness = freshness

    @classmethod
    def for_engine(
        cls, engine: ChannelHost, bank: BankApi, secrets: Secrets | None = None, **options: Any
    ) -> MobileBankingChannel:
        """The channel for ``engine``'s billers, the bank's public keys read through
        ``secrets`` (default: the environment and files)."""
        merchants = SettingsMerchants(engine, CHANNEL, KEY_NAME, secrets)
        return cls(bank, merchants, engine.clock, **options)

    @property
    def name(self) -> str:
        return CHANNEL

    def start(self, request: CollectRequest) -> CollectStart:
        merchant_id = request.settings.get("merchant_id")
        if not merchant_id:
            raise ConfigurationError(
                f"mobile_banking config of biller {request.biller_code}: merchant_id is not set"
            )
        self.bank.open(str(merchant_id), request.order_no, request.amount_fen, request.payer_ref)
        data: dict[str, Any] = {
            "order_no": request.order_no,
            "merchant_id": merchant_id,
            "amount_fen": request.amount_fen,
            "amount": format_yuan(request.amount_fen),
            "expires_at": request.expires_at.isoformat(),
            "bank_txn_id": request.payer_ref,
        }
        template = request.settings.get("app_link")
        if template:
            try:
                data["link"] = str(template).format(
                    order_no=request.order_no, amount=data["amount"], merchant_id=merchant_id
                )
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigurationError(
                    f"mobile_banking config of biller {request.biller_code}: app_link "
                    f"{template!r} may only use {{order_no}}, {{amount}}, {{merchant_id}}: {exc}"
                ) from None
        return CollectStart(CHANNEL, request.order_no, "open_bank_app", data)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelEvent:
        notice = verify_confirmation(
            headers, body, self.merchants, self.clock.now(), self.freshness
        )
        return notice.event(CHANNEL)

    def query(self, order_no: str) -> StatusAnswer:
        remote = self.bank.query(order_no)
        if remote is None:
            return StatusAnswer(RemoteState.NOT_FOUND)
        if remote.state is RemoteState.PAID and remote.bank_txn_id and remote.paid_at:
            event = ChannelEvent(
                CHANNEL,
                EventKind.PAID,
                order_no,
                remote.bank_txn_id,
                remote.paid_fen,
                remote.paid_at,
            )
            return StatusAnswer(RemoteState.PAID, event)
        return StatusAnswer(remote.state)

    def refund(
        self, refund_no: str, order_no: str, channel_txn_id: str, amount_fen: int, total_fen: int
    ) -> RefundAnswer:
        return self.bank.refund(order_no, refund_no, amount_fen)

    def close(self, order_no: str) -> bool:
        return self.bank.close(order_no)

    def reply(self, accepted: bool, message: str = "") -> NotificationReply:
        return json_reply(accepted, message)
