"""Settlement use cases: draft, approve, pay and confirm what each biller is owed.

:class:`Settler` works on a ``Runtime[SettlementUnitOfWork]`` (an
:class:`~billfold.engine.Engine` is one) and reaches storage only through the unit of
work's ports (:mod:`billfold.settlement.ports`). A draft for (biller,
business date) claims every payment credited to the biller up to that date that no batch
has settled yet — only reconciled ones unless the biller's profile says otherwise — the
refunds made by the end of that date, and reversals of payments settled before. Its net
is split by the biller's split rules (or paid whole to its settlement account). Every step
after the draft is one transaction with a balanced journal entry and an audit record.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from billfold.clock import end_of_business_day
from billfold.collection.ports import Runtime
from billfold.errors import Conflict, InvalidInput, InvalidTransition, InvariantViolated, NotFound
from billfold.merchants.biller import Biller
from billfold.merchants.services import require_biller
from billfold.money import format_yuan
from billfold.settlement.batch import (
    PAYOUT_HEADER,
    BatchStatus,
    BatchTotals,
    SettlementBatch,
    next_status,
    payout_rows,
    step_entry,
)
from billfold.settlement.ports import SettlementRepository, SettlementUnitOfWork
from billfold.settlement.splits import (
    Part,
    Remainder,
    SplitKind,
    SplitRule,
    rules_to_json,
    split,
    validate,
)

__all__ = ["Profile", "Settler"]


class Profile:
    """A biller's settlement settings."""

    def __init__(
        self,
        settle_unreconciled: bool = False,
        splits: list[SplitRule] | None = None,
        remainder: Remainder | None = None,
    ) -> None:
        self.settle_unreconciled = settle_unreconciled
        self.splits = list(splits or [])
        rests = any(r.kind is SplitKind.REST for r in self.splits)
        self.remainder = remainder or (Remainder.REST if rests else Remainder.LARGEST)


def _batch_no(biller: Biller, day: date) -> str:
    return f"ST{day:%Y%m%d}-{biller.code[:20]}-{biller.id}"


class Settler:
    def __init__(self, runtime: Runtime[SettlementUnitOfWork]) -> None:
        self.runtime = runtime

    def _uow(self) -> SettlementUnitOfWork:
        return self.runtime.uow()

    # -- profiles -----------------------------------------------------------------------------
    def profile(self, biller_code: str) -> Profile:
        with self._uow() as uow:
            biller = require_biller(uow, biller_code)
            if biller.id is None:
                raise InvariantViolated("biller.id is missing")
            found = uow.settlement.profile(biller.id)
        if found is None:
            return Profile()
        unreconciled, remainder, rules = found
        return Profile(unreconciled, rules, remainder)

    def set_profile(
        self, biller_code: str, profile: Profile, *, actor: str, reason: str
    ) -> Profile:
        """Store a biller's settlement settings (audited). Split rules are checked now."""
        if profile.splits:
            validate(profile.splits, profile.remainder)
        now = self.runtime.clock.now()
        with self._uow() as uow:
            biller = require_biller(uow, biller_code)
            if biller.id is None:
                raise InvariantViolated("biller.id is missing")
            repo = uow.settlement
            before = repo.profile(biller.id)
            repo.save_profile(
                biller.id,
                profile.settle_unreconciled,
                profile.remainder,
                rules_to_json(profile.splits),
                now,
            )
            uow.audit.append(
                actor=actor,
                action="set_settlement_profile",
                target_type="biller",
                target_id=biller.code,
                reason=reason,
                before=None
                if before is None
                else {"settle_unreconciled": before[0], "remainder": before[1].value},
                after={
                    "settle_unreconciled": profile.settle_unreconciled,
                    "remainder": profile.remainder.value,
                    "parts": len(profile.splits),
                },
                now=now,
            )
            uow.commit()
        return profile

    # -- batches ------------------------------------------------------------------------------
    def draft(self, biller_code: str, business_date: date, *, by: str) -> SettlementBatch:
        """Draft (or redraft) the batch of ``biller_code`` for ``business_date``."""
        if not by.strip():
            raise InvalidInput("by: say who drafts the batch")
        now = self.runtime.clock.now()
        with self._uow() as uow:
            biller = require_biller(uow, biller_code)
            if biller.id is None:
                raise InvariantViolated("biller.id is missing")
            repo = uow.settlement
            repo.lock_biller(biller.id)
            stored = repo.profile(biller.id)
            profile = Profile(stored[0], stored[2], stored[1]) if stored else Profile()
            batch_id = _empty_draft(repo, biller, profile, business_date, by, now)
            totals = repo.claim(
                batch_id,
                biller.id,
                business_date,
                end_of_business_day(business_date, biller.timezone),
                profile.settle_unreconciled,
            )
            repo.set_totals(batch_id, totals)
            repo.insert_parts(batch_id, _parts(biller, profile, totals))
            batch = _load(repo, _batch_no(biller, business_date))
            uow.commit()
        return batch

    def discard(self, batch_no: str, *, by: str, reason: str) -> None:
        """Throw a draft away; its payments and refunds wait for the next batch."""
        now = self.runtime.clock.now()
        with self._uow() as uow:
            repo = uow.settlement
            batch = _load(repo, batch_no)
            if batch.status is not BatchStatus.DRAFT:
                raise InvalidTransition(
                    f"batch {batch_no} is {batch.status.value}; only a draft can be discarded"
                )
            if batch.id is None:
                raise InvariantViolated("batch.id is missing")
            repo.delete_batch(batch.id)
            uow.audit.append(
                actor=by,
                action="discard_settlement",
                target_type="settlement",
                target_id=batch_no,
                reason=reason,
                before={"status": batch.status.value, "net": format_yuan(batch.net_fen)},
                after=None,
                now=now,
            )
            uow.commit()

    def approve(self, batch_no: str, *, by: str, reason: str = "approved") -> SettlementBatch:
        return self._step(batch_no, BatchStatus.APPROVED, by, reason)

    def pay(self, batch_no: str, *, by: str, reason: str = "payout file sent") -> SettlementBatch:
        return self._step(batch_no, BatchStatus.PAID, by, reason)

    def confirm(
        self, batch_no: str, *, by: str, reason: str = "bank confirmed the payout"
    ) -> SettlementBatch:
        return self._step(batch_no, BatchStatus.CONFIRMED, by, reason)

    def _step(self, batch_no: str, step: BatchStatus, by: str, reason: str) -> SettlementBatch:
        if not by.strip():
            raise InvalidInput(f"by: say who marks the batch {step.value}")
        now = self.runtime.clock.now()
        with self._uow() as uow:
            repo = uow.settlement
            batch = _load(repo, batch_no)
            if batch.status is step:
                return batch  # a repeat: already done
            next_status(batch.status, step, batch_no)
            if step is BatchStatus.APPROVED:
                _check_payable(batch)
            if batch.id is None:
                raise InvariantViolated("batch.id is missing")
            who = {f"{step.value}_by": by[:100], f"{step.value}_at": now}
            if not repo.transition(batch.id, batch.status, step, **who):
                raise InvalidTransition(f"batch {batch_no} changed meanwhile; look it up again")
            entry = step_entry(batch, step)
            if entry is not None:
                uow.journal.post([entry], now)
            uow.audit.append(
                actor=by,
                action=f"settlement_{step.value}",
                target_type="settlement",
                target_id=batch_no,
                reason=reason,
                before={"status": batch.status.value},
                after={"status": step.value, "net": format_yuan(batch.net_fen)},
                now=now,
            )
            done = _load(repo, batch_no)
            uow.commit()
        return done

    def batch(self, batch_no: str) -> SettlementBatch:
        with self._uow() as uow:
            return _load(uow.settlement, batch_no)

    def batches(
        self,
        *,
        biller_code: str | None = None,
        business_date: date | None = None,
        status: BatchStatus | None = None,
    ) -> list[SettlementBatch]:
        with self._uow() as uow:
            repo = uow.settlement
            biller_id = require_biller(uow, biller_code).id if biller_code else None
            numbers = repo.batch_nos(biller_id=biller_id, day=business_date, status=status)
            return [_load(repo, number) for number in numbers]

    def payout_file(self, batch_no: str, *, encoding: str = "utf-8-sig") -> bytes:
        """The CSV the bank takes to pay the batch out (account numbers in full)."""
        batch = self.batch(batch_no)
        if batch.status is BatchStatus.DRAFT:
            raise InvalidTransition(f"batch {batch_no} is a draft; approve it first")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(PAYOUT_HEADER)
        writer.writerows(payout_rows(batch))
        try:
            return out.getvalue().encode(encoding)
        except (LookupError, UnicodeEncodeError) as exc:
            raise InvalidInput(
                f"encoding: cannot write the payout file as {encoding}: {exc}"
            ) from None

    def items(self, batch_no: str) -> list[dict[str, Any]]:
        with self._uow() as uow:
            repo = uow.settlement
            batch = _load(repo, batch_no)
            if batch.id is None:
                raise InvariantViolated("batch.id is missing")
            return repo.items(batch.id)


def _load(repo: SettlementRepository, batch_no: str) -> SettlementBatch:
    found = repo.batch(batch_no=batch_no)
    if found is None:
        raise NotFound(f"settlement batch {batch_no!r} does not exist")
    return found


def _empty_draft(
    repo: SettlementRepository,
    biller: Biller,
    profile: Profile,
    day: date,
    by: str,
    now: datetime,
) -> int:
    """The draft to fill: the day's draft emptied of its items, or a new one. An approved
    batch is never redrafted."""
    if biller.id is None:
        raise InvariantViolated("biller.id is missing")
    existing = repo.batch(biller_id=biller.id, day=day)
    if existing is not None and existing.status is not BatchStatus.DRAFT:
        raise Conflict(
            f"batch {existing.batch_no} is {existing.status.value}; an approved batch is not "
            "redrafted"
        )
    if existing is not None:
        if existing.id is None:
            raise InvariantViolated("existing.id is missing")
        repo.release(existing.id)
        return existing.id
    return repo.insert_batch(
        {
            "batch_no": _batch_no(biller, day),
            "biller_id": biller.id,
            "business_date": day,
            "status": BatchStatus.DRAFT.value,
            "settle_unreconciled": profile.settle_unreconciled,
            "payment_count": 0,
            "gross_fen": 0,
            "refund_count": 0,
            "refund_fen": 0,
            "fee_fen": 0,
            "net_fen": 0,
            "held_back_count": 0,
            "held_back_fen": 0,
            "created_by": by[:100],
            "created_at": now,
        }
    )


def _parts(biller: Biller, profile: Profile, totals: BatchTotals) -> list[Part]:
    net = totals.net_fen
    if net < 0:
        return []
    if profile.splits:
        return split(net, profile.splits, profile.remainder)
    account = biller.settlement_account
    if account is None:
        return []
    whole = SplitRule(account.account_no, account.account_name, account.bank_name, SplitKind.REST)
    return split(net, [whole], Remainder.REST)


def _check_payable(batch: SettlementBatch) -> None:
    if batch.net_fen < 0:
        raise InvalidTransition(
            f"batch {batch.batch_no}: net payable is {format_yuan(batch.net_fen)} (refunds exceed "
            "collections); discard it and let the next batch net it off"
        )
    if batch.net_fen > 0 and not batch.parts:
        raise InvalidTransition(
            f"batch {batch.batch_no}: biller {batch.biller_code} has no settlement account "
            "and no split rules; nobody to pay"
        )
