"""The QR channel without a database: payloads, the aggregator's wire format, routing."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.channels import emv
from billfold.channels.base import ChannelEvent, CollectRequest, EventKind, RemoteState
from billfold.channels.qr import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Flow,
    QrChannel,
    build_notification,
    reference_label,
    route,
    sign,
    voice_text,
)
from billfold.channels.signed_json import OrderOwner
from billfold.channels.verification import NotificationRejected
from billfold.channels.wallet_routing import Wallet
from billfold.clock import FixedClock
from billfold.errors import ConfigurationError, InvalidInput
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.qr import SandboxAcquirer

NOW = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
KEY = b"stall-1-notify-key-0123456789abcd"
OTHER_KEY = b"stall-2-notify-key-0123456789abcd"
ORDER = "BF20260901020000A1B2C3D4E5"
SETTINGS = {
    "merchant_id": "M100001",
    "merchant_name_en": "LIU FRUIT STALL",
    "merchant_city_en": "HANGZHOU",
    "mcc": "5411",
    "merchant_city_zh": "杭州",
}


@dataclass
class FakeDirectory:
    """Merchant keys and order owners held in dicts; ``stored`` is what a reload would find."""

    keys: dict[str, bytes] = field(default_factory=dict)
    owners: dict[str, OrderOwner] = field(default_factory=dict)
    stored: dict[str, bytes] = field(default_factory=dict)
    reloads: int = 0

    def key(self, merchant_id: str, *, fresh: bool = False) -> bytes | None:
        if fresh:
            self.reloads += 1
            self.keys.update(self.stored)
        return self.keys.get(merchant_id)

    def order_owner(self, order_no: str) -> OrderOwner | None:
        return self.owners.get(order_no)


def owner(order_no: str = ORDER, merchant: str | None = "M100001", bills: int = 1) -> OrderOwner:
    bill_nos = tuple(f"T{n}" for n in range(1, bills + 1))
    return OrderOwner(order_no, "stall1", merchant, bill_nos)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def gateway(clock: FixedClock) -> SandboxGateway:
    return SandboxGateway(clock, Chaos.calm())


@pytest.fixture
def directory() -> FakeDirectory:
    return FakeDirectory(
        keys={"M100001": KEY, "M100002": OTHER_KEY},
        owners={ORDER: owner()},
    )


@pytest.fixture
def channel(gateway: SandboxGateway, directory: FakeDirectory, clock: FixedClock) -> QrChannel:
    acquirer = SandboxAcquirer(gateway, {"M100001": KEY, "M100002": OTHER_KEY})
    return QrChannel(acquirer, directory, clock, bank_app_markers=["ICBCiPhone"])


def request(amount_fen: int = 1234, **settings: str) -> CollectRequest:
    return CollectRequest(
        order_no=ORDER,
        biller_code="stall1",
        biller_name="刘记水果摊",
        amount_fen=amount_fen,
        expires_at=NOW + timedelta(minutes=30),
        settings={**SETTINGS, **settings},
    )


def notification(
    key: bytes = KEY,
    *,
    merchant_id: str = "M100001",
    order_no: str = ORDER,
    amount_fen: int = 1234,
    sent_at: datetime = NOW,
) -> tuple[dict[str, str], bytes]:
    return build_notification(
        key,
        merchant_id=merchant_id,
        order_no=order_no,
        txn_id="QR2026090100000001",
        amount_fen=amount_fen,
        paid_at=NOW - timedelta(seconds=3),
        sent_at=sent_at,
    )


def resigned(body: bytes, key: bytes = KEY, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(NOW.timestamp()))
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(key, stamp, body)}


def rejection(channel: QrChannel, headers: dict[str, str], body: bytes) -> NotificationRejected:
    with pytest.raises(NotificationRejected) as caught:
        channel.parse_notification(headers, body)
    return caught.value


# -- codes ---------------------------------------------------------------------------------------


def test_start_returns_a_dynamic_payload_for_the_order(channel: QrChannel) -> None:
    start = channel.start(request())
    assert (start.channel, start.action, start.data["amount"]) == ("qr", "scan_qr", "12.34")
    payload = emv.decode(start.data["payload"])
    assert payload.initiation is emv.Initiation.DYNAMIC
    assert payload.amount_fen == 1234
    assert payload.account_templates["26"] == {"00": "CN.BILLFOLD.QR", "01": "M100001"}
    assert (payload.merchant_name, payload.merchant_city) == ("LIU FRUIT STALL", "HANGZHOU")
    assert payload.merchant_category_code == "5411"
    assert payload.additional_data == emv.AdditionalData(
        bill_number="T1", reference_label="20260901020000A1B2C3D4E5"
    )
    assert payload.language == emv.MerchantLanguage("ZH", "刘记水果摊", "杭州")


def test_start_renders_the_code_as_png_and_svg(channel: QrChannel) -> None:
    data = channel.start(request()).data
    assert base64.b64decode(data["png_base64"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<svg" in data["svg"] and "</svg>" in data["svg"]


def test_start_opens_the_order_at_the_aggregator(
    channel: QrChannel, gateway: SandboxGateway
) -> None:
    channel.start(request(amount_fen=500))
    remote = gateway.query("qr", ORDER)
    assert remote is not None and remote.amount_fen == 500
    assert remote.state is RemoteState.PENDING


def test_a_code_for_several_bills_carries_no_bill_number(
    channel: QrChannel, directory: FakeDirectory
) -> None:
    directory.owners[ORDER] = owner(bills=2)
    payload = emv.decode(channel.start(request()).data["payload"])
    assert payload.additional_data is not None
    assert payload.additional_data.bill_number is None
    assert payload.additional_data.reference_label == "20260901020000A1B2C3D4E5"


def test_a_biller_without_an_english_name_setting_cannot_get_a_code(channel: QrChannel) -> None:
    with pytest.raises(ConfigurationError) as caught:
        channel.start(request(merchant_name_en=""))
    assert caught.value.message == (
        "qr config of biller stall1: settings need merchant_name_en (ASCII) for the QR code"
    )


def test_a_chinese_english_name_setting_is_a_configuration_error(channel: QrChannel) -> None:
    with pytest.raises(ConfigurationError) as caught:
        channel.start(request(merchant_name_en="刘记"))
    assert caught.value.message.startswith(
        "qr config of biller stall1: tag 59 (merchant name): '刘记' must use the EMV common"
    )


def test_reference_labels_fit_the_25_characters_of_tag_62_05() -> None:
    assert reference_label("BF20260901020000A1B2C3D4E5") == "20260901020000A1B2C3D4E5"
    assert reference_label("ORDER-1") == "ORDER-1"
    with pytest.raises(InvalidInput) as caught:
        reference_label("X" * 26)
    assert (
        caught.value.message == f"order {'X' * 26!r} does not fit tag 62.05 (25 ASCII characters)"
    )


# -- notifications -------------------------------------------------------------------------------


def test_a_signed_notification_becomes_a_paid_event(channel: QrChannel) -> None:
    event = channel.parse_notification(*notification())
    assert event == ChannelEvent(
        channel="qr",
        kind=EventKind.PAID,
        order_no=ORDER,
        channel_txn_id="QR2026090100000001",
        amount_fen=1234,
        occurred_at=NOW - timedelta(seconds=3),
    )


def test_the_wire_format_is_json_signed_over_timestamp_and_body() -> None:
    headers, body = notification()
    assert headers[TIMESTAMP_HEADER] == "1788228000"
    assert json.loads(body) == {
        "event": "payment.succeeded",
        "merchant_id": "M100001",
        "order_no": ORDER,
        "txn_id": "QR2026090100000001",
        "amount_fen": 1234,
        "currency": "CNY",
        "paid_at": "2026-09-01T01:59:57+00:00",
    }
    assert headers[SIGNATURE_HEADER] == sign(KEY, "1788228000", body)
    assert headers[SIGNATURE_HEADER].startswith("v1=") and len(headers[SIGNATURE_HEADER]) == 67


@given(
    amount=st.integers(min_value=1, max_value=10**12),
    txn=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=64),
    order=st.text("BF0123456789ABCDEF", min_size=1, max_size=32),
    age=st.integers(min_value=-300, max_value=300),
)
def test_every_notification_the_aggregator_signs_is_read_back_unchanged(
    amount: int, txn: str, order: str, age: int
) -> None:
    clock = FixedClock(NOW)
    channel = QrChannel(
        SandboxAcquirer(SandboxGateway(clock), {}), FakeDirectory({"M1": KEY}), clock
    )
    headers, body = build_notification(
        KEY,
        merchant_id="M1",
        order_no=order,
        txn_id=txn,
        amount_fen=amount,
        paid_at=NOW,
        sent_at=NOW - timedelta(seconds=age),
    )
    event = channel.parse_notification(headers, body)
    assert (event.order_no, event.channel_txn_id, event.amount_fen) == (order, txn, amount)


def test_headers_are_found_whatever_their_case(channel: QrChannel) -> None:
    headers, body = notification()
    lower = {key.lower(): value for key, value in headers.items()}
    assert channel.parse_notification(lower, body).amount_fen == 1234


def test_a_tampered_body_is_rejected(channel: QrChannel) -> None:
    headers, body = notification()
    tampered = body.replace(b'"amount_fen":1234', b'"amount_fen":1')
    error = rejection(channel, headers, tampered)
    assert error.reason == "bad_signature"
    assert error.message == (
        "X-QR-Signature does not match the timestamp and body signed with merchant M100001's "
        "key (tampered, or signed with another key)"
    )


def test_a_notification_signed_with_another_key_is_rejected(
    channel: QrChannel, directory: FakeDirectory
) -> None:
    error = rejection(channel, *notification(OTHER_KEY))
    assert error.reason == "bad_signature"
    assert directory.reloads == 1  # the merchant's settings were read again, in vain


def test_a_rotated_merchant_key_is_picked_up_without_a_restart(
    channel: QrChannel, directory: FakeDirectory
) -> None:
    new_key = b"stall-1-rotated-key-0123456789abc"
    directory.stored["M100001"] = new_key
    assert channel.parse_notification(*notification(new_key)).amount_fen == 1234
    assert channel.parse_notification(*notification(new_key)).amount_fen == 1234
    assert directory.reloads == 1


def test_a_changed_timestamp_breaks_the_signature(channel: QrChannel) -> None:
    headers, body = notification()
    headers[TIMESTAMP_HEADER] = str(int(headers[TIMESTAMP_HEADER]) + 1)
    assert rejection(channel, headers, body).reason == "bad_signature"


def test_a_signature_without_its_version_is_rejected(channel: QrChannel) -> None:
    headers, body = notification()
    headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER].removeprefix("v1=")
    assert rejection(channel, headers, body).reason == "bad_signature"


def test_a_notification_older_than_five_minutes_is_rejected(channel: QrChannel) -> None:
    error = rejection(channel, *notification(sent_at=NOW - timedelta(minutes=5, seconds=1)))
    assert error.reason == "stale_timestamp"
    assert error.message == (
        "header X-QR-Timestamp 1788227699 is 301 s old; notifications older than 300 s are refused"
    )


def test_a_notification_from_more_than_five_minutes_ahead_is_rejected(channel: QrChannel) -> None:
    error = rejection(channel, *notification(sent_at=NOW + timedelta(minutes=6)))
    assert error.reason == "stale_timestamp"
    assert error.message == (
        "header X-QR-Timestamp 1788228360 is 360 s ahead of our clock; at most 300 s is allowed"
    )


def test_a_notification_exactly_five_minutes_old_is_accepted(channel: QrChannel) -> None:
    headers, body = notification(sent_at=NOW - timedelta(minutes=5))
    assert channel.parse_notification(headers, body).amount_fen == 1234


def test_a_timestamp_that_is_not_unix_seconds_is_rejected(channel: QrChannel) -> None:
    _, body = notification()
    error = rejection(channel, resigned(body, timestamp="2026-09-01T02:00:00Z"), body)
    assert error.reason == "bad_timestamp"
    assert error.message == (
        "header X-QR-Timestamp '2026-09-01T02:00:00Z' is not a Unix time in seconds"
    )


def test_a_missing_signature_header_is_rejected(channel: QrChannel) -> None:
    headers, body = notification()
    del headers[SIGNATURE_HEADER]
    error = rejection(channel, headers, body)
    assert (error.reason, error.message) == (
        "missing_header",
        "header X-QR-Signature is missing or empty",
    )


def test_a_merchant_without_a_key_is_rejected(channel: QrChannel) -> None:
    error = rejection(channel, *notification(merchant_id="M999999"))
    assert (error.reason, error.message) == (
        "unknown_merchant",
        "merchant M999999 is not the qr merchant of any biller (or its key could not be loaded)",
    )


def test_a_notification_for_another_merchants_order_is_rejected(channel: QrChannel) -> None:
    error = rejection(channel, *notification(OTHER_KEY, merchant_id="M100002"))
    assert (error.reason, error.message) == (
        "merchant_mismatch",
        f"order {ORDER} belongs to biller stall1 (M100001), not to merchant M100002",
    )


def test_a_notification_for_an_unknown_order_passes_to_the_core(channel: QrChannel) -> None:
    event = channel.parse_notification(*notification(order_no="BF-NOBODY-KNOWS"))
    assert event.order_no == "BF-NOBODY-KNOWS"


def test_a_body_that_is_not_json_is_rejected(channel: QrChannel) -> None:
    error = rejection(channel, resigned(b"amount=12.34"), b"amount=12.34")
    assert error.reason == "bad_body"
    assert error.message.startswith("body is not UTF-8 JSON: ")


@pytest.mark.parametrize(
    ("field_name", "value", "message"),
    [
        (
            "amount_fen",
            "12.34",
            "body field amount_fen must be a positive integer of fen, got '12.34'",
        ),
        ("amount_fen", 12.34, "body field amount_fen must be a positive integer of fen, got 12.34"),
        ("amount_fen", 0, "body field amount_fen must be a positive integer of fen, got 0"),
        ("txn_id", "", "body field txn_id must be a non-empty string"),
        (
            "paid_at",
            "2026-09-01 10:00:00",
            "body field paid_at '2026-09-01 10:00:00' must be ISO 8601 with a UTC offset, "
            "e.g. 2026-09-01T10:00:05+08:00",
        ),
    ],
)
def test_a_signed_body_with_a_bad_field_is_rejected(
    channel: QrChannel, field_name: str, value: object, message: str
) -> None:
    content = json.loads(notification()[1])
    content[field_name] = value
    body = json.dumps(content).encode()
    error = rejection(channel, resigned(body), body)
    assert (error.reason, error.message) == ("bad_body", message)


def test_an_unknown_event_is_rejected(channel: QrChannel) -> None:
    content = json.loads(notification()[1]) | {"event": "payment.reversed"}
    body = json.dumps(content).encode()
    error = rejection(channel, resigned(body), body)
    assert (error.reason, error.message) == (
        "unsupported_event",
        "event 'payment.reversed' is not one of order.closed, payment.failed, payment.succeeded",
    )


def test_a_failed_payment_notice_becomes_a_failed_event(channel: QrChannel) -> None:
    content = json.loads(notification()[1]) | {"event": "payment.failed"}
    body = json.dumps(content).encode()
    assert channel.parse_notification(resigned(body), body).kind is EventKind.FAILED


def test_a_short_merchant_key_is_a_configuration_error(
    channel: QrChannel, directory: FakeDirectory
) -> None:
    directory.keys["M100001"] = b"short"
    with pytest.raises(ConfigurationError) as caught:
        channel.parse_notification(*notification())
    assert caught.value.message == (
        "qr merchant M100001: the notification key is 5 bytes; at least 16 are needed"
    )


def test_the_aggregator_is_answered_in_its_json(channel: QrChannel) -> None:
    ok, bad = channel.reply(True), channel.reply(False, "stale_timestamp: too old")
    assert (ok.status_code, ok.content_type, ok.body) == (
        200,
        "application/json",
        b'{"code":"SUCCESS"}',
    )
    assert bad.status_code == 400
    assert json.loads(bad.body) == {"code": "FAIL", "message": "stale_timestamp: too old"}


# -- voice broadcast -----------------------------------------------------------------------------


def test_a_credit_is_announced_on_the_stalls_speaker(channel: QrChannel) -> None:
    event = channel.parse_notification(*notification())
    assert channel.on_credit(event) == [
        (
            "voice.broadcast",
            {
                "text": "收款 12.34 元",
                "amount_fen": 1234,
                "order_no": ORDER,
                "merchant_id": "M100001",
                "channel_txn_id": "QR2026090100000001",
            },
        )
    ]


def test_only_payments_are_announced(channel: QrChannel) -> None:
    paid = channel.parse_notification(*notification())
    closed = ChannelEvent("qr", EventKind.CLOSED, ORDER, "X", 1234, NOW)
    assert channel.on_credit(closed) == [] and channel.on_credit(paid) != []


@pytest.mark.parametrize(("fen", "text"), [(1, "收款 0.01 元"), (100, "收款 1.00 元")])
def test_the_spoken_text_says_the_amount_in_yuan(fen: int, text: str) -> None:
    assert voice_text(fen) == text


# -- the aggregator's other verbs ----------------------------------------------------------------


def test_query_reports_what_the_aggregator_knows(
    channel: QrChannel, gateway: SandboxGateway
) -> None:
    assert channel.query(ORDER).state is RemoteState.NOT_FOUND
    channel.start(request())
    assert channel.query(ORDER).state is RemoteState.PENDING
    remote = gateway.pay("qr", ORDER)
    answer = channel.query(ORDER)
    assert answer.state is RemoteState.PAID and answer.event is not None
    assert (answer.event.channel_txn_id, answer.event.amount_fen) == (remote.txn_id, 1234)


def test_refunds_are_declined_as_values_beyond_what_was_paid(
    channel: QrChannel, gateway: SandboxGateway
) -> None:
    channel.start(request())
    remote = gateway.pay("qr", ORDER)
    assert remote.txn_id is not None
    first = channel.refund("RF1", ORDER, remote.txn_id, 1000, 1234)
    again = channel.refund("RF2", ORDER, remote.txn_id, 235, 1234)
    assert first.accepted and first.channel_refund_id
    assert not again.accepted and again.decline is not None


def test_an_unpaid_order_can_be_closed_but_a_paid_one_cannot(
    channel: QrChannel, gateway: SandboxGateway
) -> None:
    channel.start(request())
    assert channel.close(ORDER) is True
    assert channel.query(ORDER).state is RemoteState.CLOSED
    assert channel.close("BF-NEVER-OPENED") is False


# -- routing -------------------------------------------------------------------------------------

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42(0x18002a2a) NetType/WIFI"
)
ALIPAY_UA = "Mozilla/5.0 (Linux; Android 13) AlipayClient/10.5.36.8000 Language/zh-Hans"
UNIONPAY_UA = "Mozilla/5.0 (iPhone) UnionPay/1.0 CloudPay"
BANK_UA = "Mozilla/5.0 (iPhone) ICBCiPhoneBSNew 9.2.0"


@pytest.mark.parametrize(
    ("user_agent", "wallet", "flow"),
    [
        (WECHAT_UA, Wallet.WECHAT, Flow.WECHAT),
        (ALIPAY_UA, Wallet.ALIPAY, Flow.ALIPAY),
        (UNIONPAY_UA, Wallet.UNIONPAY, Flow.UNIONPAY),
        (BANK_UA, Wallet.BANK_APP, Flow.BANK_APP),
    ],
)
def test_a_scan_is_routed_to_the_scanning_wallets_flow(
    channel: QrChannel, user_agent: str, wallet: Wallet, flow: Flow
) -> None:
    found = channel.route(user_agent)
    assert (found.wallet, found.flow, found.options) == (wallet, flow, ())


@pytest.mark.parametrize("user_agent", [None, "", "Mozilla/5.0 (Windows NT 10.0) Chrome/120"])
def test_an_unknown_scanner_gets_a_page_listing_the_options(user_agent: str | None) -> None:
    found = route(user_agent)
    assert (found.wallet, found.flow) == (Wallet.UNKNOWN, Flow.CHOOSE)
    assert found.options == (Flow.WECHAT, Flow.ALIPAY, Flow.UNIONPAY, Flow.BANK_APP)


def test_a_bank_app_is_only_recognised_by_the_deployments_markers() -> None:
    assert route(BANK_UA).flow is Flow.CHOOSE
    assert route(BANK_UA, ["ICBCiPhone"]).flow is Flow.BANK_APP
