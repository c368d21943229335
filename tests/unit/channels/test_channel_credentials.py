"""Loading the wechatpay and alipay channels' keys from billers' settings, and Alipay request
signing (pure parts; the flows are in tests/integration/channels)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from billfold.channels.alipay import (
    AlipayApp,
    alipay_time,
    load_app,
    request_content,
    signed_request,
    verify_request,
)
from billfold.channels.secrets import DictSecrets
from billfold.channels.wechatpay import load_merchant, rfc3339
from billfold.errors import ConfigurationError

WHERE = "wechatpay settings of biller s1"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=1024)
PRIVATE_PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
SECRETS = DictSecrets(
    {
        "S1_KEY": PRIVATE_PEM,
        "S1_V3": "billfold-apiv3-key-0123456789abc\n",
        "/keys/pub.pem": PUBLIC_PEM,
        "S1_SHORT": "short",
        "S1_JUNK": "not a key",
    }
)
WECHAT: dict[str, Any] = {
    "merchant_id": "1230000109",
    "app_id": "wxd678efh567hg6787",
    "cert_serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
    "private_key_env": "S1_KEY",
    "api_v3_key_env": "S1_V3",
    "platform_keys_file": {"PUB_KEY_ID_0114": "/keys/pub.pem"},
}


def test_a_wechatpay_merchant_is_loaded_from_the_settings_and_shows_no_secret() -> None:
    merchant = load_merchant(SECRETS, WECHAT, where=WHERE)
    assert merchant.mchid == "1230000109"
    assert merchant.api_v3_key == b"billfold-apiv3-key-0123456789abc"  # the newline is dropped
    assert merchant.private_key.private_numbers() == KEY.private_numbers()
    assert list(merchant.platform_keys) == ["PUB_KEY_ID_0114"]
    assert repr(merchant) == "WechatPayMerchant(mchid='1230000109', platform=['PUB_KEY_ID_0114'])"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"merchant_id": None}, "merchant_id is not set"),
        ({"cert_serial": ""}, "cert_serial is not set"),
        ({"api_v3_key_env": "S1_SHORT"}, "the WeChat Pay APIv3 key must be 32 bytes, got 5"),
        ({"private_key_env": "S1_JUNK"}, "not a PEM or base64 RSA private key"),
        (
            {"platform_keys_file": {"PUB_KEY_ID_0114": "/keys/none.pem"}},
            "platform_keys_file['PUB_KEY_ID_0114'] names file '/keys/none.pem'",
        ),
    ],
)
def test_a_bad_wechatpay_setting_is_named_with_the_biller(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        load_merchant(SECRETS, {**WECHAT, **change}, where=WHERE)
    assert excinfo.value.message.startswith(f"{WHERE}: {message}")
    assert "billfold-apiv3" not in excinfo.value.message


def test_an_alipay_app_is_loaded_from_the_settings() -> None:
    settings = {
        "app_id": "2021000117600001",
        "merchant_id": "2088101117955611",
        "app_private_key_env": "S1_KEY",
        "alipay_public_key_file": "/keys/pub.pem",
    }
    app = load_app(SECRETS, settings, where="alipay settings of biller s1")
    assert (app.app_id, app.seller_id) == ("2021000117600001", "2088101117955611")
    assert repr(app) == "AlipayApp(app_id='2021000117600001', seller_id='2088101117955611')"
    with pytest.raises(ConfigurationError) as excinfo:
        load_app(
            SECRETS, {**settings, "alipay_public_key_file": "/keys/none.pem"}, where="alipay of s1"
        )
    assert excinfo.value.message == (
        "alipay of s1: alipay_public_key_file names file '/keys/none.pem', which cannot be read"
    )
    junk = {k: v for k, v in settings.items() if k != "alipay_public_key_file"}
    with pytest.raises(ConfigurationError, match="^alipay of s1: not a PEM public key"):
        load_app(SECRETS, {**junk, "alipay_public_key_env": "S1_JUNK"}, where="alipay of s1")


def test_request_content_sorts_drops_sign_and_empty_values_but_keeps_sign_type() -> None:
    params = {
        "timestamp": "2026-09-01 10:00:00",
        "method": "alipay.trade.create",
        "app_id": "2021000117600001",
        "sign_type": "RSA2",
        "sign": "xyz",
        "notify_url": "",
        "biz_content": '{"total_amount":"10.08"}',
    }
    assert request_content(params) == (
        'app_id=2021000117600001&biz_content={"total_amount":"10.08"}'
        "&method=alipay.trade.create&sign_type=RSA2&timestamp=2026-09-01 10:00:00"
    )


APP = AlipayApp("2021000117600001", "2088101117955611", KEY, OTHER.public_key())


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["out_trade_no", "subject", "total_amount", "buyer_id"]),
        st.text(min_size=1, max_size=20),
    )
)
def test_a_signed_request_verifies_and_any_change_breaks_it(biz: dict[str, str]) -> None:
    now = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    params = signed_request(APP, "alipay.trade.create", biz, now, notify_url="https://n.example")
    assert params["timestamp"] == "2026-09-01 10:00:00"
    assert verify_request(params, KEY.public_key())
    assert not verify_request(params, OTHER.public_key())
    assert not verify_request(
        {**params, "biz_content": params["biz_content"] + " "}, KEY.public_key()
    )
    assert not verify_request({**params, "sign_type": "RSA"}, KEY.public_key())


def test_time_formats_are_beijing_time() -> None:
    instant = datetime(2026, 9, 1, 2, 30, 5, tzinfo=UTC)
    assert rfc3339(instant) == "2026-09-01T10:30:05+08:00"
    assert alipay_time(instant) == "2026-09-01 10:30:05"
