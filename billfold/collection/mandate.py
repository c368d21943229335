"""Auto-debit mandates (签约代扣): the payer signs once, the biller's bills are debited.

Pure domain: the mandate's states and transitions, its limits per debit and per calendar
month, its validity period, when a debit may happen after its pre-debit notice, and when a
debit refused for insufficient funds is tried again. No I/O.

States: ``pending`` (signed, the bank has not confirmed) → ``active`` → ``suspended``
(and back) → ``revoked`` or ``expired``, both final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from billfold.errors import InvalidInput, InvalidTransition
from billfold.money import format_yuan

__all__ = [
    "DEFAULT_NOTICE_LEAD",
    "DUE_DEBIT_STATES",
    "TRANSITIONS",
    "Debit",
    "DebitRefusal",
    "DebitStatus",
    "Mandate",
    "MandateStatus",
    "Refusal",
    "RetrySchedule",
    "can_transition",
    "debit_time",
    "month_start",
    "notice_due",
]

DEFAULT_NOTICE_LEAD = timedelta(hours=24)


class MandateStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


S = MandateStatus
TRANSITIONS: dict[MandateStatus, frozenset[MandateStatus]] = {
    S.PENDING: frozenset({S.ACTIVE, S.REVOKED, S.EXPIRED}),
    S.ACTIVE: frozenset({S.SUSPENDED, S.REVOKED, S.EXPIRED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.REVOKED, S.EXPIRED}),
    S.REVOKED: frozenset(),
    S.EXPIRED: frozenset(),
}


def can_transition(current: MandateStatus, target: MandateStatus) -> bool:
    return target in TRANSITIONS[current]


class DebitStatus(StrEnum):
    """One debit of one bill under a mandate."""

    SCHEDULED = "scheduled"  # the pre-debit notice went out; waiting for its time
    SUBMITTING = "submitting"  # claimed by a run; being sent to the bank
    RETRY_WAIT = "retry_wait"  # insufficient funds; waiting for the next attempt
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the bank refused for good, or the attempts ran out
    CANCELLED = "cancelled"  # mandate revoked/expired, bill paid elsewhere, over a limit


#: Debits a run may claim once their time has come.
DUE_DEBIT_STATES = (DebitStatus.SCHEDULED, DebitStatus.RETRY_WAIT)


@dataclass(frozen=True, slots=True)
class Debit:
    """One stored debit of one bill under one mandate."""

    id: int
    debit_no: str
    mandate_id: int
    bill_id: int
    status: DebitStatus
    amount_fen: int
    noticed_fen: int
    noticed_at: datetime
    due_at: datetime
    next_attempt_at: datetime
    attempts: int
    order_no: str | None
    bank_txn_id: str | None
    reason: str | None
    debited_on: date | None

    @property
    def request_id(self) -> str:
        """The bank request id of the current attempt (the bank deduplicates on it)."""
        return f"{self.debit_no}-{self.attempts}"


class Refusal(StrEnum):
    """Why a mandate may not be debited now."""

    NOT_ACTIVE = "not_active"
    NOT_YET_VALID = "not_yet_valid"
    PAST_VALIDITY = "past_validity"
    OVER_PER_DEBIT_LIMIT = "over_per_debit_limit"
    OVER_MONTHLY_LIMIT = "over_monthly_limit"


@dataclass(frozen=True, slots=True)
class DebitRefusal:
    code: Refusal
    message: str


@dataclass(slots=True)
class Mandate:
    mandate_no: str
    biller_id: int
    payer_id: int
    account_masked: str
    per_debit_limit_fen: int
    monthly_limit_fen: int
    valid_from: date
    valid_until: date | None = None
    status: MandateStatus = MandateStatus.PENDING
    agreement_no: str | None = None
    status_reason: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.mandate_no or len(self.mandate_no) > 32:
            raise InvalidInput("mandate_no: 1-32 characters required")
        shown = [c for c in self.account_masked if c not in "* "]
        if not self.account_masked or len(self.account_masked) > 40 or len(shown) > 4:
            raise InvalidInput(
                "account: store the account number masked (at most its last 4 characters shown)"
            )
        for name in ("per_debit_limit_fen", "monthly_limit_fen"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidInput(f"{name}: a limit must be a positive amount of fen")
        if self.per_debit_limit_fen > self.monthly_limit_fen:
            raise InvalidInput(
                f"per_debit_limit: {format_yuan(self.per_debit_limit_fen)} is more than the "
                f"monthly limit of {format_yuan(self.monthly_limit_fen)}"
            )
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise InvalidInput(
                f"valid_until: {self.valid_until} is before valid_from {self.valid_from}"
            )

    # -- states ------------------------------------------------------------------------
    def transition(self, target: MandateStatus, reason: str | None = None) -> None:
        if not can_transition(self.status, target):
            raise InvalidTransition(
                f"mandate {self.mandate_no} is {self.status.value}; it cannot become {target.value}"
            )
        self.status = target
        self.status_reason = reason

    def activate(self, agreement_no: str | None = None) -> None:
        """The bank confirmed the signing (or a suspended mandate is resumed)."""
        self.transition(MandateStatus.ACTIVE)
        if agreement_no:
            self.agreement_no = agreement_no

    def suspend(self, reason: str) -> None:
        _need_reason(reason, "suspend")
        self.transition(MandateStatus.SUSPENDED, reason)

    def revoke(self, reason: str) -> None:
        _need_reason(reason, "revoke")
        self.transition(MandateStatus.REVOKED, reason)

    def expire(self) -> None:
        self.transition(MandateStatus.EXPIRED, "validity period ended")

    @property
    def final(self) -> bool:
        return not TRANSITIONS[self.status]

    # -- validity and limits -------------------------------------------------------------
    def expired_on(self, day: date) -> bool:
        return self.valid_until is not None and day > self.valid_until

    def debit_refusal(
        self, amount_fen: int, used_this_month_fen: int, day: date
    ) -> DebitRefusal | None:
        """Why ``amount_fen`` may not be debited on business date ``day`` (``None``: it may).

        ``used_this_month_fen`` is what was debited (or is being debited) under this mandate
        in ``day``'s calendar month, in the biller's timezone.
        """
        if self.status is not MandateStatus.ACTIVE:
            return DebitRefusal(
                Refusal.NOT_ACTIVE, f"mandate {self.mandate_no} is {self.status.value}"
            )
        if day < self.valid_from:
            return DebitRefusal(
                Refusal.NOT_YET_VALID,
                f"mandate {self.mandate_no} is valid from {self.valid_from}, not on {day}",
            )
        if self.expired_on(day):
            return DebitRefusal(
                Refusal.PAST_VALIDITY,
                f"mandate {self.mandate_no} was valid until {self.valid_until}",
            )
        if amount_fen > self.per_debit_limit_fen:
            return DebitRefusal(
                Refusal.OVER_PER_DEBIT_LIMIT,
                f"{format_yuan(amount_fen)} is over mandate {self.mandate_no}'s per-debit "
                f"limit of {format_yuan(self.per_debit_limit_fen)}",
            )
        if used_this_month_fen + amount_fen > self.monthly_limit_fen:
            return DebitRefusal(
                Refusal.OVER_MONTHLY_LIMIT,
                f"{format_yuan(amount_fen)} would take mandate {self.mandate_no} over its "
                f"monthly limit of {format_yuan(self.monthly_limit_fen)} "
                f"({format_yuan(used_this_month_fen)} already debited in {day:%Y-%m})",
            )
        return None


def _need_reason(reason: str, action: str) -> None:
    if not reason or not reason.strip():
        raise InvalidInput(f"{action}: a reason is required")


def month_start(day: date) -> date:
    """The first day of ``day``'s calendar month (limits are per calendar month)."""
    return day.replace(day=1)


# -- timing ------------------------------------------------------------------------------


def notice_due(debit_planned_at: datetime, now: datetime, lead: timedelta) -> bool:
    """Whether the pre-debit notice for a debit planned at ``debit_planned_at`` goes out now."""
    return now >= debit_planned_at - lead


def debit_time(debit_planned_at: datetime, noticed_at: datetime, lead: timedelta) -> datetime:
    """When a noticed debit may happen: as planned, but never less than ``lead`` after the
    notice (a bill found late, or a mandate signed late, moves the debit back)."""
    return max(debit_planned_at, noticed_at + lead)


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Retries after insufficient funds: attempt ``n+1`` comes ``min(cap, base * factor**(n-1))``
    after failed attempt ``n``; after ``max_attempts`` failed attempts the debit is given up."""

    base: timedelta = timedelta(days=1)
    factor: int = 2
    cap: timedelta = timedelta(days=7)
    max_attempts: int = 4

    def __post_init__(self) -> None:
        if self.base <= timedelta(0):
            raise InvalidInput("retry base: must be a positive duration")
        if self.cap < self.base:
            raise InvalidInput("retry cap: must be at least the base delay")
        if self.factor < 1:
            raise InvalidInput("retry factor: must be 1 or more")
        if self.max_attempts < 1:
            raise InvalidInput("max_attempts: must be 1 or more")

    def delay(self, failed_attempts: int) -> timedelta:
        if failed_attempts < 1:
            raise InvalidInput("failed_attempts: counts failed attempts, starting at 1")
        delay = self.base
        for _ in range(failed_attempts - 1 if self.factor > 1 else 0):
            if delay >= self.cap:
                break
            delay = delay * self.factor
        return min(delay, self.cap)

    def next_attempt(self, failed_attempts: int, failed_at: datetime) -> datetime | None:
        """When to try again after ``failed_attempts`` failures, or ``None`` to give up."""
        if failed_attempts >= self.max_attempts:
            return None
        return failed_at + self.delay(failed_attempts)
