"""Which wallet scanned the aggregated QR, judged from real-world User-Agent strings."""

from __future__ import annotations

import pytest

from billfold.channels.wallet_routing import Wallet, WalletRouter, classify_user_agent
from billfold.errors import ConfigurationError

WECHAT_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI "
    "Language/zh_CN"
)
WECHAT_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 "
    "MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 "
    "Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)
WECOM = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 wxwork/4.1.16 MicroMessenger/7.0.1 Language/zh"
)
ALIPAY_ANDROID = (
    "Mozilla/5.0 (Linux; U; Android 12; zh-CN; PEGM00 Build/SKQ1.210216.001) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.58 "
    "Mobile Safari/537.36 UCBS/3.22.2.58_230817150150 NebulaSDK/1.8.100112 Nebula "
    "AlipayDefined(nt:WIFI,ws:393|0|2.75) AliApp(AP/10.5.36.8100) AlipayClient/10.5.36.8100 "
    "Language/zh-Hans useStatusBar/true isConcaveScreen/true Region/CN"
)
ALIPAY_IOS_NO_CLIENT_TOKEN = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Ariver/1.1.0 AliApp(AP/10.5.30.6000) Nebula "
    "WK RVKType(0) AlipayDefined(nt:WIFI,ws:390|844|3.0) Region/CN"
)
DINGTALK = (
    "Mozilla/5.0 (Linux; Android 11; M2012K11AC; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/87.0.4280.141 Mobile Safari/537.36 AliApp(DingTalk/7.0.50) "
    "com.alibaba.android.rimet/31009183 Channel/700159 language/zh-CN abi/64"
)
UNIONPAY_CLOUD_QUICKPASS = (
    "Mozilla/5.0 (Linux; Android 12; 22041211AC Build/SP1A.210812.016; wv) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/95.0.4638.74 Mobile "
    "Safari/537.36 (com.unionpay.chsp) (cordova 7.0.0) (updebug 0) (version 1011) "
    "(UnionPay/1.0 CloudPay) (clientVersion 311) (language zh_CN)"
)
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
BANK_APP = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 ExampleBankMobile/7.2.1 Language/zh_CN"
)


@pytest.mark.parametrize(
    ("user_agent", "wallet"),
    [
        (WECHAT_IOS, Wallet.WECHAT),
        (WECHAT_ANDROID, Wallet.WECHAT),
        (WECOM, Wallet.WECHAT),
        (ALIPAY_ANDROID, Wallet.ALIPAY),
        (ALIPAY_IOS_NO_CLIENT_TOKEN, Wallet.ALIPAY),
        (UNIONPAY_CLOUD_QUICKPASS, Wallet.UNIONPAY),
        ("UnionPay/1.0 CloudPay", Wallet.UNIONPAY),
        (DINGTALK, Wallet.UNKNOWN),
        (SAFARI, Wallet.UNKNOWN),
        (BANK_APP, Wallet.UNKNOWN),
        ("", Wallet.UNKNOWN),
        (None, Wallet.UNKNOWN),
    ],
)
def test_wallets_are_recognised_from_their_user_agents(
    user_agent: str | None, wallet: Wallet
) -> None:
    assert classify_user_agent(user_agent) is wallet


def test_configured_bank_app_markers_identify_the_bank_app() -> None:
    router = WalletRouter(bank_app_markers=["ExampleBankMobile/", "OtherBank"])
    assert router.classify(BANK_APP) is Wallet.BANK_APP
    assert router.classify(WECHAT_IOS) is Wallet.WECHAT
    assert router.classify(SAFARI) is Wallet.UNKNOWN


def test_bank_app_markers_win_over_wallet_tokens_the_app_also_carries() -> None:
    embedded = BANK_APP + " UnionPay/1.0 CloudPay"
    assert classify_user_agent(embedded) is Wallet.UNIONPAY
    assert classify_user_agent(embedded, ["ExampleBankMobile/"]) is Wallet.BANK_APP


def test_matching_ignores_case() -> None:
    assert classify_user_agent("mozilla/5.0 micromessenger/8.0.47") is Wallet.WECHAT
    assert classify_user_agent("ALIPAYCLIENT/10.5.36") is Wallet.ALIPAY
    assert classify_user_agent("X examplebankmobile/1", ["ExampleBankMobile/"]) is Wallet.BANK_APP


@pytest.mark.parametrize("marker", ["", "  ", "ab", " a "])
def test_too_short_bank_markers_are_refused(marker: str) -> None:
    with pytest.raises(ConfigurationError, match="must be a string of 3\\+ characters"):
        WalletRouter(bank_app_markers=[marker])


def test_wallet_values_are_stable_strings() -> None:
    assert [w.value for w in Wallet] == ["wechat", "alipay", "unionpay", "bank_app", "unknown"]
