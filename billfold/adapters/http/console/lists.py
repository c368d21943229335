"""A back-office list on a page: one keyset page of ``Engine.find`` (filters from the query
string, the user's biller applied in SQL), its cells in Chinese (labels, yuan, masked
personal data) and the links to the next and the first page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import console_state
from billfold.collection.listing import ListSpec
from billfold.settlement.list_exports import list_texts

__all__ = ["ListView", "list_view"]


@dataclass(frozen=True, slots=True)
class ListView:
    spec: ListSpec
    rows: list[dict[str, Any]]  # codes and fen, for links and actions
    texts: list[list[str]]  # what the table shows
    next_url: str | None
    first_url: str | None

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.spec.columns]


def list_view(
    request: Request, user: ConsoleUser, list_name: str, fixed: Mapping[str, str] | None = None
) -> ListView:
    """One page of ``list_name`` as the user may see it. Filters, ``sort``, ``limit`` and
    ``cursor`` come from the query string (a bad one: a 400 page naming it); ``fixed``
    filters are the page's own and win over the query's."""
    params = {k: v for k, v in request.query_params.items() if v.strip()}
    params.update(fixed or {})
    engine = console_state(request).engine
    page = engine.find(list_name, params, tenant=user.biller_id)
    kept = {k: v for k, v in params.items() if k != "cursor"}
    here = request.url.path
    following = {**kept, "cursor": page.next_cursor} if page.next_cursor else None
    next_url = f"{here}?{urlencode(following)}" if following else None
    first_url = f"{here}?{urlencode(kept)}" if "cursor" in params else None
    return ListView(page.spec, page.rows, list_texts(page.spec, page.rows), next_url, first_url)
