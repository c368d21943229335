"""Back-office reports as downloads: the reconciliation report, the discrepancy list and the
settlement report, as CSV (UTF-8 with a BOM, for Excel) or XLSX (with a totals row).

The reconciliation report spans billers: back office only. A biller's key gets its own
discrepancies and batches. Personal data is masked; ``unmasked=true`` needs a back-office key.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from billfold.adapters.http.auth import ApiState, Reader, api_state, hidden
from billfold.adapters.http.backoffice import OfficeReader
from billfold.adapters.http.keys import Principal
from billfold.adapters.http.problems import ApiProblem
from billfold.adapters.http.reconciliation import visible_discrepancies
from billfold.errors import NotFound
from billfold.settlement.batch import BatchStatus
from billfold.settlement.discrepancy import DiscrepancyStatus
from billfold.settlement.exports import (
    Sheet,
    discrepancy_sheet,
    recon_sheet,
    settlement_sheet,
    write_sheet,
)
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.settler import Settler

__all__ = ["router"]

router = APIRouter(prefix="/v1/exports", tags=["exports"])
State = Annotated[ApiState, Depends(api_state)]
Format = Annotated[Literal["csv", "xlsx"], Query(description="csv (UTF-8 with BOM) or xlsx")]
Day = Annotated[date | None, Query(alias="date", description="Only this business date")]
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {MEDIA["csv"]: {}, MEDIA["xlsx"]: {}},
        "description": "The report as a file to download",
    }
}


def _download(sheet: Sheet, fmt: Literal["csv", "xlsx"], stem: str) -> Response:
    out = io.BytesIO()
    write_sheet(sheet, out, fmt)
    return Response(
        out.getvalue(),
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'},
    )


def _unmasked_allowed(principal: Principal, unmasked: bool) -> None:
    if unmasked and not principal.back_office:
        raise ApiProblem(403, "back_office_only", "unmasked personal data needs a back-office key")


@router.get(
    "/reconciliation",
    response_class=Response,
    responses=DOWNLOAD,
    summary="对账报告: one row per statement run (back office)",
)
def export_reconciliation(
    principal: OfficeReader,
    state: State,
    format: Format = "csv",
    business_date: Day = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    history: Annotated[bool, Query(alias="all", description="Superseded runs too")] = False,
) -> Response:
    runs = Reconciler(state.engine).runs(
        channel=channel, business_date=business_date, current_only=not history
    )
    return _download(recon_sheet(runs), format, f"recon-{business_date or 'all'}")


@router.get(
    "/discrepancies",
    response_class=Response,
    responses=DOWNLOAD,
    summary="差错清单: discrepancies with sources and resolutions (a biller's key: its own)",
)
def export_discrepancies(
    principal: Reader,
    state: State,
    format: Format = "csv",
    status: DiscrepancyStatus | None = None,
    run_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    unmasked: bool = False,
) -> Response:
    _unmasked_allowed(principal, unmasked)
    found = visible_discrepancies(principal, state, run_id=run_id, status=status)
    stem = f"discrepancies-{status.value if status else 'all'}"
    return _download(discrepancy_sheet(found, mask=not unmasked), format, stem)


@router.get(
    "/settlements",
    response_class=Response,
    responses=DOWNLOAD,
    summary="结算报告: one row per settlement batch (a biller's key: its own)",
)
def export_settlements(
    principal: Reader,
    state: State,
    format: Format = "csv",
    business_date: Day = None,
    biller: Annotated[str | None, Query(max_length=32)] = None,
    status: BatchStatus | None = None,
    unmasked: bool = False,
) -> Response:
    _unmasked_allowed(principal, unmasked)
    code = biller if biller is not None else principal.biller_code
    if code is not None:
        try:
            owner = state.engine.biller(code)
        except NotFound:
            raise hidden(f"biller {code!r}") from None
        if not principal.sees(owner.id):
            raise hidden(f"biller {code!r}")
    batches = Settler(state.engine).batches(
        biller_code=code, business_date=business_date, status=status
    )
    stem = f"settlements-{code or 'all'}-{business_date or 'all'}"
    return _download(settlement_sheet(batches, mask=not unmasked), format, stem)
