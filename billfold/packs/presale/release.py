"""Releases of escrow money to the developer: checked against the reached milestone's limit
and the balance (:func:`billfold.settlement.escrow.check_release`); a refused one changes
nothing. The request id is the release's key — the database keeps it unique — so the same
request again returns the release made the first time."""

from __future__ import annotations

import structlog

from billfold.clock import business_date
from billfold.errors import Conflict, InvalidInput, InvariantViolated, LimitExceeded
from billfold.money import format_yuan
from billfold.packs.host import Host
from billfold.packs.presale.book import (
    RELEASE_CHANNEL,
    book,
    project_pk,
    require_project,
    timezone,
)
from billfold.settlement.escrow import EntryKind, EscrowEntry, check_release, totals

__all__ = ["ReleaseRefused", "release"]

log = structlog.get_logger("billfold.presale")


class ReleaseRefused(LimitExceeded):
    """A release over the milestone limit or the balance; ``reason`` is the refusal code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _same_request(made: EscrowEntry, request_id: str, amount_fen: int) -> EscrowEntry:
    if made.amount_fen != amount_fen:
        raise Conflict(
            f"request_id: release {request_id} was for "
            f"{format_yuan(made.amount_fen)}, not {format_yuan(amount_fen)}"
        )
    return made


def release(
    host: Host, bureau_code: str, amount_fen: int, *, request_id: str, by: str, reason: str
) -> EscrowEntry:
    """Release money to the developer, within the reached stage's limit and the balance.
    Refused with the reason (:class:`ReleaseRefused`), changing nothing."""
    if not request_id.strip() or len(request_id) > 64:
        raise InvalidInput("request_id: 1-64 characters")
    now = host.clock.now()
    with host.uow() as uow:
        repo = uow.presale
        project = require_project(repo, bureau_code, lock=True)
        earlier = repo.entry(EntryKind.RELEASE, RELEASE_CHANNEL, request_id)
        if earlier is not None:
            if earlier[0] != project.id:
                raise Conflict(f"request_id: {request_id} is a release of another project")
            return _same_request(earlier[1], request_id, amount_fen)
        entries = repo.entries(project_pk(project))
        today = business_date(now, timezone(uow, project))
        stages = repo.milestones(project_pk(project))
        refusal = check_release(amount_fen, totals(entries), stages, today)
        if refusal is not None:
            log.warning("escrow release refused", bureau_code=bureau_code, code=refusal.code)
            raise ReleaseRefused(refusal.code, refusal.message)
        made = book(
            uow,
            project,
            EntryKind.RELEASE,
            RELEASE_CHANNEL,
            request_id,
            amount_fen,
            now,
            contract_no=None,
            payment_id=None,
            note=reason,
            now=now,
        )
        if made is None:
            raise InvariantViolated(
                "made is missing"
            )  # the project row was locked before the check above
        uow.audit.append(
            actor=by,
            action="presale.release",
            target_type="presale_project",
            target_id=bureau_code,
            reason=reason,
            before=None,
            after={"request_id": request_id, "amount": format_yuan(amount_fen)},
            now=now,
        )
        uow.commit()
    return made
