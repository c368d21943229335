"""Charts drawn on the server as SVG: horizontal bars (a value per label) and columns (a value
per day). Plain SVG with presentation attributes — no script, no inline style — so the
console's Content-Security-Policy holds; every text is escaped. Each chart has a ``<title>``
and each bar its own, read by screen readers and shown on hover."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

__all__ = ["bars", "columns"]

INK, MUTED, LINE = "#1f2933", "#616e7c", "#d9e2ec"
PALETTE = ("#1c5d99", "#207544", "#a35d00", "#7b3fa0", "#b42318", "#0f766e")
Fmt = Callable[[int], str]


def _frame(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="chart-svg">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def bars(
    title: str, items: Sequence[tuple[str, int]], fmt: Fmt, *, scale: int | None = None
) -> Markup:
    """A horizontal bar per ``(label, value)``; ``scale`` is the full bar's value (the largest
    value when not given, e.g. 100 for percentages)."""
    width, row, left, right = 520, 26, 130, 110
    if not items:
        return _frame(width, 40, title, [f'<text x="8" y="24" fill="{MUTED}">暂无数据</text>'])
    top = max(scale or 0, *(abs(v) for _, v in items), 1)
    span = width - left - right
    body = []
    for i, (name, value) in enumerate(items):
        y = 6 + i * row
        length = round(span * abs(value) / top)
        colour = PALETTE[i % len(PALETTE)]
        body.append(
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" fill="{INK}" '
            f'font-size="13">{escape(name[:12])}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{max(length, 1)}" height="{row - 8}" '
            f'fill="{colour}"><title>{escape(name)}：{escape(fmt(value))}</title></rect>'
            f'<text x="{left + length + 6}" y="{y + 16}" fill="{INK}" font-size="12">'
            f"{escape(fmt(value))}</text>"
        )
    return _frame(width, 12 + len(items) * row, title, body)


def columns(title: str, items: Sequence[tuple[str, int]], fmt: Fmt) -> Markup:
    """A column per ``(day label, value)``, left to right, labelled under the axis."""
    width, height, bottom, top_gap = 520, 200, 34, 22
    if not items:
        return _frame(width, 40, title, [f'<text x="8" y="24" fill="{MUTED}">暂无数据</text>'])
    peak = max(max(v for _, v in items), 1)
    slot = (width - 20) / len(items)
    plot = height - bottom - top_gap
    body = [f'<line x1="10" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
            f'stroke="{LINE}"/>']  # fmt: skip
    for i, (name, value) in enumerate(items):
        h = round(plot * max(value, 0) / peak)
        x = 10 + i * slot
        body.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{height - bottom - h}" width="{slot * 0.7:.1f}" '
            f'height="{max(h, 1)}" fill="{PALETTE[0]}"><title>{escape(name)}：'
            f"{escape(fmt(value))}</title></rect>"
            f'<text x="{x + slot / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
            f'fill="{MUTED}" font-size="11">{escape(name)}</text>'
        )
    best = max(range(len(items)), key=lambda i: items[i][1])  # the peak is labelled
    x, y = 10 + best * slot + slot / 2, height - bottom - round(plot * max(peak, 0) / peak) - 6
    body.append(
        f'<text x="{x:.1f}" y="{y}" text-anchor="middle" fill="{INK}" font-size="11">'
        f"{escape(fmt(items[best][1]))}</text>"
    )
    return _frame(width, height, title, body)
