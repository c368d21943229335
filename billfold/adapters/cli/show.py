"""``show`` commands print one record: a two-column table (Chinese names, labels for codes,
yuan for money) or, with ``--json``, the codes and amounts in fen."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def _jsonable(value: Any) -> Any:
    """Times and dates as ISO 8601 text."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


__all__ = ["print_record"]


def print_record(
    title: str,
    fields: Sequence[tuple[str, str]],
    data: dict[str, Any],
    *,
    as_json: bool,
    lines: tuple[Sequence[str], Sequence[Sequence[str]]] | None = None,
) -> None:
    """``fields`` are (Chinese name, text) pairs for the table; ``data`` is the JSON."""
    if as_json:
        print(json.dumps(data, ensure_ascii=False, default=_jsonable, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, soft_wrap=True)
    table = Table("项目", "内容", title=title, show_header=False)
    for name, text in fields:
        table.add_row(name, text)
    out.print(table)
    if lines is not None:
        headers, rows = lines
        detail = Table(*headers)
        for row in rows:
            detail.add_row(*row)
        out.print(detail)
