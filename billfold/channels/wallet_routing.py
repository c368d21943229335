"""Which wallet scanned an aggregated QR, judged from the User-Agent of the page it opened.

One static 聚合码 is scanned by WeChat, Alipay, UnionPay's Cloud QuickPass (云闪付) or a bank's
own app; each needs its own cashier flow. Matching is case-insensitive on substrings.

Precedence: the deployment's bank-app markers are checked first (an operator who names its
own app means it), then WeChat, Alipay and UnionPay. Markers shorter than 3 characters are
refused so that a typo cannot route every payer to one wallet.

Each wallet opens its own cashier :class:`Flow`; an unknown scanner gets a page listing
them (:func:`route`, re-exported by :mod:`billfold.channels.qr`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from billfold.errors import ConfigurationError

__all__ = [
    "ALIPAY_MARKERS",
    "DEFAULT_BANK_APP_MARKERS",
    "UNIONPAY_MARKERS",
    "WECHAT_MARKERS",
    "Flow",
    "ScanRoute",
    "Wallet",
    "WalletRouter",
    "classify_user_agent",
    "route",
    "route_with",
]


class Wallet(StrEnum):
    WECHAT = "wechat"
    ALIPAY = "alipay"
    UNIONPAY = "unionpay"
    BANK_APP = "bank_app"
    UNKNOWN = "unknown"


# WeChat's in-app browser (and WeCom's, which also carries the MicroMessenger token).
WECHAT_MARKERS: tuple[str, ...] = ("MicroMessenger/",)
# "AliApp(AP/..." is Alipay itself; other Alibaba apps say AliApp(DingTalk/...) and do not pay.
ALIPAY_MARKERS: tuple[str, ...] = ("AlipayClient/", "AliApp(AP/")
# Cloud QuickPass (云闪付) and UnionPay's web SDK.
UNIONPAY_MARKERS: tuple[str, ...] = ("UnionPay/", "CloudPay", "com.unionpay")
# None by default: every bank names its app differently; configure them per deployment.
DEFAULT_BANK_APP_MARKERS: tuple[str, ...] = ()


class WalletRouter:
    """Classifies User-Agents; ``bank_app_markers`` are the deployment's own app tokens."""

    def __init__(self, bank_app_markers: Iterable[str] = DEFAULT_BANK_APP_MARKERS) -> None:
        markers = tuple(bank_app_markers)
        for marker in markers:
            if not isinstance(marker, str) or len(marker.strip()) < 3:
                raise ConfigurationError(
                    f"bank app User-Agent marker {marker!r} must be a string of 3+ characters"
                )
        self._rules: tuple[tuple[Wallet, tuple[str, ...]], ...] = (
            (Wallet.BANK_APP, tuple(m.strip().lower() for m in markers)),
            (Wallet.WECHAT, tuple(m.lower() for m in WECHAT_MARKERS)),
            (Wallet.ALIPAY, tuple(m.lower() for m in ALIPAY_MARKERS)),
            (Wallet.UNIONPAY, tuple(m.lower() for m in UNIONPAY_MARKERS)),
        )

    def classify(self, user_agent: str | None) -> Wallet:
        ua = (user_agent or "").lower()
        for wallet, markers in self._rules:
            if any(marker in ua for marker in markers):
                return wallet
        return Wallet.UNKNOWN


def classify_user_agent(
    user_agent: str | None, bank_app_markers: Iterable[str] = DEFAULT_BANK_APP_MARKERS
) -> Wallet:
    """One-off classification; build a :class:`WalletRouter` once to classify many."""
    return WalletRouter(bank_app_markers).classify(user_agent)


# -- the cashier flow a scan opens -------------------------------------------------------------


class Flow(StrEnum):
    """The cashier flow a scanned code opens."""

    WECHAT = "wechat_jsapi"  # WeChat Pay inside WeChat's browser
    ALIPAY = "alipay_wap"  # Alipay's mobile-web cashier inside Alipay
    UNIONPAY = "unionpay"  # Cloud QuickPass (云闪付)
    BANK_APP = "bank_app"  # the bank's own app (掌银)
    CHOOSE = "choose"  # unknown scanner: a page listing the options


_FLOWS = {
    Wallet.WECHAT: Flow.WECHAT,
    Wallet.ALIPAY: Flow.ALIPAY,
    Wallet.UNIONPAY: Flow.UNIONPAY,
    Wallet.BANK_APP: Flow.BANK_APP,
}


@dataclass(frozen=True, slots=True)
class ScanRoute:
    wallet: Wallet
    flow: Flow
    options: tuple[Flow, ...] = ()  # what the "choose" page offers


def route(user_agent: str | None, bank_app_markers: Iterable[str] = ()) -> ScanRoute:
    """Which flow a scan opens, by the scanner's User-Agent."""
    return route_with(WalletRouter(bank_app_markers), user_agent)


def route_with(router: WalletRouter, user_agent: str | None) -> ScanRoute:
    wallet = router.classify(user_agent)
    if wallet is Wallet.UNKNOWN:
        return ScanRoute(wallet, Flow.CHOOSE, tuple(_FLOWS.values()))
    return ScanRoute(wallet, _FLOWS[wallet])
