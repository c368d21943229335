"""What every ``list`` command shares: filters as ``-f NAME=VALUE`` (the API's names),
``--sort``, ``--limit``, ``--cursor`` or ``--all`` pages, and three ways out — a table with
Chinese headers, ``--json`` (codes, amounts in fen), or ``--out FILE.csv|FILE.xlsx``
(UTF-8 with BOM, Chinese headers and labels). Personal data is masked unless
``--unmasked``, which needs ``--reason`` and ``--by`` and is written to the audit log."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from billfold.adapters.cli.common import DbUrl, fail, open_engine
from billfold.errors import BillfoldError

if TYPE_CHECKING:  # rich and the exports are imported when a list is shown
    from rich.console import Console

    from billfold.collection.listing import ListSpec


def _jsonable(value: Any) -> Any:
    """Times and dates as ISO 8601 text."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


__all__ = ["add_list_command", "filters_help", "run_list"]

WIDE = 240  # a list has many columns: when not on a terminal, do not squeeze them


def _console() -> Console:
    """stdout as it is now (a terminal keeps its own width)."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else WIDE)


Filters = Annotated[
    list[str] | None,
    typer.Option("--filter", "-f", help="NAME=VALUE (repeat); see the filters above"),
]
Sort = Annotated[str | None, typer.Option(help="sort key; a leading '-' sorts descending")]
Limit = Annotated[int, typer.Option(help="rows per page (1-500)")]
Cursor = Annotated[str | None, typer.Option(help="the next page's cursor, as printed")]
AllPages = Annotated[bool, typer.Option("--all", help="every page, not only the first")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON (codes, amounts in fen)")]
OutFile = Annotated[Path | None, typer.Option("--out", help="export to FILE.csv or FILE.xlsx")]
Unmasked = Annotated[
    bool, typer.Option("--unmasked", help="personal data in full (needs --reason and --by)")
]
Reason = Annotated[str, typer.Option(help="why personal data is shown in full (audited)")]
By = Annotated[str, typer.Option(help="who asks (audited)")]


def filters_help(name: str) -> str:
    from billfold.collection.lists import LISTS

    spec = LISTS[name]
    lines = [
        f"{f.name}: {f.help}" + (f" ({', '.join(f.choices)})" if f.choices else "")
        for f in spec.filters
    ]
    sorts = ", ".join(spec.sort_names())
    return "\n\nFilters (-f NAME=VALUE):\n\n" + "\n\n".join(lines) + f"\n\nSort keys: {sorts}"


def _params(filters: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for given in filters or []:
        name, eq, value = given.partition("=")
        if not eq or not name.strip():
            fail(f"--filter: {given!r} is not NAME=VALUE")
        if name.strip() in params:
            fail(f"--filter: {name.strip()} given twice")
        params[name.strip()] = value
    return params


def run_list(
    name: str,
    *,
    database_url: DbUrl,
    filters: list[str] | None,
    extra: dict[str, str | None] | None = None,
    sort: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    every: bool = False,
    as_json: bool = False,
    out_file: Path | None = None,
    unmasked: bool = False,
    reason: str = "",
    by: str = "",
) -> None:
    """Fetch the list (one page, or ``every`` page) and show or export it."""
    from rich.table import Table

    from billfold.collection.lists import LISTS
    from billfold.settlement.list_exports import list_sheet, list_texts

    spec = LISTS[name]
    params = _params(filters)
    for key, value in (extra or {}).items():
        if value is not None:
            params[key] = value
    if sort:
        params["sort"] = sort
    params["limit"] = str(limit)
    if cursor:
        params["cursor"] = cursor
    fmt = None
    if out_file is not None:
        from billfold.settlement.exports import export_format, write_sheet

        try:
            fmt = export_format(out_file.name)
        except BillfoldError as exc:
            fail(exc.message)
    rows: list[dict[str, Any]] = []
    with open_engine(database_url) as engine:
        page = engine.find(name, params)  # a bad filter is refused before anything is audited
        if unmasked:
            engine.record_unmasked_export(name, params, by=by, reason=reason)
        rows.extend(page.rows)
        while every and page.next_cursor:
            page = engine.find(name, {**params, "cursor": page.next_cursor})
            rows.extend(page.rows)
    if out_file is not None and fmt is not None:
        with out_file.open("wb") as handle:
            write_sheet(list_sheet(spec, rows, mask=not unmasked), handle, fmt)
        _console().print(f"{out_file}: {len(rows)} 行")
    elif as_json:
        if not unmasked:
            rows = [_masked(spec, row) for row in rows]
        print(
            json.dumps(
                {"items": rows, "next_cursor": page.next_cursor},
                ensure_ascii=False,
                default=_jsonable,
                indent=2,
            )
        )
    else:
        table = Table(*[c.header for c in spec.columns], title=spec.title)
        for cells in list_texts(spec, rows, mask=not unmasked):
            table.add_row(*cells)
        console = _console()
        console.print(table)
        if page.next_cursor:
            console.print(f"下一页: --cursor {page.next_cursor}", soft_wrap=True)


def _masked(spec: ListSpec, row: dict[str, Any]) -> dict[str, Any]:
    from billfold.masking import mask_value

    personal = {c.key: c.personal for c in spec.columns if c.personal}
    return {
        k: mask_value(personal[k], v) if k in personal and v is not None else v
        for k, v in row.items()
    }


class _ListCommand(TyperCommand):
    """A list command whose help ends with its filters and sort keys, looked up in the list's
    spec (the domain's enums) when the help is shown, not when the command is registered."""

    list_name = ""

    @property
    def help(self) -> str | None:
        return self._summary + filters_help(self.list_name)

    @help.setter
    def help(self, value: str | None) -> None:
        self._summary = value or ""


def add_list_command(app: typer.Typer, name: str, summary: str, command: str = "list") -> None:
    """Register ``command`` on ``app``: list ``name`` with the shared options."""
    listed = type("ListCommand", (_ListCommand,), {"list_name": name})

    def list_command(
        filters: Filters = None,
        sort: Sort = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        every: AllPages = False,
        as_json: AsJson = False,
        out_file: OutFile = None,
        unmasked: Unmasked = False,
        reason: Reason = "",
        by: By = "",
        database_url: DbUrl = None,
    ) -> None:
        run_list(
            name,
            database_url=database_url,
            filters=filters,
            sort=sort,
            limit=limit,
            cursor=cursor,
            every=every,
            as_json=as_json,
            out_file=out_file,
            unmasked=unmasked,
            reason=reason,
            by=by,
        )

    # the group's help lists the summary alone, without looking the filters up
    app.command(command, help=summary, short_help=summary, cls=listed)(list_command)
