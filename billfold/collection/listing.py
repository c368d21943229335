"""Lists as query objects: what a back-office list may be filtered and sorted by, a query
parsed from plain ``name=value`` text (the API's query string, the CLI's ``-f`` options),
and the opaque cursor that carries a page's position.

Pagination is by keyset: a page ends at a row's sort key and id, and the next page starts
strictly after it, so rows inserted meanwhile never shift a page (no row is seen twice or
skipped; a new row shows up on a later page only if it sorts after the position).

A cursor is ``base64url(json).base64url(hmac)``: signed with the engine's cursor key and tied
to its list, sort and filters, so a damaged, forged or reused-elsewhere cursor is refused
(:class:`~billfold.errors.BadCursor`) instead of silently paging something else. The tenant
filter never comes from a cursor: it is applied in SQL from who is asking.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from billfold.clock import ensure_utc
from billfold.errors import BadCursor, BadQuery, InvalidInput
from billfold.money import parse_yuan

__all__ = [
    "RESERVED",
    "Column",
    "Filter",
    "ListQuery",
    "ListSpec",
    "Page",
    "decode_cursor",
    "encode_cursor",
    "parse_query",
]

FilterKind = Literal["text", "code", "date", "datetime", "money", "int"]
KeyKind = Literal["int", "text", "date", "datetime"]
CellKind = Literal["text", "money", "count", "date", "datetime"]
RESERVED = ("sort", "limit", "cursor")
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    kind: FilterKind
    help: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a list as people read it: ``header`` in Chinese, codes shown through
    ``label`` (a kind of :mod:`billfold.labels`), ``personal`` data masked by kind."""

    key: str
    header: str
    kind: CellKind = "text"
    label: str | None = None
    personal: str | None = None  # name, phone, id_number, account


@dataclass(frozen=True, slots=True)
class ListSpec:
    """One list: its filters, its sort keys (name → key type; the first is the default,
    newest first, unless ``default_order`` names another, e.g. ``"due_date"``) and its
    columns."""

    name: str
    title: str  # Chinese, for sheets and tables
    filters: tuple[Filter, ...]
    sorts: Mapping[str, KeyKind]
    columns: tuple[Column, ...]
    default_order: str = ""

    def filter(self, name: str) -> Filter | None:
        return next((f for f in self.filters if f.name == name), None)

    @property
    def default_sort(self) -> str:
        return self.default_order or "-" + next(iter(self.sorts))

    def sort_names(self) -> list[str]:
        return [s for name in self.sorts for s in (name, "-" + name)]


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A parsed query: filter values typed, sort ``"-created"`` (``-`` = descending), page
    size, and the position after which the page starts (``after``: sort key, id)."""

    spec: ListSpec
    filters: Mapping[str, Any] = field(default_factory=dict)
    sort: str = ""
    limit: int = 50
    after: tuple[Any, int] | None = None
    #: The tenant: only this biller's rows (set from who asks, never from the query text).
    biller_id: int | None = None
    #: The business date "overdue" is measured against (set by the use case's clock).
    today: date | None = None

    @property
    def sort_key(self) -> str:
        return (self.sort or self.spec.default_sort).lstrip("-")

    @property
    def descending(self) -> bool:
        return (self.sort or self.spec.default_sort).startswith("-")

    def fingerprint(self) -> str:
        """What a cursor is tied to: the list, its sort and filters, and the tenant."""
        text = json.dumps(
            [self.spec.name, self.sort or self.spec.default_sort, _plain(self.filters)],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(f"{text}|{self.biller_id}".encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its rows (codes, not labels) and the cursor of the next page
    (``None`` on the last page)."""

    spec: ListSpec
    rows: list[dict[str, Any]]
    next_cursor: str | None


def _plain(filters: Mapping[str, Any]) -> dict[str, str]:
    return {k: v.isoformat() if isinstance(v, date) else str(v) for k, v in filters.items()}


def parse_query(
    spec: ListSpec,
    params: Mapping[str, str],
    *,
    cursor_key: bytes,
    biller_id: int | None = None,
) -> ListQuery:
    """The query ``params`` asks for (every value text). An unknown name, a bad value, sort,
    limit or cursor raises :class:`BadQuery`/:class:`BadCursor` naming it."""
    filters: dict[str, Any] = {}
    for name, text in params.items():
        if name in RESERVED:
            continue
        wanted = spec.filter(name)
        if wanted is None:
            known = ", ".join(f.name for f in spec.filters)
            raise BadQuery(f"unknown filter {name!r} for {spec.name}; known: {known}")
        filters[name] = _value(wanted, text)
    sort = params.get("sort") or spec.default_sort
    if sort not in spec.sort_names():
        raise BadQuery(f"sort: {sort!r}; use one of {', '.join(spec.sort_names())}")
    limit = _limit(params.get("limit"))
    query = ListQuery(spec, filters, sort, limit, None, biller_id)
    cursor = params.get("cursor")
    if cursor:
        after = decode_cursor(cursor, query, cursor_key)
        query = ListQuery(spec, filters, sort, limit, after, biller_id)
    return query


def _limit(text: str | None) -> int:
    if text is None or text == "":
        return 50
    try:
        limit = int(text)
    except ValueError:
        raise BadQuery(f"limit: {text!r} is not a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery(f"limit: {limit} is not between 1 and {MAX_LIMIT}")
    return limit


def _value(spec: Filter, text: str) -> Any:
    what = f"filter {spec.name}"
    text = text.strip()
    if not text:
        raise BadQuery(f"{what}: a value is required")
    if len(text) > 100:
        raise BadQuery(f"{what}: at most 100 characters")
    if spec.kind == "code":
        if text not in spec.choices:
            raise BadQuery(f"{what}: {text!r} is not one of {', '.join(spec.choices)}")
        return text
    if spec.kind == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise BadQuery(f"{what}: {text!r} is not a date like 2026-09-01") from None
    if spec.kind == "datetime":
        try:
            return ensure_utc(datetime.fromisoformat(text))
        except ValueError:
            raise BadQuery(
                f"{what}: {text!r} is not a time like 2026-09-01T10:00:00+08:00"
            ) from None
    if spec.kind == "money":
        try:
            return parse_yuan(text, field=what)
        except InvalidInput as exc:
            raise BadQuery(exc.message) from None
    if spec.kind == "int":
        try:
            number = int(text)
        except ValueError:
            raise BadQuery(f"{what}: {text!r} is not a whole number") from None
        if not 0 <= number <= 2**62:
            raise BadQuery(f"{what}: {number} is out of range")
        return number
    return text


# -- the cursor ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(body: str, key: bytes) -> str:
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:16])


def encode_cursor(query: ListQuery, key_value: Any, row_id: int, cursor_key: bytes) -> str:
    """The cursor of the page after the row with sort value ``key_value`` and id ``row_id``."""
    if isinstance(key_value, datetime):
        key_value = ensure_utc(key_value).isoformat()
    elif isinstance(key_value, date):
        key_value = key_value.isoformat()
    payload = {"q": query.fingerprint(), "k": key_value, "i": row_id}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_sign(body, cursor_key)}"


def decode_cursor(cursor: str, query: ListQuery, cursor_key: bytes) -> tuple[Any, int]:
    """The position ``cursor`` carries, checked against its signature and ``query``."""
    body, dot, signature = cursor.partition(".")
    if not dot or len(cursor) > 1000 or not body.isascii() or not signature.isascii():
        raise BadCursor("cursor: not a billfold cursor; start again without it")
    if not hmac.compare_digest(signature, _sign(body, cursor_key)):
        raise BadCursor("cursor: damaged or not issued by this billfold; start again without it")
    try:
        payload = json.loads(_unb64(body))
        fingerprint, value, row_id = payload["q"], payload["k"], int(payload["i"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadCursor("cursor: unreadable; start again without it") from None
    if fingerprint != query.fingerprint():
        raise BadCursor(
            "cursor: it belongs to another list, sort, filter or caller; "
            "ask again with the same ones, or start without it"
        )
    return _key(query.spec.sorts[query.sort_key], value), row_id


def _key(kind: KeyKind, value: Any) -> Any:
    try:
        if value is None:
            return None
        if kind == "int":
            return int(value)
        if kind == "date":
            return date.fromisoformat(str(value))
        if kind == "datetime":
            return ensure_utc(datetime.fromisoformat(str(value)))
        return str(value)
    except ValueError:
        raise BadCursor("cursor: unreadable; start again without it") from None
