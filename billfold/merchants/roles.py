"""Who may do what: the back office's roles, carried by API keys and back-office users.

A role says *what* a person does; a scope (one biller, or every biller) says *whose* data.
Reading is open to every role within its scope; each action names the roles it needs.

| role | does |
|---|---|
| ``bursar`` | a biller's clerk: bills, payers, orders, mandates, reports |
| ``reconciler`` | reconciliation, discrepancies, suspense, refunds, reversals, settlement |
| ``supervisor`` | reads across billers (presale projects); checks what others propose |
| ``admin`` | billers, API keys, webhook endpoints, back-office users |
| ``viewer`` | reads only |
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from billfold.errors import InvalidInput

__all__ = ["ALL_ROLES", "Role", "format_roles", "parse_roles"]


class Role(StrEnum):
    BURSAR = "bursar"
    RECONCILER = "reconciler"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    VIEWER = "viewer"


ALL_ROLES: frozenset[Role] = frozenset(Role)


def parse_roles(value: str | Iterable[str], *, field: str = "roles") -> frozenset[Role]:
    """``"bursar,reconciler"`` (or a list of names) as roles; at least one, none unknown."""
    names = value.split(",") if isinstance(value, str) else list(value)
    found: set[Role] = set()
    for name in names:
        cleaned = name.strip().lower()
        if not cleaned:
            continue
        try:
            found.add(Role(cleaned))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidInput(f"{field}: {name.strip()!r} is not a role; known: {known}") from None
    if not found:
        raise InvalidInput(f"{field}: give at least one role")
    return frozenset(found)


def format_roles(roles: Iterable[Role]) -> str:
    """Roles as stored and shown: comma-separated, in the table's order."""
    wanted = set(roles)
    return ",".join(r.value for r in Role if r in wanted)
