"""The back-office role as FastAPI dependencies: data that spans billers (reconciliation
runs, settlement work, reversals) needs a back-office key; a biller's key gets 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from billfold.adapters.http.auth import Reader, Writer
from billfold.adapters.http.keys import Principal
from billfold.adapters.http.problems import ApiProblem

__all__ = ["OfficeReader", "OfficeWriter", "actor"]


def _office(principal: Principal) -> Principal:
    if not principal.back_office:
        raise ApiProblem(
            403,
            "back_office_only",
            f"key {principal.key_id} belongs to biller {principal.biller_code}; "
            "this needs a back-office key",
        )
    return principal


def office_reader(principal: Reader) -> Principal:
    return _office(principal)


def office_writer(principal: Writer) -> Principal:
    return _office(principal)


OfficeReader = Annotated[Principal, Depends(office_reader)]
OfficeWriter = Annotated[Principal, Depends(office_writer)]


def actor(principal: Principal, who: str | None) -> str:
    """Who did it, for the audit log: the person named in the request, and the key used."""
    return f"{who} (api key {principal.key_id})" if who else f"api key {principal.key_id}"
