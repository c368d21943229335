"""Auto-debit mandates (签约代扣) as the back office and the payer's bank see them.

:class:`MandateBook` signs a mandate (``pending``), activates it when the bank confirms
the agreement, suspends and resumes it, and revokes it — at once: revocation cancels every
waiting debit in its own transaction. Every change is audited and announced in the outbox.
Resuming gives waiting debits a fresh pre-debit notice and its full lead.

Only the masked account number is ever stored; the bank's agreement number is what a debit
is made under.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from billfold.channels.ports import ChannelHost, ChannelsUnitOfWork, MandatesRepository
from billfold.clock import business_date
from billfold.collection.bill import Bill
from billfold.collection.mandate import (
    DEFAULT_NOTICE_LEAD,
    DUE_DEBIT_STATES,
    Debit,
    DebitStatus,
    Mandate,
    MandateStatus,
    RetrySchedule,
)
from billfold.errors import (
    ConcurrencyConflict,
    Conflict,
    InvalidInput,
    InvalidTransition,
    InvariantViolated,
    NotFound,
)
from billfold.masking import mask_account
from billfold.merchants.biller import Biller
from billfold.merchants.channel_config import channel_refusal
from billfold.money import format_yuan

__all__ = ["CHANNEL", "DebitPolicy", "MandateBook", "new_number"]

CHANNEL = "autodebit"


@dataclass(frozen=True, slots=True)
class DebitPolicy:
    notice_lead: timedelta = DEFAULT_NOTICE_LEAD
    retry: RetrySchedule = field(default_factory=RetrySchedule)
    lease: timedelta = timedelta(minutes=5)  # how long a claimed debit is invisible to others
    order_ttl: timedelta = timedelta(hours=2)
    batch: int = 500

    def __post_init__(self) -> None:
        if self.notice_lead < timedelta(0):
            raise InvalidInput("notice lead: cannot be negative")
        if self.lease <= timedelta(0):
            raise InvalidInput("lease: must be a positive duration")
        if self.batch < 1:
            raise InvalidInput("batch: must be 1 or more")


def new_number(prefix: str, now: datetime) -> str:
    return f"{prefix}{now:%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}"


def _account(account_no: str) -> str:
    digits = account_no.replace(" ", "")
    if not digits.isdigit() or not 8 <= len(digits) <= 32:
        raise InvalidInput("account: a bank account or card number is 8-32 digits")
    return mask_account(digits)


class MandateBook:
    """Mandates of every biller, in one database."""

    def __init__(self, engine: ChannelHost, policy: DebitPolicy | None = None) -> None:
        self.engine = engine
        self.policy = policy or DebitPolicy()

    def sign(
        self,
        biller_code: str,
        payer_id: str,
        account_no: str,
        *,
        per_debit_limit_fen: int,
        monthly_limit_fen: int,
        valid_from: date | None = None,
        valid_until: date | None = None,
        actor: str,
    ) -> Mandate:
        """Record a signed mandate (``pending`` until the bank confirms it)."""
        masked = _account(account_no)
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            biller = uow.billers.get_by_code(biller_code)
            if biller is None or biller.id is None:
                raise NotFound(f"biller {biller_code!r} does not exist")
            refusal = channel_refusal(biller.code, uow.channels.configs(biller.id), CHANNEL)
            if refusal:
                raise Conflict(refusal)
            payers = uow.payers.find(biller.id, payer_id)
            if not payers:
                raise NotFound(f"payer {payer_id!r} is not known to biller {biller.code}")
            payer = payers[0][1]
            if payer.id is None:
                raise InvariantViolated("payer.id is missing")
            repo = uow.mandates
            for live in repo.live_for(biller.id, payer.id):
                raise Conflict(
                    f"payer {payer_id} already has mandate {live.mandate_no} "
                    f"({live.status.value}) with {biller.code}; revoke it first"
                )
            mandate = Mandate(
                mandate_no=new_number("MD", now),
                biller_id=biller.id,
                payer_id=payer.id,
                account_masked=masked,
                per_debit_limit_fen=per_debit_limit_fen,
                monthly_limit_fen=monthly_limit_fen,
                valid_from=valid_from or business_date(now, biller.timezone),
                valid_until=valid_until,
            )
            repo.add(mandate, now)
            self._audit(uow, mandate, actor, "mandate.sign", "signed by the payer", None, now)
            uow.outbox.add("mandate.signed", biller.id, self._view(mandate, payer_id), now)
            uow.commit()
            return mandate

    def activate(self, mandate_no: str, *, agreement_no: str, actor: str) -> Mandate:
        """The bank confirmed the signing: ``pending`` → ``active``."""
        if not agreement_no or len(agreement_no) > 64:
            raise InvalidInput("agreement_no: the bank's agreement number, 1-64 characters")

        def change(mandate: Mandate, uow: ChannelsUnitOfWork, repo: MandatesRepository) -> None:
            if mandate.status is not MandateStatus.PENDING:
                raise InvalidTransition(
                    f"mandate {mandate.mandate_no} is {mandate.status.value}; only a pending "
                    "mandate is activated (a suspended one is resumed)"
                )
            mandate.activate(agreement_no)

        return self._change(mandate_no, actor, "confirmed by the bank", "activated", change)

    def suspend(self, mandate_no: str, *, actor: str, reason: str) -> Mandate:
        """Pause debits; waiting debits stay until the mandate is resumed (and re-noticed)."""
        return self._change(
            mandate_no, actor, reason, "suspended", lambda m, _u, _r: m.suspend(reason)
        )

    def resume(self, mandate_no: str, *, actor: str, reason: str) -> Mandate:
        """``suspended`` → ``active``; waiting debits get a fresh notice and its full lead."""

        def change(mandate: Mandate, uow: ChannelsUnitOfWork, repo: MandatesRepository) -> None:
            if mandate.status is not MandateStatus.SUSPENDED:
                raise InvalidTransition(
                    f"mandate {mandate.mandate_no} is {mandate.status.value}, not suspended"
                )
            mandate.activate()
            now = self.engine.clock.now()
            biller = uow.billers.get(mandate.biller_id)
            if biller is None:
                raise InvariantViolated("biller is missing")
            for debit in repo.open_debits(mandate.id or 0):
                at = max(debit.next_attempt_at, now + self.policy.notice_lead)
                bill = uow.bills.get(debit.bill_id)
                if bill is None:
                    raise InvariantViolated("bill is missing")
                amount = bill.amount_due_fen(business_date(at, biller.timezone))
                repo.update_debit(
                    debit.id,
                    DUE_DEBIT_STATES,
                    noticed_at=now,
                    noticed_fen=amount,
                    amount_fen=amount,
                    next_attempt_at=at,
                    updated_at=now,
                )
                if amount > 0:  # else the run cancels it: the bill is no longer owed
                    self._notice(uow, mandate, biller, bill, debit.debit_no, amount, at, now)

        return self._change(mandate_no, actor, reason, "resumed", change)

    def revoke(self, mandate_no: str, *, actor: str, reason: str) -> Mandate:
        """Revoke at once: no debit is claimed after this commits, even one already noticed."""

        def change(mandate: Mandate, uow: ChannelsUnitOfWork, repo: MandatesRepository) -> None:
            mandate.revoke(reason)
            self._cancel_waiting(uow, repo, mandate, f"mandate revoked: {reason}")

        return self._change(mandate_no, actor, reason, "revoked", change)

    def mandate(self, mandate_no: str) -> Mandate:
        with self.engine.uow() as uow:
            found = uow.mandates.get_by_no(mandate_no)
        if found is None:
            raise NotFound(f"mandate {mandate_no!r} does not exist")
        return found

    def mandates(
        self, biller_code: str | None = None, statuses: Iterable[MandateStatus] | None = None
    ) -> list[tuple[Mandate, str, str]]:
        """Mandates with their biller's code and the payer's identifier."""
        with self.engine.uow() as uow:
            biller_id = None
            if biller_code is not None:
                biller = uow.billers.get_by_code(biller_code)
                if biller is None:
                    raise NotFound(f"biller {biller_code!r} does not exist")
                biller_id = biller.id
            found = []
            for mandate in uow.mandates.find(biller_id, statuses):
                biller = uow.billers.get(mandate.biller_id)
                payer = uow.payers.get(mandate.payer_id)
                if not (biller is not None and payer is not None):
                    raise InvariantViolated("expected biller is not None and payer is not None")
                found.append((mandate, biller.code, payer.identifier))
            return found

    def debits(self, mandate_no: str) -> list[Debit]:
        mandate = self.mandate(mandate_no)
        with self.engine.uow() as uow:
            return uow.mandates.debits(mandate.id or 0)

    def _change(
        self,
        mandate_no: str,
        actor: str,
        reason: str,
        event: str,
        change: Callable[[Mandate, ChannelsUnitOfWork, MandatesRepository], None],
    ) -> Mandate:
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            repo = uow.mandates
            mandate = repo.get_by_no(mandate_no, lock=True)
            if mandate is None:
                raise NotFound(f"mandate {mandate_no!r} does not exist")
            before = mandate.status
            change(mandate, uow, repo)
            if not repo.save_state(mandate, before, now):
                raise ConcurrencyConflict(f"mandate {mandate_no} changed meanwhile; try again")
            self._audit(uow, mandate, actor, f"mandate.{event}", reason, before, now)
            payload = {"mandate_no": mandate_no, "status": mandate.status.value, "reason": reason}
            uow.outbox.add(f"mandate.{event}", mandate.biller_id, payload, now)
            uow.commit()
            return mandate

    # -- shared with the debit run -------------------------------------------------------
    def _still_active(self, mandate_id: int) -> bool:
        with self.engine.uow() as uow:
            mandate = uow.mandates.get(mandate_id)
        return mandate is not None and mandate.status is MandateStatus.ACTIVE

    def _settle(
        self,
        uow: ChannelsUnitOfWork,
        repo: MandatesRepository,
        mandate: Mandate,
        debit: Debit,
        bill: Bill,
        now: datetime,
        reason: str,
        event: str,
        **extra: str,
    ) -> None:
        """Cancel a waiting debit (in the caller's transaction) and say why in an event."""
        repo.update_debit(
            debit.id, DUE_DEBIT_STATES, status=DebitStatus.CANCELLED, reason=reason, updated_at=now
        )
        payload = self._debit_event(mandate, bill.bill_no, debit.debit_no, debit.amount_fen)
        payload.update(reason=reason, **extra)
        uow.outbox.add(event, mandate.biller_id, payload, now)

    def _cancel_waiting(
        self, uow: ChannelsUnitOfWork, repo: MandatesRepository, mandate: Mandate, reason: str
    ) -> None:
        now = self.engine.clock.now()
        for debit in repo.open_debits(mandate.id or 0):
            bill = uow.bills.get(debit.bill_id)
            if bill is None:
                raise InvariantViolated("bill is missing")
            self._settle(uow, repo, mandate, debit, bill, now, reason, "mandate.debit_cancelled")

    def _notice(
        self,
        uow: ChannelsUnitOfWork,
        mandate: Mandate,
        biller: Biller,
        bill: Bill,
        debit_no: str,
        amount_fen: int,
        debit_at: datetime,
        now: datetime,
    ) -> None:
        payer = uow.payers.get(mandate.payer_id)
        payload = self._debit_event(mandate, bill.bill_no, debit_no, amount_fen)
        payload.update(
            biller=biller.code,
            payer_id=payer.identifier if payer else None,  # whom the biller tells
            account=mandate.account_masked,
            debit_at=debit_at.isoformat(),
            debit_date=str(business_date(debit_at, biller.timezone)),
        )
        uow.outbox.add("mandate.pre_debit_notice", mandate.biller_id, payload, now)

    @staticmethod
    def _debit_event(mandate: Mandate, bill_no: str, debit_no: str, amount: int) -> dict[str, Any]:
        return {
            "mandate_no": mandate.mandate_no,
            "debit_no": debit_no,
            "bill_no": bill_no,
            "amount": format_yuan(amount),
            "amount_fen": amount,
        }

    @staticmethod
    def _view(mandate: Mandate, payer_id: str) -> dict[str, Any]:
        return {
            "mandate_no": mandate.mandate_no,
            "payer_id": payer_id,
            "account": mandate.account_masked,
            "per_debit_limit": format_yuan(mandate.per_debit_limit_fen),
            "monthly_limit": format_yuan(mandate.monthly_limit_fen),
            "valid_from": str(mandate.valid_from),
            "valid_until": str(mandate.valid_until) if mandate.valid_until else None,
            "status": mandate.status.value,
        }

    def _audit(
        self,
        uow: ChannelsUnitOfWork,
        mandate: Mandate,
        actor: str,
        action: str,
        reason: str,
        before: MandateStatus | None,
        now: datetime,
    ) -> None:
        uow.audit.append(
            actor=actor,
            action=action,
            target_type="mandate",
            target_id=mandate.mandate_no,
            reason=reason,
            before={"status": before.value} if before else None,
            after={"status": mandate.status.value, "account": mandate.account_masked},
            now=now,
        )
