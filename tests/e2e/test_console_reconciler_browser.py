"""The reconciler's day in headless Chromium: upload a WeChat Pay statement, see what the run
came to, propose writing a discrepancy off (maker), find it refused to its maker, and a
second person approves it (checker) — the money is booked once. Screenshots go to
``tests/artifacts/console-recon-*.png``."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from console_recon import LOST  # type: ignore[import-not-found]

from billfold import Engine
from billfold.settlement.discrepancy import Action, DiscrepancyStatus
from billfold.settlement.reconciler import Reconciler

pytestmark = pytest.mark.slow


def flash(browser, text: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for the page after an action: its message (the page before may show another)."""
    browser.wait_for(
        "const f = document.getElementById('flash'); "
        f"return f !== null && f.textContent.includes({text!r})"
    )


@pytest.fixture(scope="module")
def console_seed() -> Callable[[Engine], None] | None:
    return None


def _open(browser, url: str, element: str) -> None:  # type: ignore[no-untyped-def]
    browser.open(url)
    browser.wait_for(f"return document.getElementById('{element}') !== null")


def test_the_reconciler_runs_a_statement_and_a_second_person_approves_the_write_off(  # type: ignore[no-untyped-def]
    console, console_browser, tmp_path
) -> None:
    browser, base = console_browser, console.base
    statement = tmp_path / "wechatpay-20260901.csv"
    statement.write_text(LOST, encoding="utf-8")
    console.login(browser, "reconciler")
    _open(browser, f"{base}/console/recon", "run-form")
    assert "0-1天" in browser.text("#transit")
    browser.type("#run-form input[name=file]", str(statement))
    browser.script("document.querySelector('#run-form select[name=format]').value = 'wechatpay'")
    browser.script("document.querySelector('#run-form input[name=date]').value = '2026-09-01'")
    browser.click("#run-form input[name=whole_channel]")
    browser.type("#run-form input[name=reason]", "9月1日微信对账")
    browser.screenshot("console-recon-1-upload")
    browser.click("#run-form button[type=submit]")
    flash(browser, "已对账")
    assert "长款（渠道有系统无）" in browser.text("#by-code")
    assert "长款（渠道有系统无）：渠道有此笔 120.00，系统无记录" in browser.text("#discrepancies")
    browser.screenshot("console-recon-2-outcome")

    engine = console.engine()
    try:
        (found,) = Reconciler(engine).discrepancies(status=DiscrepancyStatus.OPEN)
    finally:
        engine.close()
    browser.click(f"#actions-{found.id} summary")
    form = f"#resolve-{found.id}"
    browser.script(f"document.querySelector('{form} select[name=action]').value = 'write_off'")
    browser.type(f"{form} input[name=reason]", "渠道确认为测试交易，核销")
    browser.click(f"{form} button[type=submit]")
    flash(browser, "核销已提交复核")
    assert "待处理" in browser.text(f"#d-{found.id} .status")  # nothing booked yet
    browser.screenshot("console-recon-3-proposed")

    _open(browser, f"{base}/console/approvals", "waiting")
    assert "本人发起，须由他人审核" in browser.text("#waiting")  # no approve button for the maker
    assert browser.script("return document.querySelector('#waiting form')") is None

    console.login(browser, "supervisor")  # the checker: a second person
    _open(browser, f"{base}/console/approvals", "waiting")
    assert "差错核销" in browser.text("#waiting")
    browser.screenshot("console-recon-4-queue")
    browser.click("#waiting form[id^=approve-] button[type=submit]")
    flash(browser, "已批准复核申请")
    assert "已批准" in browser.text("#decided")
    browser.screenshot("console-recon-5-approved")

    engine = console.engine()
    try:
        done = Reconciler(engine).discrepancy(found.id or 0)
        assert done.status is DiscrepancyStatus.RESOLVED and done.action is Action.WRITE_OFF
        assert done.resolved_by is not None and "checked by user:supervisor" in done.resolved_by
        assert engine.trial_balance()["recon_differences"] == -12_000
        assert engine.check_books() == []
        audits = [a["action"] for a in engine.audit_log("approval", "1")]
        assert audits == ["approval.propose", "approval.approve"], json.dumps(audits)
    finally:
        engine.close()
