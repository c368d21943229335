from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billfold.channels.wechatpay_v3 import (
    Mismatch,
    NotificationRejected,
    WechatPayReason,
    certificate_serial,
    check_transaction,
    decrypt_resource,
    load_private_key,
    load_public_key,
    mini_program_pay_params,
    verify_notification,
)
from billfold.errors import ConfigurationError, InvalidInput, SignatureInvalid
from billfold.testing.wechatpay_v3 import encrypt_resource, sign_body, sign_notification

API_V3_KEY = "billfold-apiv3-key-0123456789abc"  # 32 bytes
SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
SIGNED_AT = datetime(2024, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NONCE = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"

TRANSACTION: dict[str, Any] = {
    "appid": "wxd678efh567hg6787",
    "mchid": "1230000109",
    "out_trade_no": "B20240105000001",
    "transaction_id": "4200002024010512345678901234",
    "trade_type": "JSAPI",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "bank_type": "CMC",
    "success_time": "2024-01-05T10:00:00+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 1234, "payer_total": 1234, "currency": "CNY", "payer_currency": "CNY"},
}


@pytest.fixture(scope="session")
def platform_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def keys(platform_key: rsa.RSAPrivateKey) -> dict[str, rsa.RSAPublicKey]:
    return {SERIAL: platform_key.public_key()}


def _notify(private_key: rsa.RSAPrivateKey, **overrides: Any) -> tuple[dict[str, str], bytes]:
    options: dict[str, Any] = {
        "private_key": private_key,
        "serial": SERIAL,
        "api_v3_key": API_V3_KEY,
        "timestamp": SIGNED_AT,
        "nonce": NONCE,
    }
    options.update(overrides)
    resource = options.pop("resource", TRANSACTION)
    return sign_notification(resource, **options)


def _rejection(excinfo: pytest.ExceptionInfo[NotificationRejected]) -> tuple[str, str]:
    return excinfo.value.reason, excinfo.value.message


# --- accepted notifications -------------------------------------------------------------


def test_a_signed_notification_is_verified_and_its_resource_decrypted(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key, notification_id="EV-2018022511223320873")

    notification = verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert notification.id == "EV-2018022511223320873"
    assert notification.event_type == "TRANSACTION.SUCCESS"
    assert notification.resource_type == "encrypt-resource"
    assert notification.summary == "支付成功"
    assert notification.create_time == "2024-01-05T10:00:00+08:00"
    assert notification.original_type == "transaction"
    assert notification.serial == SERIAL
    assert notification.signed_at == SIGNED_AT
    assert notification.resource == TRANSACTION
    assert notification.resource["payer"]["openid"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def test_header_names_are_case_insensitive(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)
    lowered = {name.lower(): value for name, value in headers.items()}
    shouting = {name.upper(): value for name, value in headers.items()}

    assert verify_notification(lowered, body, keys, API_V3_KEY, SIGNED_AT).resource == TRANSACTION
    assert verify_notification(shouting, body, keys, API_V3_KEY, SIGNED_AT).resource == TRANSACTION


def test_a_body_given_as_text_is_verified_as_its_utf8_bytes(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)

    notification = verify_notification(headers, body.decode("utf-8"), keys, API_V3_KEY, SIGNED_AT)

    assert notification.resource == TRANSACTION


def test_a_wechatpay_public_key_id_serves_as_the_serial(platform_key: rsa.RSAPrivateKey) -> None:
    key_id = "PUB_KEY_ID_0112345678202401050000000000000001"
    headers, body = _notify(platform_key, serial=key_id)

    notification = verify_notification(
        headers, body, {key_id: platform_key.public_key()}, API_V3_KEY, SIGNED_AT
    )

    assert notification.serial == key_id


def test_a_platform_certificate_loads_and_its_serial_matches_in_any_case(
    platform_key: rsa.RSAPrivateKey,
) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(platform_key.public_key())
        .serial_number(0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1)
        .not_valid_before(SIGNED_AT - timedelta(days=1))
        .not_valid_after(SIGNED_AT + timedelta(days=365))
        .sign(platform_key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    headers, body = _notify(platform_key, serial=SERIAL.lower())

    assert certificate_serial(pem) == SERIAL
    notification = verify_notification(
        headers, body, {certificate_serial(pem): load_public_key(pem)}, API_V3_KEY, SIGNED_AT
    )
    assert notification.resource["out_trade_no"] == "B20240105000001"


def test_a_timestamp_exactly_at_the_edge_of_the_window_is_accepted(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)

    late = SIGNED_AT + timedelta(minutes=5)
    early = SIGNED_AT - timedelta(minutes=5)

    assert verify_notification(headers, body, keys, API_V3_KEY, late).id
    assert verify_notification(headers, body, keys, API_V3_KEY, early).id


# --- rejections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"]
)
def test_a_missing_header_is_rejected_by_name(
    header: str, platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)
    del headers[header]

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert _rejection(excinfo) == ("missing_header", f"missing header {header}")


def test_several_missing_or_blank_headers_are_all_named(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)
    del headers["Wechatpay-Nonce"]
    headers["Wechatpay-Serial"] = "  "

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert _rejection(excinfo) == (
        "missing_header",
        "missing headers Wechatpay-Nonce, Wechatpay-Serial",
    )


def test_a_signature_type_other_than_rsa2048_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)
    headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2-WITH-SM3"

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert _rejection(excinfo) == (
        "unsupported_signature_type",
        "Wechatpay-Signature-Type 'WECHATPAY2-SM2-WITH-SM3' is not supported; "
        "only WECHATPAY2-SHA256-RSA2048 is",
    )


def test_a_timestamp_that_is_not_unix_seconds_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)
    headers["Wechatpay-Timestamp"] = "2024-01-05T10:00:00+08:00"

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert _rejection(excinfo) == (
        "bad_timestamp",
        "Wechatpay-Timestamp '2024-01-05T10:00:00+08:00' is not unix seconds",
    )


def test_an_unknown_serial_is_rejected_naming_the_known_ones(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key, serial="7132D72A03E93CDDF8C03BBD1F37EEDF0CDFD8A5")

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert _rejection(excinfo) == (
        "unknown_serial",
        "unknown Wechatpay-Serial '7132D72A03E93CDDF8C03BBD1F37EEDF0CDFD8A5': no platform "
        f"certificate or WeChat Pay public key with that serial (known: {SERIAL})",
    )


def test_a_stale_timestamp_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)
    now = SIGNED_AT + timedelta(minutes=5, seconds=1)

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, now)

    assert _rejection(excinfo) == (
        "timestamp_skew",
        "Wechatpay-Timestamp 1704420000 is outside ±5 min of now 2024-01-05T02:05:01+00:00 "
        "(301 s old)",
    )


def test_a_timestamp_from_the_future_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)
    now = SIGNED_AT - timedelta(minutes=10)

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, now, max_skew=timedelta(seconds=90))

    assert _rejection(excinfo) == (
        "timestamp_skew",
        "Wechatpay-Timestamp 1704420000 is outside ±90 s of now 2024-01-05T01:50:00+00:00 "
        "(600 s in the future)",
    )


def test_a_tampered_body_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)
    tampered = body.replace("支付成功".encode(), "支付失败".encode())
    assert tampered != body

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, tampered, keys, API_V3_KEY, SIGNED_AT)

    assert _rejection(excinfo) == (
        "signature_mismatch",
        f"signature does not match the body for platform key {SERIAL}",
    )


def test_a_notification_signed_by_another_key_is_rejected(
    other_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(other_key)

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert excinfo.value.reason == "signature_mismatch"


def test_a_signature_that_is_not_base64_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)
    headers["Wechatpay-Signature"] = "not base64!"

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert _rejection(excinfo) == ("malformed_signature", "Wechatpay-Signature is not base64")


def test_a_wechatpay_signature_probe_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)
    headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert _rejection(excinfo) == (
        "signature_probe",
        "Wechatpay-Signature is a WeChat Pay signature probe (WECHATPAY/SIGNTEST/); "
        "probes must be rejected",
    )


class FakeNonceStore:
    """Remembers nonces like the database-backed store does."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, nonce: str) -> bool:
        if nonce in self.seen:
            return True
        self.seen.add(nonce)
        return False


def test_a_replayed_nonce_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    store = FakeNonceStore()
    headers, body = _notify(platform_key)
    verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT, nonce_seen=store)

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT, nonce_seen=store)

    assert _rejection(excinfo) == (
        "replayed_nonce",
        f"replayed nonce {NONCE!r}: this notification was already received",
    )


def test_a_forged_or_stale_notification_does_not_burn_its_nonce(
    platform_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    store = FakeNonceStore()
    forged_headers, forged_body = _notify(other_key)
    genuine_headers, genuine_body = _notify(platform_key)

    with pytest.raises(NotificationRejected, match="signature does not match"):
        verify_notification(
            forged_headers, forged_body, keys, API_V3_KEY, SIGNED_AT, nonce_seen=store
        )
    with pytest.raises(NotificationRejected, match="outside ±5 min"):
        late = SIGNED_AT + timedelta(hours=1)
        verify_notification(genuine_headers, genuine_body, keys, API_V3_KEY, late, nonce_seen=store)

    assert store.seen == set()
    notification = verify_notification(
        genuine_headers, genuine_body, keys, API_V3_KEY, SIGNED_AT, nonce_seen=store
    )
    assert notification.resource == TRANSACTION
    assert store.seen == {NONCE}


def test_checks_run_headers_then_serial_then_timestamp_then_signature(
    other_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(other_key, serial="UNKNOWN")
    late = SIGNED_AT + timedelta(hours=1)

    with pytest.raises(NotificationRejected) as unknown:
        verify_notification(headers, body, keys, API_V3_KEY, late)
    headers["Wechatpay-Serial"] = SERIAL
    with pytest.raises(NotificationRejected) as stale:
        verify_notification(headers, body, keys, API_V3_KEY, late)
    del headers["Wechatpay-Nonce"]
    with pytest.raises(NotificationRejected) as missing:
        verify_notification(headers, body, {}, API_V3_KEY, late)

    assert unknown.value.reason == "unknown_serial"
    assert stale.value.reason == "timestamp_skew"
    assert missing.value.reason == "missing_header"


def test_a_signed_body_that_is_not_json_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    body = b"<xml>not json</xml>"
    headers = sign_body(
        body, private_key=platform_key, serial=SERIAL, timestamp=SIGNED_AT, nonce=NONCE
    )

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert excinfo.value.reason == "body_not_json"
    assert excinfo.value.message.startswith("body is not JSON: Expecting value")


def test_a_signed_body_without_a_resource_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    body = json.dumps({"id": "EV-1", "event_type": "TRANSACTION.SUCCESS"}).encode()
    headers = sign_body(
        body, private_key=platform_key, serial=SERIAL, timestamp=SIGNED_AT, nonce=NONCE
    )

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert _rejection(excinfo) == ("bad_envelope", "body has no resource object")


def test_a_wrong_api_v3_key_fails_decryption(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, "another-apiv3-key-0123456789abcd", SIGNED_AT)

    assert _rejection(excinfo) == (
        "decryption_failed",
        "resource decryption failed (wrong APIv3 key or tampered ciphertext)",
    )


def test_a_tampered_ciphertext_fails_decryption_even_when_the_envelope_is_signed(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    _, body = _notify(platform_key)
    envelope = json.loads(body)
    sealed = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    sealed[0] ^= 0x01
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    tampered = json.dumps(envelope).encode()
    headers = sign_body(
        tampered, private_key=platform_key, serial=SERIAL, timestamp=SIGNED_AT, nonce=NONCE
    )

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, tampered, keys, API_V3_KEY, SIGNED_AT)

    assert excinfo.value.reason == "decryption_failed"


def test_a_resource_algorithm_other_than_aead_aes_256_gcm_is_rejected(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key, algorithm="AEAD_SM4_GCM")

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert _rejection(excinfo) == (
        "unsupported_algorithm",
        "resource.algorithm 'AEAD_SM4_GCM' is not AEAD_AES_256_GCM",
    )


def test_an_api_v3_key_of_the_wrong_length_is_a_configuration_error(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(platform_key)

    with pytest.raises(ConfigurationError, match="must be 32 bytes, got 5"):
        verify_notification(headers, body, keys, "short", SIGNED_AT)


def test_rejections_are_signature_invalid_errors(
    other_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    headers, body = _notify(other_key)

    with pytest.raises(SignatureInvalid) as excinfo:
        verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert excinfo.value.code == "signature_invalid"
    assert WechatPayReason(getattr(excinfo.value, "reason", "")) is (
        WechatPayReason.SIGNATURE_MISMATCH
    )


# --- AEAD_AES_256_GCM vectors -----------------------------------------------------------

PINNED_PLAINTEXT = (
    b'{"mchid":"1230000109","out_trade_no":"B20240105000001","amount":{"total":1234}}'
)
PINNED_CIPHERTEXT = (
    "dNXqgL1pmzN/i7Hu42nF1tXJMGE9cr+iTsFIK+oCl+ct7rEdBqNSHoS3rX6dwsMLgYnfbckBq5F/PZJT"
    "VeIO6bKttvoBjBxA/dkcJNXlFKj08SbRmaEMGwSndwqy1LI="
)


def test_a_notification_built_by_hand_from_the_public_format_verifies(
    platform_key: rsa.RSAPrivateKey, keys: dict[str, rsa.RSAPublicKey]
) -> None:
    # Independent of the test signer: envelope, message and signature built from the spec.
    body = (
        '{"id":"EV-2018022511223320873","create_time":"2024-01-05T10:00:00+08:00",'
        '"resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS",'
        '"summary":"支付成功","resource":{"original_type":"transaction",'
        '"algorithm":"AEAD_AES_256_GCM","ciphertext":"' + PINNED_CIPHERTEXT + '",'
        '"associated_data":"transaction","nonce":"0123456789ab"}}'
    ).encode()
    message = b"1704420000\n" + NONCE.encode() + b"\n" + body + b"\n"
    signature = platform_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    headers = {
        "wechatpay-timestamp": "1704420000",
        "wechatpay-nonce": NONCE,
        "wechatpay-signature": base64.b64encode(signature).decode(),
        "wechatpay-serial": SERIAL,
    }

    notification = verify_notification(headers, body, keys, API_V3_KEY, SIGNED_AT)

    assert json.dumps(notification.resource, separators=(",", ":")).encode() == PINNED_PLAINTEXT
    assert notification.summary == "支付成功"


def test_a_pinned_wechat_style_ciphertext_decrypts() -> None:
    plaintext = decrypt_resource(
        PINNED_CIPHERTEXT,
        api_v3_key=API_V3_KEY,
        nonce="0123456789ab",
        associated_data="transaction",
    )

    assert plaintext == PINNED_PLAINTEXT


def test_the_pinned_ciphertext_is_ciphertext_followed_by_a_16_byte_tag() -> None:
    sealed = base64.b64decode(PINNED_CIPHERTEXT)

    assert len(sealed) == len(PINNED_PLAINTEXT) + 16
    assert (
        encrypt_resource(
            PINNED_PLAINTEXT,
            api_v3_key=API_V3_KEY,
            nonce="0123456789ab",
            associated_data="transaction",
        )
        == PINNED_CIPHERTEXT
    )


def test_the_pinned_ciphertext_fails_with_other_associated_data() -> None:
    with pytest.raises(NotificationRejected) as excinfo:
        decrypt_resource(
            PINNED_CIPHERTEXT, api_v3_key=API_V3_KEY, nonce="0123456789ab", associated_data="refund"
        )

    assert excinfo.value.reason == "decryption_failed"


def test_the_gcm_specification_test_case_16_decrypts() -> None:
    # AES-256, 96-bit IV, 20-byte AAD: test case 16 of McGrew & Viega, "The Galois/Counter
    # Mode of Operation (GCM)", the vector set NIST's GCM validation builds on.
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    iv = bytes.fromhex("cafebabefacedbaddecaf888")
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    ciphertext = bytes.fromhex(
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
    )
    tag = bytes.fromhex("76fc6ece0f4e1768cddf8853bb2d551b")
    plaintext = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    )

    sealed = base64.b64encode(ciphertext + tag).decode()

    assert decrypt_resource(sealed, api_v3_key=key, nonce=iv, associated_data=aad) == plaintext


def test_a_ciphertext_that_is_not_base64_is_rejected() -> None:
    with pytest.raises(NotificationRejected) as excinfo:
        decrypt_resource("%%%", api_v3_key=API_V3_KEY, nonce="0123456789ab", associated_data="")

    assert _rejection(excinfo) == ("bad_envelope", "resource.ciphertext is not base64")


@settings(max_examples=50)
@given(
    plaintext=st.binary(max_size=300),
    nonce=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=32),
    aad=st.text(max_size=20),
)
def test_encrypt_then_decrypt_round_trips(plaintext: bytes, nonce: str, aad: str) -> None:
    sealed = encrypt_resource(plaintext, api_v3_key=API_V3_KEY, nonce=nonce, associated_data=aad)

    assert (
        AESGCM(API_V3_KEY.encode()).decrypt(nonce.encode(), base64.b64decode(sealed), aad.encode())
        == plaintext
    )
    assert (
        decrypt_resource(sealed, api_v3_key=API_V3_KEY, nonce=nonce, associated_data=aad)
        == plaintext
    )


@settings(
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    out_trade_no=st.text(min_size=1, max_size=32),
    total=st.integers(min_value=1, max_value=10**12),
    nonce=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=32),
)
def test_any_signed_transaction_verifies_and_checks_clean(
    platform_key: rsa.RSAPrivateKey, out_trade_no: str, total: int, nonce: str
) -> None:
    resource = {**TRANSACTION, "out_trade_no": out_trade_no, "amount": {"total": total}}
    resource["amount"]["currency"] = "CNY"
    headers, body = _notify(platform_key, resource=resource, nonce=nonce)

    notification = verify_notification(
        headers, body, {SERIAL: platform_key.public_key()}, API_V3_KEY, SIGNED_AT
    )

    assert notification.resource == resource
    expected = {
        "appid": TRANSACTION["appid"],
        "mchid": TRANSACTION["mchid"],
        "out_trade_no": out_trade_no,
        "total_fen": total,
    }
    assert check_transaction(notification.resource, **expected) == []


# --- check_transaction ------------------------------------------------------------------


def test_a_matching_transaction_has_no_mismatches() -> None:
    assert (
        check_transaction(
            TRANSACTION,
            appid="wxd678efh567hg6787",
            mchid="1230000109",
            out_trade_no="B20240105000001",
            total_fen=1234,
        )
        == []
    )


def test_a_wrong_amount_is_a_mismatch() -> None:
    mismatches = check_transaction(
        TRANSACTION,
        appid="wxd678efh567hg6787",
        mchid="1230000109",
        out_trade_no="B20240105000001",
        total_fen=1200,
    )

    assert mismatches == [Mismatch("amount.total", 1200, 1234)]
    assert str(mismatches[0]) == "amount.total: expected 1200, got 1234"


def test_a_wrong_merchant_and_app_are_mismatches() -> None:
    mismatches = check_transaction(
        TRANSACTION,
        appid="wx0000000000000000",
        mchid="1900000001",
        out_trade_no="B20240105000001",
        total_fen=1234,
    )

    assert mismatches == [
        Mismatch("appid", "wx0000000000000000", "wxd678efh567hg6787"),
        Mismatch("mchid", "1900000001", "1230000109"),
    ]


def test_missing_or_odd_fields_are_mismatches_not_errors() -> None:
    resource = {"appid": "wxd678efh567hg6787", "amount": {"total": 12.34, "currency": "USD"}}

    mismatches = check_transaction(
        resource,
        appid="wxd678efh567hg6787",
        mchid="1230000109",
        out_trade_no="B1",
        total_fen=1234,
    )

    assert mismatches == [
        Mismatch("mchid", "1230000109", None),
        Mismatch("out_trade_no", "B1", None),
        Mismatch("amount.total", 1234, "12.34"),
        Mismatch("amount.currency", "CNY", "USD"),
    ]


# --- mini-program pay parameters -------------------------------------------------------


def test_mini_program_pay_params_are_signed_over_the_four_lines(
    platform_key: rsa.RSAPrivateKey,
) -> None:
    merchant_key = platform_key
    params = mini_program_pay_params(
        "wxd678efh567hg6787",
        "wx201410272009395522657a690389285100",
        merchant_key,
        SIGNED_AT,
        "593BEC0C930BF1AFEB40B4A08C8FB242",
    )

    assert {k: v for k, v in params.items() if k != "paySign"} == {
        "appId": "wxd678efh567hg6787",
        "timeStamp": "1704420000",
        "nonceStr": "593BEC0C930BF1AFEB40B4A08C8FB242",
        "package": "prepay_id=wx201410272009395522657a690389285100",
        "signType": "RSA",
    }
    message = (
        b"wxd678efh567hg6787\n1704420000\n593BEC0C930BF1AFEB40B4A08C8FB242\n"
        b"prepay_id=wx201410272009395522657a690389285100\n"
    )
    merchant_key.public_key().verify(
        base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256()
    )


def test_a_pay_nonce_longer_than_32_characters_is_refused(platform_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        mini_program_pay_params("wxd678efh567hg6787", "wx2014", platform_key, SIGNED_AT, "N" * 33)

    assert excinfo.value.message == "nonceStr: must be 1 to 32 characters, got 33"


def test_an_empty_prepay_id_is_refused(platform_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        mini_program_pay_params("wxd678efh567hg6787", "", platform_key, SIGNED_AT, "N")

    assert excinfo.value.message == "prepay_id: must not be empty"


# --- key loading ------------------------------------------------------------------------


def test_keys_load_from_pem_and_bare_base64(platform_key: rsa.RSAPrivateKey) -> None:
    public_der = platform_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_pem = platform_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = platform_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    expected = platform_key.public_key().public_numbers()

    assert load_public_key(public_pem.decode()).public_numbers() == expected
    assert load_public_key(base64.b64encode(public_der)).public_numbers() == expected
    assert load_private_key(private_pem).public_key().public_numbers() == expected


def test_text_that_is_no_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        load_public_key("-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n")

    assert excinfo.value.message.startswith(
        "not a PEM public key, X.509 certificate or base64 public key"
    )
