"""The printable receipt laid out by a real browser (headless Chromium, as in
test_cashier_browser): each fact on its own line, labels in one column — also when a value is
empty, which used to float the labels after it beside each other (a staircase)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from test_cashier_browser import Browser, browser, pytestmark  # noqa: F401 - the fixture

from billfold.collection.receipt import Receipt, ReceiptLine

LAYOUT = """
return [...document.querySelectorAll('table.facts tr')].map(function (row) {
  var label = row.querySelector('th').getBoundingClientRect();
  var value = row.querySelector('td').getBoundingClientRect();
  return [label.left, label.top, value.left, label.bottom];
});
"""


def test_the_receipts_facts_stack_in_two_columns_even_with_an_empty_value(
    browser: Browser,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    receipt = Receipt(
        receipt_no="R202609010000000018",
        office_code="traffic",
        office_name="杭州市公安局交通警察支队",
        payer_name="",  # no name on record
        bill_no="杭公交决字〔2026〕第330100001号",
        decision_no="杭公交决字〔2026〕第330100001号",
        channel="pos",
        channel_txn_id="T0000001:000001:000001",
        paid_at=datetime(2026, 9, 1, 2, 0, tzinfo=UTC),
        lines=(ReceiptLine("penalty", "加处罚款", 7_200), ReceiptLine("fine", "罚款", 20_000)),
        verify_key="k" * 32,
    )
    page = tmp_path / "receipt.html"
    page.write_text(receipt.to_html(), encoding="utf-8")
    browser.open(page.as_uri())
    rows = browser.script(LAYOUT)
    assert len(rows) == len(receipt.facts()) == 8
    assert len({round(left) for left, _, _, _ in rows}) == 1  # the labels: one column
    assert len({round(value) for _, _, value, _ in rows}) == 1  # the values: another
    tops = [top for _, top, _, _ in rows]
    bottoms = [bottom for _, _, _, bottom in rows]
    assert all(b <= t + 0.5 for b, t in zip(bottoms, tops[1:], strict=False))  # one under another
    assert browser.text("#capitals") == "合计（大写） 贰佰柒拾贰元整"
    browser.screenshot("receipt-html")
