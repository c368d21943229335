"""Settlement use cases: draft, approve, pay and confirm what each biller is owed.

:class:`Settler` works on an :class:`~billfold.engine.Engine`. A draft for (biller,
business date) claims every payment credited to the biller up to that date that no batch
has settled yet — only reconciled ones unless the biller's profile says otherwise — the
refunds made by the end of that date, and reversals of payments settled before. Its net
is split by the biller's split rules (or paid whole to its settlement account). Every step
after the draft is one transaction with a balanced journal entry and an audit record.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from billfold.adapters.db.settlement import SqlSettlement
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.clock import end_of_business_day
from billfold.engine import Engine
from billfold.errors import Conflict, InvalidInput, InvalidTransition, NotFound
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
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _uow(self) -> SqlUnitOfWork:
        return self.engine.uow()

    # -- profiles -----------------------------------------------------------------------------
    def profile(self, biller_code: str) -> Profile:
        with self._uow() as uow:
            biller = require_biller(uow, biller_code)
            assert biller.id is not None
            found = SqlSettlement(uow.conn).profile(biller.id)
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
        now = self.engine.clock.now()
        with self._uow() as uow:
            biller = require_biller(uow, biller_code)
            assert biller.id is not None
            repo = SqlSettlement(uow.conn)
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
        now = self.engine.clock.now()
        with self._uow() as uow:
            biller = require_biller(uow, biller_code)
            assert biller.id is not None
            repo = SqlSettlement(uow.conn)
            repo.lock_biller(biller.id)
            stored = repo.profile(biller.id)
            profile = Profile(stored[0], stored[2], stored[1]) if stored else Profile()
            row = repo.batch_row(biller_id=biller.id, day=business_date)
            if row is not None and row.status != BatchStatus.DRAFT.value:
                raise Conflict(
                    f"batch {row.batch_no} is {row.status}; an approved batch is not redrafted"
                )
            if row is not None:
                batch_id = int(row.id)
                repo.release(batch_id)
            else:
                batch_id = repo.insert_batch(
                    {
                        "batch_no": _batch_no(biller, business_date),
                        "biller_id": biller.id,
                        "business_date": business_date,
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
            totals = repo.claim(
                batch_id,
                biller.id,
                business_date,
                end_of_business_day(business_date, biller.timezone),
                profile.settle_unreconciled,
            )
            repo.set_totals(batch_id, totals)
            repo.insert_parts(batch_id, _parts(biller, profile, totals))
            batch = self._load(uow, repo, batch_no=_batch_no(biller, business_date))
            uow.commit()
        return batch

    def discard(self, batch_no: str, *, by: str, reason: str) -> None:
        """Throw a draft away; its payments and refunds wait for the next batch."""
        now = self.engine.clock.now()
        with self._uow() as uow:
            repo = SqlSettlement(uow.conn)
            batch = self._load(uow, repo, batch_no=batch_no)
            if batch.status is not BatchStatus.DRAFT:
                raise InvalidTransition(
                    f"batch {batch_no} is {batch.status.value}; only a draft can be discarded"
                )
            assert batch.id is not None
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
        now = self.engine.clock.now()
        with self._uow() as uow:
            repo = SqlSettlement(uow.conn)
            batch = self._load(uow, repo, batch_no=batch_no)
            if batch.status is step:
                return batch  # a repeat: already done
            next_status(batch.status, step, batch_no)
            if step is BatchStatus.APPROVED:
                _check_payable(batch)
            assert batch.id is not None
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
            done = self._load(uow, repo, batch_no=batch_no)
            uow.commit()
        return done

    def batch(self, batch_no: str) -> SettlementBatch:
        with self._uow() as uow:
            return self._load(uow, SqlSettlement(uow.conn), batch_no=batch_no)

    def batches(
        self,
        *,
        biller_code: str | None = None,
        business_date: date | None = None,
        status: BatchStatus | None = None,
    ) -> list[SettlementBatch]:
        with self._uow() as uow:
            repo = SqlSettlement(uow.conn)
            biller_id = require_biller(uow, biller_code).id if biller_code else None
            rows = repo.batch_rows(biller_id=biller_id, day=business_date, status=status)
            return [self._load(uow, repo, batch_no=row.batch_no) for row in rows]

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
            repo = SqlSettlement(uow.conn)
            batch = self._load(uow, repo, batch_no=batch_no)
            assert batch.id is not None
            return [dict(row._mapping) for row in repo.items(batch.id)]

    def _load(self, uow: SqlUnitOfWork, repo: SqlSettlement, *, batch_no: str) -> SettlementBatch:
        row = repo.batch_row(batch_no=batch_no)
        if row is None:
            raise NotFound(f"settlement batch {batch_no!r} does not exist")
        biller = uow.billers.get(int(row.biller_id))
        assert biller is not None
        parts = [
            Part(
                SplitRule(p.account_no, p.account_name, p.bank_name, SplitKind.REST, 0, p.memo),
                int(p.amount_fen),
            )
            for p in repo.parts(int(row.id))
        ]
        return SettlementBatch(
            batch_no=row.batch_no,
            biller_id=int(row.biller_id),
            biller_code=biller.code,
            business_date=row.business_date,
            status=BatchStatus(row.status),
            totals=BatchTotals(
                payment_count=int(row.payment_count),
                gross_fen=int(row.gross_fen),
                refund_count=int(row.refund_count),
                refund_fen=int(row.refund_fen),
                fee_fen=int(row.fee_fen),
                held_back_count=int(row.held_back_count),
                held_back_fen=int(row.held_back_fen),
            ),
            settle_unreconciled=bool(row.settle_unreconciled),
            created_by=row.created_by,
            created_at=row.created_at,
            parts=parts,
            id=int(row.id),
            approved_by=row.approved_by,
            approved_at=row.approved_at,
            paid_by=row.paid_by,
            paid_at=row.paid_at,
            confirmed_by=row.confirmed_by,
            confirmed_at=row.confirmed_at,
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
