"""The supervisor's day in headless Chromium: the presale project's escrow, contracts and
milestone limits, a release proposed by the developer's clerk approved by the supervisor
(the stage's limit checked then), and the pushes to the bureau with what was sent.
Screenshots go to ``tests/artifacts/console-supervisor-*.png``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from billfold import Engine
from billfold.demo.gov_presale import BUREAU_CODE, CONTRACTS, DEVELOPER, setup_presale
from billfold.maker_checker import MakerChecker
from billfold.packs.presale import PresaleDesk

pytestmark = pytest.mark.slow


def flash(browser, text: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for the page after an action: its message (the page before may show another)."""
    browser.wait_for(
        "const f = document.getElementById('flash'); "
        f"return f !== null && f.textContent.includes({text!r})"
    )


@pytest.fixture(scope="module")
def console_seed() -> Callable[[Engine], None]:
    def seed(engine: Engine) -> None:
        desk = setup_presale(engine)
        order = engine.create_order(DEVELOPER, [CONTRACTS[0].contract_no], amount_fen=10_000_000)
        assert engine.confirm("pos", "T9:000001:000001", order.order_no, 10_000_000).credited
        desk.sync()
        payload = {
            "bureau_code": BUREAU_CODE, "amount_fen": 2_000_000, "request_id": "REL-C1",
            "reason": "基础工程款", "by": "开发商赵会计",
        }  # fmt: skip
        MakerChecker(engine).propose(
            "escrow.release", payload, maker="user:dev-zhao", reason="基础工程款",
            biller_code=DEVELOPER,
        )  # fmt: skip

    return seed


def test_the_supervisor_sees_the_escrow_and_approves_a_release_within_the_stage_limit(  # type: ignore[no-untyped-def]
    console, console_browser
) -> None:
    browser, base = console_browser, console.base
    console.login(browser, "supervisor")
    browser.open(f"{base}/console/escrow")
    browser.wait_for("return document.getElementById('projects') !== null")
    assert "丽景苑一期" in browser.text("#projects")
    browser.screenshot("console-supervisor-1-projects")
    browser.click(f"#project-{BUREAU_CODE}")
    browser.wait_for("return document.getElementById('release-proposals') !== null")
    assert "基础工程完成" in browser.text("#stage") and "尚可拨付 30000.00" in browser.text(
        "#stage"
    )
    assert "20000.00" in browser.text("#release-proposals")
    assert "HZJG" not in browser.text("#pushes")  # not pushed yet: no receipt
    assert "待推送" in browser.text("#pushes")
    browser.screenshot("console-supervisor-2-project")
    browser.click("#release-proposals form[id^=approve-] button[type=submit]")
    flash(browser, "已批准复核申请")
    assert browser.text("#released") == "20000.00"
    assert "REL-C1" in browser.text("#releases")
    assert "没有待审核的拨付申请" in browser.text("#release-proposals")
    assert "拨付" in browser.text("#pushes")  # the release's push is queued for the bureau
    browser.screenshot("console-supervisor-3-released")

    engine = console.engine()
    try:
        book = PresaleDesk(engine).balance(BUREAU_CODE)
        assert (book.released_fen, book.balance_fen) == (2_000_000, 8_000_000)
        assert engine.check_books() == []
    finally:
        engine.close()
