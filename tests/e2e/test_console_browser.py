"""The console in headless Chromium: ``billfold serve`` over a seeded database, a person of
each role logging in through the login page; the administrator rotates an API key end to
end and the new secret opens the API. Screenshots go to ``tests/artifacts/console-*.png``."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from billfold import Engine
from billfold.adapters.http.keys import create_key
from billfold.merchants.roles import Role

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def console_seed() -> Callable[[Engine], None]:
    def seed(engine: Engine) -> None:
        create_key(engine, "s1", [Role.BURSAR], "学校财务系统", actor="t", reason="t")
        classes = "bill_no,payer_id,payer_name,amount,sub_unit\n" + "".join(
            f"C{n},20260{n:02d},学生{n},{300 + 10 * n}.00,七年级{n % 3 + 1}班\n" for n in range(12)
        )
        engine.import_bills("s1", classes.encode())
        for n, channel in enumerate(("counter", "wechatpay", "alipay", "counter", "qr")):
            order = engine.create_order("s1", [f"C{n}"])
            engine.confirm(channel, f"TX-{n}", order.order_no, 30_000 + 1_000 * n)

    return seed


def test_the_admin_rotates_a_key_and_the_new_secret_opens_the_api(console, console_browser) -> None:  # type: ignore[no-untyped-def]
    browser, base = console_browser, console.base
    console.login(browser, "admin")
    assert browser.text("#who") == "系统管理员 · 系统管理员 · 全部商户"
    browser.screenshot("console-admin-1-home")
    browser.open(f"{base}/console/admin/keys")
    browser.wait_for("return document.getElementById('keys') !== null")
    assert "学校财务系统" in browser.text("#keys")
    engine = console.engine()
    try:
        key_id = next(k for k in engine_keys(engine) if k[1] == "学校财务系统")[0]
    finally:
        engine.close()
    browser.click(f"#actions-{key_id} summary")
    form = f"#rotate-{key_id}"
    browser.script(f"document.querySelector('{form} select[name=grace_hours]').value = '0'")
    browser.type(f"{form} input[name=reason]", "密钥泄露")
    browser.screenshot("console-admin-2-keys")
    browser.click(f"{form} button[type=submit]")
    browser.wait_for("return document.getElementById('secret') !== null")
    secret = browser.text("#secret")
    assert secret.startswith(f"bf_{key_id}_")
    assert "旧密钥立即失效" in browser.text("#what")
    browser.screenshot("console-admin-3-rotated")
    answer = httpx.get(f"{base}/v1/bills", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    browser.open(f"{base}/console/admin/keys")  # shown once: never again
    browser.wait_for("return document.getElementById('keys') !== null")
    assert browser.script("return document.getElementById('secret')") is None
    engine = console.engine()
    try:
        rotated = [
            a for a in engine.audit_log("api_key", key_id) if a["action"] == "api_key.rotate"
        ]
    finally:
        engine.close()
    assert rotated and rotated[0]["actor"] == "系统管理员 (console admin)"
    assert rotated[0]["reason"] == "密钥泄露"


def test_a_bursar_is_refused_the_admin_pages_with_a_page_in_chinese(
    console, console_browser
) -> None:  # type: ignore[no-untyped-def]
    browser = console_browser
    console.login(browser, "bursar-s1")
    assert "商户 s1" in browser.text("#who")
    assert (
        browser.script("return document.querySelector('a[href=\"/console/admin/keys\"]')") is None
    )
    browser.open(f"{console.base}/console/admin/keys")
    browser.wait_for("return document.getElementById('error') !== null")
    assert "系统管理员" in browser.text("#error")
    browser.resize(1024, 768)  # a tablet held sideways: nothing wider than the screen
    assert browser.script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.screenshot("console-bursar-refused-tablet")
    browser.resize(1280, 900)


def test_each_role_sees_its_home_with_todays_charts(console, console_browser) -> None:  # type: ignore[no-untyped-def]
    browser = console_browser
    for username, charts in (
        ("bursar-s1", ("各班级/单位缴费率", "近 14 天每日收款")),
        ("reconciler", ("今日各渠道收款", "在途资金（按账龄）", "待处理差错（按类型）")),
        ("supervisor", ("今日各渠道收款",)),
    ):
        console.login(browser, username)
        browser.wait_for("return document.querySelector('#charts svg') !== null")
        text = browser.text("#charts")
        assert all(title in text for title in charts), (username, text)
        assert "¥1600.00" in browser.text("#cards")  # today's five payments
        browser.screenshot(f"console-home-{username}")


def engine_keys(engine: Engine) -> list[tuple[str, str]]:
    from billfold.adapters.http.keys import list_keys

    return [(k.key_id, k.label) for k in list_keys(engine)]
