"""The back office's roles as FastAPI dependencies: data that spans billers (reconciliation
runs, settlement work, reversals) needs a back-office key as well as the role; a biller's
key gets 403 ``back_office_only``, a key without the role 403 ``forbidden_role``."""

from __future__ import annotations

from typing import Annotated

from billfold.adapters.http.auth import require
from billfold.adapters.http.keys import Principal
from billfold.merchants.roles import Role

__all__ = ["Admin", "OfficeReader", "OfficeReconciler", "actor"]

OfficeReader = Annotated[Principal, require(everywhere=True)]
OfficeReconciler = Annotated[Principal, require(Role.RECONCILER, everywhere=True)]
Admin = Annotated[Principal, require(Role.ADMIN, everywhere=True)]


def actor(principal: Principal, who: str | None) -> str:
    """Who did it, for the audit log: the person named in the request, and the key used."""
    return f"{who} (api key {principal.key_id})" if who else f"api key {principal.key_id}"
