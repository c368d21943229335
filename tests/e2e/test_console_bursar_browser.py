"""The bursar's day in headless Chromium, against ``billfold serve``: log in, import a bill
file — first one with bad lines (the errors shown in Chinese, nothing written), then a good
one —, open the chase list and export it, and make the notices of a class as one PDF.
Screenshots go to ``tests/artifacts/console-bursar-*.png``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from billfold import Engine

pytestmark = pytest.mark.slow

OVERDUE = (date.today() - timedelta(days=20)).isoformat()
LATER = (date.today() + timedelta(days=20)).isoformat()
CLASS_BILLS = (
    "账单号,学号,姓名,电话,金额,截止日期,班级,学期\n"
    f"K1,2026301,周小雨,13900000301,4880.00,{OVERDUE},七年级/1班,2026秋\n"
    f"K2,2026302,吴小川,13900000302,4880.00,{OVERDUE},七年级/1班,2026秋\n"
    f"K3,2026303,郑小山,13900000303,4880.00,{LATER},七年级/2班,2026秋\n"
)
BAD = (
    "账单号,学号,姓名,电话,金额,截止日期,班级,学期\n"
    f"K4,2026304,王小林,13900000304,4880.00,{LATER},七年级/1班,2026秋\n"
    f"K5,2026305,冯小海,13900000305,4880.x0,{LATER},七年级/1班,2026秋\n"
    f"K6,,陈小溪,13900000306,4880.00,2026-02-30,七年级/1班,2026秋\n"
)
GOOD = (
    "账单号,学号,姓名,电话,金额,截止日期,班级,学期\n"
    f"K4,2026304,王小林,13900000304,4880.00,{OVERDUE},七年级/1班,2026秋\n"
    f"K5,2026305,冯小海,13900000305,4880.00,{LATER},七年级/1班,2026秋\n"
)


@pytest.fixture(scope="module")
def console_seed() -> Callable[[Engine], None]:
    def seed(engine: Engine) -> None:
        engine.import_bills("s1", CLASS_BILLS.encode())

    return seed


def _count(console: Any) -> int:
    engine = console.engine()
    try:
        return len(engine.find("bills", {"biller": "s1", "limit": "500"}).rows)
    finally:
        engine.close()


def _get(browser: Any, url: str) -> httpx.Response:
    """What the browser would download from ``url``, with its session cookie."""
    cookies = {c["name"]: c["value"] for c in browser.call("GET", f"{browser.session}/cookie")}
    return httpx.get(url, cookies=cookies, timeout=60)


def _upload(browser: Any, path: Path) -> None:
    browser.type("#bill-file", str(path))
    browser.click("#import-form button[type=submit]")


def test_the_bursar_imports_chases_exports_and_makes_a_classs_notices(  # type: ignore[no-untyped-def]
    console, console_browser, tmp_path: Path
) -> None:
    browser, base = console_browser, console.base
    console.login(browser, "bursar-s1")
    browser.screenshot("console-bursar-1-home")

    browser.open(f"{base}/console/bills")
    browser.wait_for("return document.getElementById('bills') !== null")
    browser.click("#to-import")
    browser.wait_for("return document.getElementById('import-form') !== null")
    before = _count(console)
    bad, good = tmp_path / "九月-有错.csv", tmp_path / "九月.csv"
    bad.write_text(BAD, encoding="utf-8")
    good.write_text(GOOD, encoding="utf-8")
    _upload(browser, bad)
    browser.wait_for("return document.getElementById('import-refused') !== null")
    assert "有 2 处错误，未导入任何账单" in browser.text("#import-refused")
    errors = browser.text("#line-errors")
    assert "3 金额 '4880.x0' 不是有效金额（应如 12.34）" in errors
    assert "4 缴费人编号 不能为空" in errors
    browser.screenshot("console-bursar-2-import-refused")
    assert _count(console) == before  # nothing written

    _upload(browser, good)
    browser.wait_for("return document.getElementById('import-done') !== null")
    assert "新建 2 张账单" in browser.text("#import-done")
    browser.screenshot("console-bursar-3-imported")
    assert _count(console) == before + 2

    browser.open(f"{base}/console/chase?overdue=true&sub_unit=七年级/1班")
    browser.wait_for("return document.getElementById('chase') !== null")
    shown = browser.text("#chase")
    assert "K1" in shown and "K4" in shown and "K3" not in shown and "K5" not in shown
    assert "139****0301" in shown and "13900000301" not in shown
    browser.screenshot("console-bursar-4-chase")
    href = browser.script("return document.getElementById('export-xlsx').href")
    exported = _get(browser, href)
    assert exported.status_code == 200 and exported.content.startswith(b"PK")
    csv_href = browser.script("return document.getElementById('export-csv').href")
    text = _get(browser, csv_href).content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("账单号,班级/单位,账期,缴费人编号,缴费人,联系电话")
    assert "139****0304" in text and "13900000304" not in text

    browser.wait_for("return document.getElementById('notices-form') !== null")
    assert browser.script("return document.querySelector('#notices-form [name=grade]').value") == (
        "七年级"
    )
    browser.type("#notices-form input[name=term]", "2026秋")
    browser.screenshot("console-bursar-5-notices-form")
    notices = browser.script(
        "const f = document.getElementById('notices-form');"
        "return f.action + '?' + new URLSearchParams(new FormData(f)).toString();"
    )
    made = _get(browser, notices)
    assert made.status_code == 200, made.text[:300]
    assert made.headers["content-type"] == "application/pdf" and made.content.startswith(b"%PDF")
    browser.resize(1024, 768)  # a tablet held sideways: nothing wider than the screen
    assert browser.script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    browser.resize(1280, 900)
