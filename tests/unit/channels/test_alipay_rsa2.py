from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from billfold.channels.alipay_rsa2 import (
    AlipayTradeStatus,
    Mismatch,
    NotificationRejected,
    check_trade,
    parse_form,
    sign_content,
    sign_params,
    signed_notification_form,
    trade_status,
    verify_notification,
)
from billfold.errors import InvalidInput, SignatureInvalid

NOTIFICATION = {
    "notify_time": "2024-01-05 10:00:05",
    "notify_type": "trade_status_sync",
    "notify_id": "ac05099524730693a8b330c5ecf72da9786",
    "app_id": "2021000000000001",
    "version": "1.0",
    "trade_no": "2024010522001412345678901234",
    "out_trade_no": "B20240105000001",
    "seller_id": "2088101106499364",
    "buyer_id": "2088102122524333",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "12.34",
    "receipt_amount": "12.34",
    "subject": "2024秋季学费 & 住宿费",
    "gmt_create": "2024-01-05 09:59:58",
    "gmt_payment": "2024-01-05 10:00:04",
    "fund_bill_list": '[{"amount":"12.34","fundChannel":"ALIPAYACCOUNT"}]',
}


@pytest.fixture(scope="session")
def alipay_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _signed(key: rsa.RSAPrivateKey, **extra: str) -> dict[str, str]:
    return parse_form(signed_notification_form({**NOTIFICATION, **extra}, key))


def _rejection(excinfo: pytest.ExceptionInfo[NotificationRejected]) -> tuple[str, str]:
    return excinfo.value.reason, excinfo.value.message


# --- the signed content -----------------------------------------------------------------


def test_the_signed_content_is_sorted_raw_pairs_without_sign_sign_type_or_empty_values() -> None:
    params = {
        "total_amount": "2.00",
        "buyer_id": "2088102116773037",
        "body": "大乐透2.1",
        "trade_no": "2016071921001003030200089909",
        "refund_fee": "0.00",
        "notify_time": "2016-07-19 14:10:49",
        "subject": "大乐透2.1",
        "sign_type": "RSA2",
        "charset": "utf-8",
        "notify_type": "trade_status_sync",
        "out_trade_no": "0719141034-6418",
        "gmt_close": "2016-07-19 14:10:46",
        "gmt_payment": "2016-07-19 14:10:47",
        "trade_status": "TRADE_SUCCESS",
        "version": "1.0",
        "sign": "kPbQIjX+xQc8F0/A6/AocELIjhhZnGbcBN6G4MM/HmfWL4ZiHM6fWl5NQhzX",
        "gmt_create": "2016-07-19 14:10:44",
        "app_id": "2015102700040153",
        "seller_id": "2088102119685838",
        "notify_id": "4a91b7a78a503640467525113fb7d8bg8e",
        "passback_params": "",
        "fund_bill_list": '[{"amount":"2.00","fundChannel":"ALIPAYACCOUNT"}]',
    }

    assert sign_content(params) == (
        "app_id=2015102700040153&body=大乐透2.1&buyer_id=2088102116773037&charset=utf-8"
        '&fund_bill_list=[{"amount":"2.00","fundChannel":"ALIPAYACCOUNT"}]'
        "&gmt_close=2016-07-19 14:10:46&gmt_create=2016-07-19 14:10:44"
        "&gmt_payment=2016-07-19 14:10:47&notify_id=4a91b7a78a503640467525113fb7d8bg8e"
        "&notify_time=2016-07-19 14:10:49&notify_type=trade_status_sync"
        "&out_trade_no=0719141034-6418&refund_fee=0.00&seller_id=2088102119685838"
        "&subject=大乐透2.1&total_amount=2.00&trade_no=2016071921001003030200089909"
        "&trade_status=TRADE_SUCCESS&version=1.0"
    )


def test_keys_sort_by_ascii_code_not_alphabet() -> None:
    assert sign_content({"b": "1", "a_b": "2", "aB": "3", "a": "4"}) == "a=4&aB=3&a_b=2&b=1"


def test_the_signature_is_sha256_with_rsa_over_the_content(alipay_key: rsa.RSAPrivateKey) -> None:
    params = {"app_id": "2021000000000001", "charset": "utf-8", "subject": "水费"}

    signature = base64.b64decode(sign_params(params, alipay_key))

    alipay_key.public_key().verify(
        signature,
        "app_id=2021000000000001&charset=utf-8&subject=水费".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


# --- parse_form -------------------------------------------------------------------------


def test_a_form_is_url_decoded_with_plus_as_space_and_percent_2b_as_plus() -> None:
    body = b"notify_time=2024-01-05+10%3A00%3A05&sign=ab%2Bc%2F%3D&subject=%E5%AD%A6%E8%B4%B9\n"

    assert parse_form(body) == {
        "notify_time": "2024-01-05 10:00:05",
        "sign": "ab+c/=",
        "subject": "学费",
    }


def test_a_gbk_form_is_decoded_by_its_charset_parameter() -> None:
    assert parse_form("charset=GBK&subject=%D1%A7%B7%D1") == {"charset": "GBK", "subject": "学费"}


def test_an_explicit_charset_overrides_the_form() -> None:
    assert parse_form(b"subject=%D1%A7%B7%D1", charset="gbk") == {"subject": "学费"}


def test_a_value_that_is_not_valid_in_the_charset_is_refused() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_form(b"charset=utf-8&subject=%D1%A7%B7%D1")

    assert excinfo.value.message == "parameter 'subject': not valid utf-8"


def test_an_unknown_charset_is_refused() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_form(b"charset=klingon&subject=x")

    assert excinfo.value.message == "charset: 'klingon' is not a known character encoding"


def test_a_parameter_given_twice_is_refused() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_form(b"total_amount=0.01&out_trade_no=B1&total_amount=100.00")

    assert excinfo.value.message == "parameter 'total_amount': appears more than once"


@given(
    st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
            lambda k: k != "charset"
        ),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
        max_size=8,
    )
)
def test_parse_form_inverts_url_encoding(params: dict[str, str]) -> None:
    assert parse_form(urlencode(params).encode("ascii")) == params


# --- verify_notification ----------------------------------------------------------------


def test_a_signed_notification_verifies(alipay_key: rsa.RSAPrivateKey) -> None:
    params = _signed(alipay_key)

    verified = verify_notification(params, alipay_key.public_key())

    assert verified == params
    assert verified["subject"] == "2024秋季学费 & 住宿费"
    assert verified["sign_type"] == "RSA2"


def test_a_gbk_notification_verifies_over_its_gbk_bytes(alipay_key: rsa.RSAPrivateKey) -> None:
    body = signed_notification_form(NOTIFICATION, alipay_key, charset="gbk")
    assert "%D1%A7%B7%D1" in body.decode("ascii")  # 学费 in GBK

    params = parse_form(body)

    assert (
        verify_notification(params, alipay_key.public_key())["subject"] == NOTIFICATION["subject"]
    )
    utf8_params = {**params, "charset": "utf-8"}
    with pytest.raises(NotificationRejected, match="signature does not match"):
        verify_notification(utf8_params, alipay_key.public_key())


def test_a_tampered_parameter_is_rejected(alipay_key: rsa.RSAPrivateKey) -> None:
    params = {**_signed(alipay_key), "total_amount": "0.01"}

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(params, alipay_key.public_key())

    assert _rejection(excinfo) == (
        "signature_mismatch",
        "signature does not match the parameters for the configured Alipay public key",
    )


def test_a_notification_signed_by_another_key_is_rejected(
    alipay_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(SignatureInvalid) as excinfo:
        verify_notification(_signed(other_key), alipay_key.public_key())

    assert getattr(excinfo.value, "reason", None) == "signature_mismatch"


def test_an_extra_empty_parameter_is_ignored(alipay_key: rsa.RSAPrivateKey) -> None:
    params = {**_signed(alipay_key), "passback_params": ""}

    assert verify_notification(params, alipay_key.public_key())["passback_params"] == ""


def test_an_extra_non_empty_parameter_breaks_the_signature(alipay_key: rsa.RSAPrivateKey) -> None:
    params = {**_signed(alipay_key), "passback_params": "x"}

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(params, alipay_key.public_key())

    assert excinfo.value.reason == "signature_mismatch"


def test_sign_type_is_not_part_of_the_signed_content(alipay_key: rsa.RSAPrivateKey) -> None:
    params = _signed(alipay_key)
    unsigned = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}

    assert "sign_type" not in sign_content(params)
    assert sign_content(params) == sign_content(unsigned)
    assert sign_params(unsigned, alipay_key) == params["sign"]


def test_a_missing_sign_is_rejected(alipay_key: rsa.RSAPrivateKey) -> None:
    params = _signed(alipay_key)
    del params["sign"]

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(params, alipay_key.public_key())

    assert _rejection(excinfo) == ("missing_sign", "missing sign")


@pytest.mark.parametrize(
    ("sign_type", "shown"), [("RSA", "'RSA'"), ("MD5", "'MD5'"), (None, "missing")]
)
def test_a_sign_type_other_than_rsa2_is_rejected(
    sign_type: str | None, shown: str, alipay_key: rsa.RSAPrivateKey
) -> None:
    params = _signed(alipay_key)
    if sign_type is None:
        del params["sign_type"]
    else:
        params["sign_type"] = sign_type

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(params, alipay_key.public_key())

    assert _rejection(excinfo) == (
        "unsupported_sign_type",
        f"sign_type is {shown}; only RSA2 (SHA256withRSA) is accepted",
    )


def test_a_sign_that_is_not_base64_is_rejected(alipay_key: rsa.RSAPrivateKey) -> None:
    params = {**_signed(alipay_key), "sign": "not base64!"}

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(params, alipay_key.public_key())

    assert _rejection(excinfo) == ("malformed_signature", "sign is not base64")


def test_an_unknown_charset_in_the_parameters_is_rejected(alipay_key: rsa.RSAPrivateKey) -> None:
    params = {**_signed(alipay_key), "charset": "klingon"}

    with pytest.raises(NotificationRejected) as excinfo:
        verify_notification(params, alipay_key.public_key())

    assert _rejection(excinfo) == (
        "unsupported_charset",
        "the parameters cannot be encoded as charset 'klingon': "
        "charset: 'klingon' is not a known character encoding",
    )


@settings(max_examples=25)
@given(
    st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
            lambda k: k not in ("sign", "sign_type", "charset")
        ),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
        max_size=8,
    )
)
def test_any_signed_form_parses_and_verifies(
    alipay_key: rsa.RSAPrivateKey, params: dict[str, str]
) -> None:
    key = alipay_key

    verified = verify_notification(
        parse_form(signed_notification_form(params, key)), key.public_key()
    )

    assert {k: v for k, v in verified.items() if k not in ("sign", "sign_type", "charset")} == (
        params
    )


# --- check_trade and trade_status ---------------------------------------------------------


def test_a_matching_trade_has_no_mismatches() -> None:
    assert (
        check_trade(
            NOTIFICATION,
            app_id="2021000000000001",
            seller_id="2088101106499364",
            out_trade_no="B20240105000001",
            total_fen=1234,
        )
        == []
    )


def test_a_wrong_amount_is_a_mismatch_in_fen() -> None:
    mismatches = check_trade(
        NOTIFICATION,
        app_id="2021000000000001",
        seller_id="2088101106499364",
        out_trade_no="B20240105000001",
        total_fen=123400,
    )

    assert mismatches == [Mismatch("total_amount", 123400, 1234)]


def test_a_wrong_seller_app_and_order_are_mismatches() -> None:
    mismatches = check_trade(
        NOTIFICATION,
        app_id="2021000000000999",
        seller_id="2088000000000000",
        out_trade_no="B20240105000002",
        total_fen=1234,
    )

    assert mismatches == [
        Mismatch("app_id", "2021000000000999", "2021000000000001"),
        Mismatch("seller_id", "2088000000000000", "2088101106499364"),
        Mismatch("out_trade_no", "B20240105000002", "B20240105000001"),
    ]


@pytest.mark.parametrize(
    ("total_amount", "got"), [("12.345", "12.345"), ("1.2e1", "1.2e1"), (None, None)]
)
def test_an_unreadable_or_missing_total_amount_is_a_mismatch(
    total_amount: str | None, got: str | None
) -> None:
    params = {k: v for k, v in NOTIFICATION.items() if k != "total_amount"}
    if total_amount is not None:
        params["total_amount"] = total_amount

    mismatches = check_trade(
        params,
        app_id="2021000000000001",
        seller_id="2088101106499364",
        out_trade_no="B20240105000001",
        total_fen=1234,
    )

    assert mismatches == [Mismatch("total_amount", 1234, got)]


def test_trade_status_is_exposed_as_an_enum() -> None:
    status = trade_status(NOTIFICATION)

    assert status is AlipayTradeStatus.TRADE_SUCCESS
    assert status.is_paid
    assert not trade_status({"trade_status": "WAIT_BUYER_PAY"}).is_paid


def test_an_unknown_trade_status_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        trade_status({"trade_status": "PAID"})

    assert excinfo.value.message == (
        "trade_status: 'PAID' is not one of "
        "WAIT_BUYER_PAY, TRADE_CLOSED, TRADE_SUCCESS, TRADE_FINISHED"
    )
