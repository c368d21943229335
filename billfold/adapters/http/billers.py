"""``/v1/billers``: the billers a key may see (all of them for a back-office key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from billfold.adapters.http.auth import ApiState, Reader, VisibleBiller, api_state
from billfold.adapters.http.models import BillerOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/billers", tags=["billers"])
State = Annotated[ApiState, Depends(api_state)]


@router.get("", response_model=list[BillerOut], summary="List billers")
def list_billers(principal: Reader, state: State) -> list[BillerOut]:
    return [BillerOut.of(b) for b in state.engine.billers() if principal.sees(b.id)]


@router.get("/{code}", response_model=BillerOut, summary="Get a biller")
def get_biller(principal: Reader, biller: VisibleBiller) -> BillerOut:
    return BillerOut.of(biller)
