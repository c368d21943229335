"""End to end in a real browser: ``billfold serve --sandbox`` on 127.0.0.1, the payer pages in
headless Chromium on a phone-sized screen with a WeChat User-Agent, paying through the
sandbox and seeing the paid result only once the engine has it.

The browser is driven by the shared helper (``webdriver.py``: chromedriver over W3C WebDriver); the
test installs nothing and is skipped when Chromium or chromedriver is missing. Screenshots go
to ``$BILLFOLD_TEST_ARTIFACTS`` (default ``tests/artifacts/``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from webdriver import (  # type: ignore[import-not-found]
    NEEDS_BROWSER,
    Browser,
    backend,
    chromedriver,
    serve,
)

from billfold import Biller, BillerKind, Engine
from billfold.clock import SystemClock
from billfold.merchants.channel_config import ChannelConfig

WECHAT_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI "
    "Language/zh_CN"
)
PHONE = {"width": 390, "height": 844, "pixelRatio": 3.0}
PAID = "var s = document.getElementById('state'); return s !== null && s.dataset.status === 'paid'"
pytestmark = NEEDS_BROWSER


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    scratch = tmp_path_factory.mktemp("fonts")
    with chromedriver(scratch, phone=PHONE, user_agent=WECHAT_IPHONE) as session:
        yield session


def seed(url: str) -> None:
    engine = Engine.from_url(url, clock=SystemClock(), upgrade=True)
    try:
        engine.create_biller(Biller(code="school", name="第一实验中学", kind=BillerKind.SCHOOL))
        engine.create_biller(Biller(code="stall", name="刘记水果摊", kind=BillerKind.MARKET_STALL))
        engine.create_biller(Biller(code="water", name="城东水务", kind=BillerKind.UTILITY))
        for code, merchant in (("school", "M-SCHOOL"), ("stall", "M-STALL"), ("water", "M-W")):
            settings = {
                "merchant_name_en": "BILLFOLD TEST",
                "merchant_city_en": "HANGZHOU",
                "notify_key_env": f"E2E_QR_KEY_{merchant}",
            }
            config = ChannelConfig("qr", merchant_id=merchant, settings=settings)
            engine.set_channel_config(code, config, actor="e2e", reason="onboarding")
        engine.import_bills(
            "school",
            "bill_no,payer_id,payer_name,items,period\n"
            "T2026-001,2026001,张小明,tuition:学费=4500.00;books:教材费=380.00,2026秋\n".encode(),
        )
        engine.import_bills(  # a household's arrears and its prepaid top-up (50.00–2000.00)
            "water",
            "bill_no,payer_id,payer_name,kind,amount,min_amount,max_amount,description\n"
            "W1,0101,李四,fixed,120.00,,,水费\n"
            "TU-0101,0101,李四,open,,50.00,2000.00,预存费用\n".encode(),
        )
    finally:
        engine.close()


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``billfold serve --sandbox`` on a fresh database: (base URL, database URL)."""
    seed(db_url)
    with serve(db_url, tmp_path, "--sandbox", ready="/pay/lookup") as base:
        yield base, db_url


def test_a_parent_looks_up_a_bill_pays_in_the_sandbox_and_sees_it_paid(
    browser: Browser, server: tuple[str, str]
) -> None:
    base, db_url = server
    name = f"cashier-{backend(db_url)}"
    browser.open(f"{base}/pay/lookup")
    assert browser.script("return window.innerWidth") == PHONE["width"]
    browser.script("document.getElementById('biller').value = 'school'")  # 缴费单位 first
    browser.type("#identifier", "2026001")
    browser.click("form button[type=submit]")
    browser.wait_for("return document.querySelector('input[name=bill_no]') !== null")
    assert "学号 2026001 · 张**" in browser.text("main")
    assert browser.text("#total") == "¥4880.00"
    browser.screenshot(f"{name}-1-bills")
    browser.click("button[name=flow][value=wechat_jsapi]")  # WeChat's browser: WeChat's flow
    browser.wait_for("return document.getElementById('sandbox-pay') !== null")
    assert "¥4880.00" in browser.text(".amount")
    browser.screenshot(f"{name}-2-pay")
    browser.click("#sandbox-pay")
    browser.wait_for("return document.getElementById('state') !== null")
    assert browser.url().endswith("/result")
    # the status and the words read together (one script): the page may turn to paid between
    # two WebDriver calls, which once failed this test under load
    first, words = browser.script(
        "const s = document.getElementById('state'); return [s.dataset.status, s.innerText]"
    )
    if first != "paid":  # the notification is still on its way: the page must not say paid
        assert first == "paying" and "已支付" not in words
        browser.screenshot(f"{name}-3-waiting")
    browser.wait_for(PAID)
    assert browser.text("#state") == "已支付"
    browser.screenshot(f"{name}-4-paid")
    engine = Engine.from_url(db_url, clock=SystemClock())
    try:
        assert engine.bill("school", "T2026-001").paid_fen == 488_000
        assert engine.check_books() == []
    finally:
        engine.close()


def test_a_shopper_scans_the_stall_code_types_an_amount_and_pays(
    browser: Browser, server: tuple[str, str]
) -> None:
    base, db_url = server
    name = f"stall-{backend(db_url)}"
    browser.open(f"{base}/pay/b/stall")
    assert browser.text("header h1") == "刘记水果摊"
    browser.type("#amount", "12.345")
    browser.click("button[name=flow]")
    browser.wait_for("return document.getElementById('error') !== null")
    assert browser.text("#error") == "amount: '12.345' has more than two decimals"
    browser.screenshot(f"{name}-1-refused")
    browser.script("document.getElementById('amount').value = ''")
    browser.type("#amount", "12.50")
    browser.click("button[name=flow]")
    browser.wait_for("return document.getElementById('sandbox-pay') !== null")
    browser.click("#sandbox-pay")
    browser.wait_for(PAID)
    assert browser.text("#state") == "已支付" and "¥12.50" in browser.text("main")
    browser.screenshot(f"{name}-2-paid")


def test_a_household_tops_up_alone_for_the_amount_it_types(
    browser: Browser, server: tuple[str, str]
) -> None:
    base, db_url = server
    name = f"topup-{backend(db_url)}"
    browser.open(f"{base}/pay/lookup?biller=water&identifier=0101")
    browser.wait_for("return document.querySelector('input[name=open_amount]') !== null")
    assert browser.text("#total") == "¥120.00"  # the arrears, ticked; the top-up is not
    assert (
        browser.script("return document.querySelector('input[value=\"TU-0101\"]').checked") is False
    )
    browser.click("input[name=bill_no][value=W1]")  # untick the arrears
    browser.click("input[name=bill_no][value=TU-0101]")
    browser.type("input[name=open_amount]", "300.00")
    browser.screenshot(f"{name}-1-bills")
    browser.click("button[name=flow][value=wechat_jsapi]")
    browser.wait_for("return document.getElementById('sandbox-pay') !== null")
    assert "¥300.00" in browser.text(".amount")
    browser.click("#sandbox-pay")
    browser.wait_for(PAID)
    browser.screenshot(f"{name}-2-paid")
    engine = Engine.from_url(db_url, clock=SystemClock())
    try:
        assert engine.bill("water", "TU-0101").paid_fen == 30_000
        assert engine.bill("water", "W1").paid_fen == 0
        assert engine.check_books() == []
    finally:
        engine.close()


def test_a_parent_opens_a_complaint_from_the_bill_page_and_follows_it(
    browser: Browser, server: tuple[str, str]
) -> None:
    base, db_url = server
    name = f"complaint-{backend(db_url)}"
    browser.open(f"{base}/pay/b/school/bills/T2026-001")
    browser.click("#complain")
    browser.wait_for("return document.getElementById('complaint-form') !== null")
    assert browser.script("return document.getElementById('bill_no').value") == "T2026-001"
    browser.type("#channel_ref", "4200002026090112345678")
    browser.type("#description", "已付款但账单显示未缴")
    browser.screenshot(f"{name}-1-form")
    browser.click("#complaint-form button[type=submit]")
    browser.wait_for("return document.getElementById('complaint') !== null")
    number = browser.text("#complaint-no")
    assert number.startswith("CP") and browser.text("#state") == "待处理"
    assert browser.text("#answer") == "支付渠道未查到该笔付款，转人工处理"  # nothing was paid
    browser.screenshot(f"{name}-2-opened")
    browser.open(f"{base}/pay/b/school/complaints")
    browser.type("#follow_bill_no", "T2026-001")
    browser.type("#complaint_no", number)
    browser.click("#follow-form button[type=submit]")
    browser.wait_for("return document.getElementById('complaint-no') !== null")
    assert browser.text("#complaint-no") == number
    engine = Engine.from_url(db_url, clock=SystemClock())
    try:
        assert engine.audit_log("complaint", number)[0]["action"] == "complaint_open"
    finally:
        engine.close()
