"""Booking one entry of a project's escrow book: its journal entry, its number and its push
to the housing bureau, in the caller's unit of work."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from billfold.clock import business_date
from billfold.errors import InvariantViolated, NotFound
from billfold.merchants.presale import Project
from billfold.merchants.services import require_biller
from billfold.money import format_yuan
from billfold.packs.ports import PacksUnitOfWork, PresaleRepository
from billfold.settlement.escrow import EntryKind, EscrowEntry, journal_entry, journal_memo

__all__ = [
    "RELEASE_CHANNEL",
    "book",
    "held_id_of",
    "project_pk",
    "push_id",
    "require_project",
    "timezone",
]

RELEASE_CHANNEL = "release"


def held_id_of(entry: EscrowEntry) -> str:
    """How an operator names held money: ``<channel>/<transaction reference>``."""
    return f"{entry.channel}/{entry.ref}"


def push_id(bureau_code: str, seq: int) -> str:
    """Our id of a push: the bureau deduplicates on it."""
    return f"{bureau_code}-{seq:08d}"


def project_pk(project: Project) -> int:
    if project.id is None:
        raise InvariantViolated("project.id is missing")
    return project.id


def require_project(repo: PresaleRepository, bureau_code: str, *, lock: bool = False) -> Project:
    found = repo.project(bureau_code, lock=lock)
    if found is None:
        raise NotFound(f"no supervised project with bureau code {bureau_code!r}")
    return found


def timezone(uow: PacksUnitOfWork, project: Project) -> str:
    return require_biller(uow, project.developer).timezone


def book(
    uow: PacksUnitOfWork,
    project: Project,
    kind: EntryKind,
    channel: str,
    ref: str,
    amount_fen: int,
    occurred_at: datetime,
    *,
    contract_no: str | None,
    payment_id: int | None,
    note: str,
    now: datetime,
) -> EscrowEntry | None:
    """One entry of the book: its balanced journal entry, numbered next in the project (the
    project row locked first) and queued for the bureau. ``None`` when the same (kind,
    channel, ref) is booked already — by another process since the caller looked, too."""
    repo = uow.presale
    locked = require_project(repo, project.bureau_code, lock=True)
    if repo.has_entry(kind, channel, ref):
        return None
    entry = EscrowEntry(
        repo.next_seq(project_pk(locked)),
        kind,
        channel,
        ref,
        contract_no,
        amount_fen,
        business_date(occurred_at, timezone(uow, project)),
        occurred_at,
        note,
        payment_id,
    )
    bill_id = repo.contract_bill(contract_no) if contract_no else None
    uow.journal.post(
        [journal_entry(locked.bureau_code, entry, bill_id)], now, payment_id=payment_id
    )
    entry_pk = repo.add_entry(project_pk(locked), entry, journal_memo(locked.bureau_code, entry))
    ident = push_id(locked.bureau_code, entry.seq)
    body = _push_body(ident, locked, entry)
    repo.add_push(entry_pk, project_pk(locked), entry.seq, ident, body, now)
    return entry


def _push_body(ident: str, project: Project, entry: EscrowEntry) -> str:
    """The push as the bureau receives it: an event envelope like billfold's webhooks."""
    data: dict[str, Any] = {
        "bureau_code": project.bureau_code,
        "escrow_account": project.escrow_account_no,
        "seq": entry.seq,
        "kind": entry.kind.value,
        "contract_no": entry.contract_no,
        "channel": entry.channel,
        "txn_id": entry.ref,
        "amount": format_yuan(entry.amount_fen),
        "amount_fen": entry.amount_fen,
        "business_date": entry.business_date.isoformat(),
        "occurred_at": entry.occurred_at.isoformat(),
    }
    envelope = {
        "id": ident,
        "type": f"presale.{entry.kind.value}",
        "created_at": entry.occurred_at.isoformat(),
        "data": data,
    }
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True)
