"""Auto-debit (签约代扣): mandates, pre-debit notices, and the scheduled debit run.

A payer signs a :class:`~billfold.collection.mandate.Mandate` with a biller (``pending``);
the bank confirms it (``active``). Each :meth:`AutoDebit.run_once`:

1. **expires** mandates whose validity period has ended;
2. **notices**: for every active mandate, each payable bill whose debit time (the start of
   its due date in the biller's timezone, or now for a bill without one) is within the
   notice lead (24 h by default) gets a debit row and a ``mandate.pre_debit_notice`` outbox
   event in the same transaction. A debit never happens less than the lead after its notice;
3. **debits** what is due, one debit at a time: *claim* it (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL; in the same transaction the mandate is locked and must be active and valid,
   the bill still owed, the amount within the per-debit and calendar-month limits), create
   the order, look at the mandate once more, *submit* to the bank, and *record* the answer:
   success is confirmed through the core's one exactly-once path; insufficient funds is
   retried with backoff up to a maximum, then given up with an event; a closed account
   fails the debit and suspends the mandate.

Revocation takes effect at once: it cancels every waiting debit in its transaction, and a
run that had already claimed one sees the revocation when it gets the mandate's lock. Only
a request already on its way to the bank can still complete. A run that dies mid-call
leaves the debit ``submitting``; once its lease runs out the next run asks the bank about
the same request id (the bank deduplicates on it) and records what happened.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

import structlog

from billfold.channels.autodebit_bank import DebitAnswer, DebitBank, DebitRequest
from billfold.channels.autodebit_mandates import CHANNEL, DebitPolicy, MandateBook, new_number
from billfold.channels.base import Decline, RefundAnswer
from billfold.channels.ports import ChannelHost, ChannelsUnitOfWork, MandatesRepository
from billfold.clock import business_date, start_of_business_day
from billfold.collection.bill import Bill, BillKind
from billfold.collection.mandate import (
    DUE_DEBIT_STATES,
    Debit,
    DebitStatus,
    Mandate,
    MandateStatus,
    debit_time,
    month_start,
    notice_due,
)
from billfold.collection.order import Order
from billfold.errors import BillfoldError, ChannelError, InvalidTransition, InvariantViolated
from billfold.merchants.biller import Biller

__all__ = ["CHANNEL", "AutoDebit", "DebitPolicy", "RunReport"]

log = structlog.get_logger("billfold.autodebit")


@dataclass
class RunReport:
    expired: int = 0  # mandates whose validity ended
    noticed: int = 0  # pre-debit notices sent
    debited: int = 0
    retrying: int = 0  # insufficient funds, tried again later
    failed: int = 0  # the bank refused for good, or the retries ran out
    cancelled: int = 0  # revoked mandate, bill no longer owed, order refused
    refused: int = 0  # over a limit or outside the validity period
    in_doubt: int = 0  # the bank did not answer; asked again after the lease

    def __str__(self) -> str:
        return ", ".join(
            f"{f.name.replace('_', ' ')} {getattr(self, f.name)}" for f in fields(self)
        )


@dataclass(frozen=True, slots=True)
class _Job:
    debit: Debit  # as claimed: attempts is this attempt's number
    mandate: Mandate
    biller: Biller
    bill_no: str
    resume: bool  # a submission whose run died: ask the bank before anything else
    obstacle: tuple[str, str, str | None] | None = None  # why it may not be sent (again)


class AutoDebit(MandateBook):
    """The ``autodebit`` channel: the mandate book and the debit run against one bank."""

    name = CHANNEL

    def __init__(self, engine: ChannelHost, bank: DebitBank, policy: DebitPolicy | None = None):
        super().__init__(engine, policy)
        self.bank = bank

    # -- the run -------------------------------------------------------------------------
    def run_once(self) -> RunReport:
        """Expire, notice, and debit what is due. Safe to run in many processes at once."""
        report = RunReport()
        self._expire(report)
        self._schedule(report)
        self._debit_due(report)
        return report

    def _expire(self, report: RunReport) -> None:
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            candidates = uow.mandates.past_validity(now.date() + timedelta(days=1))
        for candidate in candidates:
            with self.engine.uow() as uow:
                repo = uow.mandates
                mandate = repo.get(candidate.id or 0, lock=True)
                biller = uow.billers.get(candidate.biller_id)
                if not (mandate is not None and biller is not None):
                    raise InvariantViolated("expected mandate is not None and biller is not None")
                if mandate.final or not mandate.expired_on(business_date(now, biller.timezone)):
                    continue
                before = mandate.status
                mandate.expire()
                if not repo.save_state(mandate, before, now):
                    continue
                self._cancel_waiting(uow, repo, mandate, "mandate expired")
                payload = {
                    "mandate_no": mandate.mandate_no,
                    "valid_until": str(mandate.valid_until),
                }
                uow.outbox.add("mandate.expired", mandate.biller_id, payload, now)
                uow.commit()
                report.expired += 1

    def _schedule(self, report: RunReport) -> None:
        with self.engine.uow() as uow:
            active = uow.mandates.find(statuses=[MandateStatus.ACTIVE])
        for candidate in active:
            now = self.engine.clock.now()
            with self.engine.uow() as uow:
                mandate = uow.mandates.get(candidate.id or 0, lock=True)
                biller = uow.billers.get(candidate.biller_id)
                if not (mandate is not None and mandate.id is not None and biller is not None):
                    raise InvariantViolated("a claimed debit has no stored mandate or biller")
                today = business_date(now, biller.timezone)
                if mandate.status is not MandateStatus.ACTIVE or today < mandate.valid_from:
                    continue
                done = uow.mandates.debited_bill_ids(mandate.id)
                for bill in uow.bills.for_payer([mandate.payer_id]):
                    if bill.id in done or bill.biller_id != mandate.biller_id:
                        continue
                    if bill.kind is BillKind.OPEN:  # the payer states those amounts
                        continue
                    self._schedule_bill(uow, mandate, biller, bill, now, report)
                uow.commit()

    def _schedule_bill(
        self,
        uow: ChannelsUnitOfWork,
        mandate: Mandate,
        biller: Biller,
        bill: Bill,
        now: datetime,
        report: RunReport,
    ) -> None:
        """A debit of the bill once its pre-debit notice is due: noticed, or refused (over a
        limit, outside the validity period) with a ``mandate.debit_refused`` event."""
        tz = biller.timezone
        planned = start_of_business_day(bill.due_date, tz) if bill.due_date else now
        if not notice_due(planned, now, self.policy.notice_lead):
            return
        at = debit_time(planned, now, self.policy.notice_lead)
        amount = bill.amount_due_fen(business_date(at, tz))  # as owed that day
        if amount <= 0:
            return
        refusal = mandate.debit_refusal(amount, 0, business_date(at, tz))
        status = DebitStatus.CANCELLED if refusal else DebitStatus.SCHEDULED
        debit_no = new_number("AD", now)
        added = uow.mandates.add_debit(
            {
                "debit_no": debit_no,
                "mandate_id": mandate.id,
                "bill_id": bill.id,
                "status": status.value,
                "amount_fen": amount,
                "noticed_fen": amount,
                "noticed_at": now,
                "due_at": at,
                "next_attempt_at": at,
                "attempts": 0,
                "reason": refusal.message if refusal else None,
                "updated_at": now,
            }
        )
        if added is None:
            return
        if refusal:
            event = self._debit_event(mandate, bill.bill_no, debit_no, amount)
            event.update(code=refusal.code.value, reason=refusal.message)
            uow.outbox.add("mandate.debit_refused", mandate.biller_id, event, now)
            report.refused += 1
        else:
            self._notice(uow, mandate, biller, bill, debit_no, amount, at, now)
            report.noticed += 1

    def _debit_due(self, report: RunReport) -> None:
        seen: list[int] = []
        for _ in range(self.policy.batch):
            job = self._claim(seen, report)
            if job is None:
                return
            if isinstance(job, _Job):
                seen.append(job.debit.id)
                self._attempt(job, report)
            else:
                seen.append(job)

    def _claim(self, seen: list[int], report: RunReport) -> _Job | int | None:
        """Claim the next due debit; its id if it was settled right here; None if none."""
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            repo = uow.mandates
            debit = repo.claim_due(now, seen)
            if debit is None:
                return None
            mandate = repo.get(debit.mandate_id, lock=True)  # waits for a revocation in flight
            if mandate is None:
                raise InvariantViolated("mandate is missing")
            biller = uow.billers.get(mandate.biller_id)
            bill = uow.bills.get(debit.bill_id)
            if not (biller is not None and bill is not None):
                raise InvariantViolated("expected biller is not None and bill is not None")
            today = business_date(now, biller.timezone)
            if debit.status is DebitStatus.SUBMITTING:  # its run died mid-call
                obstacle = self._obstacle(repo, mandate, bill, debit, today, debit.amount_fen)
                repo.update_debit(  # held one more lease while the bank is asked
                    debit.id,
                    [DebitStatus.SUBMITTING],
                    at_attempt=debit.attempts,
                    next_attempt_at=now + self.policy.lease,
                    updated_at=now,
                )
                uow.commit()
                return _Job(debit, mandate, biller, bill.bill_no, resume=True, obstacle=obstacle)
            if mandate.status is MandateStatus.SUSPENDED:
                return debit.id  # waits for the mandate to be resumed
            amount = bill.amount_due_fen(today) if bill.payable else 0
            if amount > debit.noticed_fen:  # a late fee grew since the notice: notice again
                self._notice_again(uow, repo, mandate, biller, bill, debit, now)
                uow.commit()
                report.noticed += 1
                return debit.id
            obstacle = self._obstacle(repo, mandate, bill, debit, today, amount)
            if obstacle is not None:
                self._stop(uow, mandate, debit, bill, now, obstacle, report)
                return debit.id
            claimed = replace(debit, attempts=debit.attempts + 1, amount_fen=amount)
            self._mark_submitting(repo, claimed, now)
            uow.commit()
            return _Job(claimed, mandate, biller, bill.bill_no, resume=False)

    def _mark_submitting(self, repo: MandatesRepository, claimed: Debit, now: datetime) -> None:
        """The debit is this run's for one lease, at its new attempt number and amount."""
        repo.update_debit(
            claimed.id,
            DUE_DEBIT_STATES,
            status=DebitStatus.SUBMITTING,
            attempts=claimed.attempts,
            amount_fen=claimed.amount_fen,
            next_attempt_at=now + self.policy.lease,
            updated_at=now,
        )

    def _stop(
        self,
        uow: ChannelsUnitOfWork,
        mandate: Mandate,
        debit: Debit,
        bill: Bill,
        now: datetime,
        obstacle: tuple[str, str, str | None],
        report: RunReport,
    ) -> None:
        """Settle a debit that may not go to the bank: refused or cancelled, announced."""
        reason, event, code = obstacle
        extra = {"code": code} if code else {}
        self._settle(uow, uow.mandates, mandate, debit, bill, now, reason, event, **extra)
        uow.commit()
        if event == "mandate.debit_refused":
            report.refused += 1
        else:
            report.cancelled += 1

    def _notice_again(
        self,
        uow: ChannelsUnitOfWork,
        repo: MandatesRepository,
        mandate: Mandate,
        biller: Biller,
        bill: Bill,
        debit: Debit,
        now: datetime,
    ) -> None:
        """Never debit more than the notice said: a new notice for what will be owed on the
        new debit date, a full lead from now."""
        at = now + self.policy.notice_lead
        amount = bill.amount_due_fen(business_date(at, biller.timezone))
        repo.update_debit(
            debit.id,
            DUE_DEBIT_STATES,
            noticed_fen=amount,
            amount_fen=amount,
            noticed_at=now,
            next_attempt_at=at,
            updated_at=now,
        )
        self._notice(uow, mandate, biller, bill, debit.debit_no, amount, at, now)

    def _obstacle(
        self,
        repo: MandatesRepository,
        mandate: Mandate,
        bill: Bill,
        debit: Debit,
        today: date,
        amount: int,
    ) -> tuple[str, str, str | None] | None:
        """Why this debit may not go to the bank now: (reason, event type, refusal code)."""
        if mandate.status is not MandateStatus.ACTIVE:
            return f"mandate {mandate.status.value}", "mandate.debit_cancelled", None
        if amount <= 0 or not bill.payable:
            return f"bill {bill.bill_no} is no longer owed", "mandate.debit_cancelled", None
        used = repo.month_used(debit.mandate_id, month_start(today), debit.id)
        refusal = mandate.debit_refusal(amount, used, today)
        if refusal is not None:
            return refusal.message, "mandate.debit_refused", refusal.code.value
        return None

    def _attempt(self, job: _Job, report: RunReport) -> None:
        debit = job.debit
        answer: DebitAnswer | None = None
        try:
            if job.resume:
                answer = self.bank.query(debit.request_id)
                if answer is None and job.obstacle is not None:
                    reason, _event, _code = job.obstacle
                    self._finish(
                        job,
                        DebitStatus.CANCELLED,
                        f"{reason}; the bank never received the debit",
                        "mandate.debit_cancelled",
                    )
                    report.cancelled += 1
                    return
            order = self.engine.create_order(
                job.biller.code,
                [job.bill_no],
                channel=CHANNEL,
                idempotency_key=debit.request_id,
                ttl=self.policy.order_ttl,
            )
            if answer is None:
                answer = self._send(job, order)
                if answer is None:
                    report.cancelled += 1
                    return
        except ChannelError as exc:
            log.warning("autodebit.bank_unreachable", debit_no=debit.debit_no, error=exc.message)
            report.in_doubt += 1
            return
        except BillfoldError as exc:  # the order was refused (biller suspended, limits …)
            self._finish(job, DebitStatus.CANCELLED, exc.message, "mandate.debit_cancelled")
            report.cancelled += 1
            return
        self._record(job, answer, order.order_no, report)

    def _send(self, job: _Job, order: Order) -> DebitAnswer | None:
        """Ask the bank to debit, unless the mandate changed meanwhile (then the debit is
        cancelled and ``None`` returned). Raises ChannelError when the bank does not answer."""
        debit = job.debit
        if not self._still_active(debit.mandate_id):
            self._finish(
                job,
                DebitStatus.CANCELLED,
                "mandate changed before the debit was sent",
                "mandate.debit_cancelled",
            )
            return None
        request = DebitRequest(
            debit.request_id,
            job.mandate.mandate_no,
            job.mandate.agreement_no or job.mandate.mandate_no,
            order.order_no,
            debit.amount_fen,
            order.currency,
        )
        return self.bank.debit(request)

    def _record(self, job: _Job, answer: DebitAnswer, order_no: str, report: RunReport) -> None:
        debit = job.debit
        now = self.engine.clock.now()
        if answer.succeeded and answer.bank_txn_id:
            paid_at = answer.debited_at or now
            result = self.engine.confirm(
                CHANNEL, answer.bank_txn_id, order_no, debit.amount_fen, paid_at=paid_at
            )
            note = None
            if not result.credited:
                note = (
                    f"payment {result.payment.id} is {result.status.value}: {result.payment.reason}"
                )
            self._finish(
                job,
                DebitStatus.SUCCEEDED,
                note,
                "mandate.debit_succeeded",
                order_no=order_no,
                bank_txn_id=answer.bank_txn_id,
                debited_on=business_date(paid_at, job.biller.timezone),
            )
            report.debited += 1
            return
        message = answer.message or (answer.decline.value if answer.decline else "declined")
        if answer.decline is Decline.INSUFFICIENT_FUNDS:
            retry_at = self.policy.retry.next_attempt(debit.attempts, now)
            if retry_at is not None:
                self._finish(
                    job,
                    DebitStatus.RETRY_WAIT,
                    message,
                    "mandate.debit_retry_scheduled",
                    next_attempt_at=retry_at,
                    order_no=order_no,
                )
                report.retrying += 1
                return
            message = f"{message}; gave up after {debit.attempts} attempts"
        self._finish(job, DebitStatus.FAILED, message, "mandate.debit_failed", order_no=order_no)
        report.failed += 1
        if answer.decline is Decline.ACCOUNT_CLOSED:
            with suppress(InvalidTransition):  # unless revoked or suspended meanwhile
                self.suspend(job.mandate.mandate_no, actor="billfold", reason=message)

    # -- helpers -------------------------------------------------------------------------
    def _finish(
        self, job: _Job, status: DebitStatus, reason: str | None, event: str, **values: Any
    ) -> None:
        """Record the end of an attempt, unless a newer attempt has taken the debit over."""
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            repo = uow.mandates
            debit = job.debit
            changed = repo.update_debit(
                debit.id,
                [DebitStatus.SUBMITTING],
                at_attempt=debit.attempts,
                status=status,
                reason=reason,
                updated_at=now,
                **values,
            )
            if not changed:
                log.warning("autodebit.stale_result", debit_no=debit.debit_no, status=status.value)
                return
            payload = self._debit_event(job.mandate, job.bill_no, debit.debit_no, debit.amount_fen)
            payload.update(attempt=debit.attempts, status=status.value, reason=reason)
            for key in ("order_no", "bank_txn_id", "next_attempt_at"):
                if key in values:
                    payload[key] = str(values[key])
            uow.outbox.add(event, job.mandate.biller_id, payload, now)
            uow.commit()

    # -- refunds of debited money (Collector.pay_out_refunds) -----------------------------
    def refund(
        self, refund_no: str, order_no: str, channel_txn_id: str, amount_fen: int, total_fen: int
    ) -> RefundAnswer:
        return self.bank.refund(refund_no, order_no, channel_txn_id, amount_fen)
