"""The console's SVG charts: every text escaped, a bar per item scaled to the largest (or to
the scale given), an empty chart saying so, no script and no inline style."""

from __future__ import annotations

import re

from billfold.adapters.http.console.charts import bars, columns


def test_bars_escape_their_labels_and_scale_to_the_largest() -> None:
    svg = str(bars("渠道", [("<b>柜台</b>", 300), ("微信支付", 150)], lambda v: f"¥{v}"))
    assert "<b>" not in svg and "&lt;b&gt;柜台" in svg
    widths = [int(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="(\d+)"', svg)]
    assert widths[0] == 2 * widths[1]
    assert "<script" not in svg and "style=" not in svg


def test_a_percentage_bar_is_scaled_to_the_whole() -> None:
    svg = str(bars("缴费率", [("七年级三班", 5_000)], str, scale=10_000))
    (width,) = re.findall(r'<rect x="\d+" y="\d+" width="(\d+)"', svg)
    assert int(width) == (520 - 130 - 110) // 2


def test_an_empty_chart_says_there_is_no_data() -> None:
    assert "暂无数据" in str(bars("x", [], str)) and "暂无数据" in str(columns("x", [], str))


def test_columns_draw_a_column_per_day_and_label_the_peak() -> None:
    svg = str(columns("每日", [("09-01", 100), ("09-02", 400), ("09-03", 0)], str))
    assert len(re.findall(r"<rect ", svg)) == 3
    assert ">400</text>" in svg and ">09-03</text>" in svg
