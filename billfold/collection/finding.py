"""Finding anything: one page of a back-office list, filtered in the database.

``find(uow, clock, spec, params, cursor_key=..., tenant=...)`` parses the query (an unknown
filter, a bad value, sort, limit or cursor is refused before the database is asked),
resolves the ``biller`` filter against the caller's tenant — a biller's caller asking for
another biller gets "does not exist", exactly as for a biller that does not exist — and
returns the page with the cursor of the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from billfold.clock import DEFAULT_TZ, Clock, business_date
from billfold.collection.listing import ListSpec, Page, encode_cursor, parse_query
from billfold.collection.ports import ListsUnitOfWork, UnitOfWork
from billfold.errors import InvalidInput, NotFound

__all__ = ["find", "record_unmasked_export"]


def find(
    uow: ListsUnitOfWork,
    clock: Clock,
    spec: ListSpec,
    params: Mapping[str, str],
    *,
    cursor_key: bytes,
    tenant: int | None = None,
) -> Page:
    """A page of ``spec``'s list; ``tenant`` (a biller's id) limits it to that biller."""
    early = {name: value for name, value in params.items() if name != "cursor"}
    parse_query(spec, early, cursor_key=cursor_key)  # a bad filter, sort or limit: no I/O
    with uow:
        biller_id, tz = tenant, DEFAULT_TZ
        code = params.get("biller")
        if code:
            biller = uow.billers.get_by_code(code.strip())
            if biller is None or biller.id is None or (tenant is not None and biller.id != tenant):
                raise NotFound(f"biller {code.strip()!r} does not exist")
            biller_id, tz = biller.id, biller.timezone
        elif tenant is not None:
            owner = uow.billers.get(tenant)
            tz = owner.timezone if owner is not None else DEFAULT_TZ
        query = parse_query(spec, params, cursor_key=cursor_key, biller_id=biller_id)
        query = replace(query, today=business_date(clock.now(), tz))
        rows, last = uow.lists.fetch(query)
    cursor = None
    if last is not None:
        cursor = encode_cursor(query, last[0], last[1], cursor_key)
    return Page(spec, rows, cursor)


def record_unmasked_export(
    uow: UnitOfWork,
    clock: Clock,
    list_name: str,
    params: Mapping[str, str],
    *,
    by: str,
    reason: str,
) -> None:
    """Personal data leaves billfold unmasked only with who and why in the audit log."""
    if not reason.strip() or not by.strip():
        raise InvalidInput("unmasked: a reason and who asks are required (they are audited)")
    with uow:
        uow.audit.append(
            actor=by,
            action="export_unmasked",
            target_type="list",
            target_id=list_name,
            reason=reason,
            before=None,
            after={k: v for k, v in params.items() if k != "cursor"},
            now=clock.now(),
        )
        uow.commit()
