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


def engine_keys(engine: Engine) -> list[tuple[str, str]]:
    from billfold.adapters.http.keys import list_keys

    return [(k.key_id, k.label) for k in list_keys(engine)]
