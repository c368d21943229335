"""Bills: what a payer owes a biller, item by item."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from billfold.collection.latefee import LateFeeRule, PrincipalPaid
from billfold.errors import InvalidInput, InvalidTransition
from billfold.money import format_yuan

__all__ = ["Bill", "BillItem", "BillKind", "BillStatus", "StoredStatus", "Waiver"]

# Late fees are paid before any item: the allocation rule treats them as priority 0.
LATE_FEE_PRIORITY = 0
LATE_FEE_CODE = "late_fee"


class BillKind(StrEnum):
    FIXED = "fixed"
    OPEN = "open"  # the payer chooses an amount within [open_min, open_max]
    FINE = "fine"  # carries a decision number (决定书编号)


class BillStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class StoredStatus(StrEnum):
    """The time-independent part of the status, kept in the database for queries.

    ``overdue`` is derived from the due date and the business date when read.
    """

    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


@dataclass(slots=True)
class BillItem:
    code: str
    name: str
    amount_fen: int
    priority: int = 100
    paid_fen: int = 0  # net of refunds and reversals
    waived_fen: int = 0
    refunded_fen: int = 0  # refunded money is no longer owed

    def __post_init__(self) -> None:
        if not self.code:
            raise InvalidInput("item: every bill item needs a code")
        if self.amount_fen < 0:
            raise InvalidInput(f"item {self.code}: amount cannot be negative")
        if self.priority < 1:
            raise InvalidInput(f"item {self.code}: priority must be 1 or more (0 is late fees)")

    @property
    def outstanding_fen(self) -> int:
        return self.amount_fen - self.waived_fen - self.paid_fen - self.refunded_fen


@dataclass(frozen=True, slots=True)
class Waiver:
    item_code: str
    amount_fen: int
    reason: str
    granted_by: str
    granted_at: datetime
    request_id: str | None = None  # unique per bill: a repeat of the request waives nothing


@dataclass(slots=True)
class Bill:
    biller_id: int
    bill_no: str
    payer_id: int
    items: list[BillItem]
    kind: BillKind = BillKind.FIXED
    due_date: date | None = None
    late_fee_rule: LateFeeRule = field(default_factory=LateFeeRule)
    allow_partial: bool = False
    min_part_fen: int = 0
    open_min_fen: int | None = None
    open_max_fen: int | None = None
    decision_no: str | None = None
    sub_unit: str | None = None
    period: str | None = None
    description: str | None = None
    currency: str = "CNY"
    late_fee_paid_fen: int = 0
    cancelled: bool = False
    cancel_reason: str | None = None
    #: Principal paid, by business date, still standing: the history late fees accrue on
    #: (read from the payments; principal paid but not in it counts as paid before the due
    #: date).
    principal_paid: tuple[PrincipalPaid, ...] = ()
    id: int | None = None
    version: int = 0

    def __post_init__(self) -> None:
        if not self.bill_no or len(self.bill_no) > 64:
            raise InvalidInput("bill_no: a bill number is 1-64 characters")
        if not self.items:
            raise InvalidInput(f"bill {self.bill_no}: a bill needs at least one item")
        codes = [item.code for item in self.items]
        if len(set(codes)) != len(codes):
            raise InvalidInput(f"bill {self.bill_no}: item codes repeat ({', '.join(codes)})")
        if self.kind is BillKind.OPEN:
            if self.open_min_fen is None or self.open_max_fen is None:
                raise InvalidInput(f"bill {self.bill_no}: an open-amount bill needs min and max")
            if not 0 < self.open_min_fen <= self.open_max_fen:
                raise InvalidInput(
                    f"bill {self.bill_no}: open amount bounds must satisfy 0 < min <= max"
                )
            if len(self.items) != 1:
                raise InvalidInput(f"bill {self.bill_no}: an open-amount bill has exactly one item")
        elif self.principal_fen <= 0:
            raise InvalidInput(f"bill {self.bill_no}: amount must be more than 0.00")
        if self.kind is BillKind.FINE and not self.decision_no:
            raise InvalidInput(f"bill {self.bill_no}: a fine needs its decision number")
        if self.min_part_fen < 0:
            raise InvalidInput(f"bill {self.bill_no}: min_part cannot be negative")

    # -- amounts -----------------------------------------------------------------------
    @property
    def principal_fen(self) -> int:
        return sum(item.amount_fen for item in self.items)

    @property
    def paid_fen(self) -> int:
        """Principal paid, net of refunds and reversals (late fees not included)."""
        return sum(item.paid_fen for item in self.items)

    @property
    def waived_fen(self) -> int:
        return sum(item.waived_fen for item in self.items)

    @property
    def refunded_fen(self) -> int:
        return sum(item.refunded_fen for item in self.items)

    @property
    def outstanding_fen(self) -> int:
        if self.kind is BillKind.OPEN:
            return 0 if self.paid_fen > 0 else (self.open_max_fen or 0)
        return sum(item.outstanding_fen for item in self.items)

    def late_fee_fen(self, today: date) -> int:
        """Late fee still owed today: what the rule accrued, day by day, on the principal
        owed on each day (see :mod:`billfold.collection.latefee`), capped on the original
        principal, less late fees already paid."""
        if self.kind is BillKind.OPEN or self.cancelled:
            return 0
        accrued = self.late_fee_rule.accrued(
            self.principal_fen, self.outstanding_fen, self.principal_paid, self.due_date, today
        )
        return max(0, accrued - self.late_fee_paid_fen)

    def amount_due_fen(self, today: date) -> int:
        """What paying this bill in full costs today (principal still owed + late fee)."""
        return self.outstanding_fen + self.late_fee_fen(today)

    # -- status --------------------------------------------------------------------------
    @property
    def stored_status(self) -> StoredStatus:
        if self.cancelled:
            return StoredStatus.CANCELLED
        if self.kind is BillKind.OPEN:
            if self.paid_fen > 0:
                return StoredStatus.PAID
            return StoredStatus.REFUNDED if self.refunded_fen > 0 else StoredStatus.OPEN
        if self.outstanding_fen == 0:
            if self.paid_fen == 0 and self.refunded_fen > 0:
                return StoredStatus.REFUNDED
            return StoredStatus.PAID
        if self.paid_fen > 0:
            return StoredStatus.PARTIALLY_PAID
        return StoredStatus.OPEN

    def status(self, today: date) -> BillStatus:
        stored = self.stored_status
        if stored in (StoredStatus.OPEN, StoredStatus.PARTIALLY_PAID) and (
            self.due_date is not None and today > self.due_date
        ):
            return BillStatus.OVERDUE
        return BillStatus(stored.value)

    @property
    def payable(self) -> bool:
        return self.stored_status in (StoredStatus.OPEN, StoredStatus.PARTIALLY_PAID)

    # -- operator actions ------------------------------------------------------------------
    def item(self, code: str) -> BillItem:
        for item in self.items:
            if item.code == code:
                return item
        raise InvalidInput(f"bill {self.bill_no}: has no item {code!r}")

    def waive(self, item_code: str | None, amount_fen: int, reason: str, by: str) -> None:
        """Waive (减免) part of what is owed; ``item_code=None`` waives across items by priority."""
        if self.cancelled:
            raise InvalidTransition(f"bill {self.bill_no} is cancelled; nothing can be waived")
        if not reason.strip() or not by.strip():
            raise InvalidInput("waiver: a reason and the person granting it are required")
        if amount_fen <= 0:
            raise InvalidInput("waiver: amount must be more than 0.00")
        if self.kind is BillKind.OPEN:
            raise InvalidInput(f"bill {self.bill_no}: an open-amount bill cannot be waived")
        targets = (
            [self.item(item_code)] if item_code else sorted(self.items, key=lambda i: i.priority)
        )
        available = sum(item.outstanding_fen for item in targets)
        if amount_fen > available:
            raise InvalidInput(
                f"waiver: {format_yuan(amount_fen)} is more than the {format_yuan(available)} "
                f"still owed on bill {self.bill_no}" + (f" item {item_code}" if item_code else "")
            )
        left = amount_fen
        for item in targets:
            take = min(left, item.outstanding_fen)
            item.waived_fen += take
            left -= take

    def take_back(self, item_code: str, amount_fen: int, *, refund: bool) -> None:
        """Take money back off this bill: a refund is no longer owed; a reversal is owed
        again (as if it had never been paid)."""
        if item_code == LATE_FEE_CODE:
            self.late_fee_paid_fen -= amount_fen
            return
        item = self.item(item_code)
        item.paid_fen -= amount_fen
        if refund:
            item.refunded_fen += amount_fen

    def cancel(self, reason: str) -> None:
        if self.cancelled:
            raise InvalidTransition(f"bill {self.bill_no} is already cancelled")
        paid = self.paid_fen + self.late_fee_paid_fen
        if paid > 0:
            raise InvalidTransition(
                f"bill {self.bill_no} has {format_yuan(paid)} paid; refund it before cancelling"
            )
        if not reason.strip():
            raise InvalidInput("cancel: a reason is required")
        self.cancelled = True
        self.cancel_reason = reason

    def change(
        self,
        amounts: dict[str, int],
        new_items: list[BillItem],
        due_date: date | None,
        *,
        clear_due_date: bool = False,
    ) -> None:
        """Change what the bill asks for before it is paid: item amounts (by code), new
        items, the due date. A part-paid bill may change only in ways that keep what was paid
        valid: no item below what was paid, waived or refunded on it."""
        if self.cancelled:
            raise InvalidTransition(f"bill {self.bill_no} is cancelled; it cannot be changed")
        if self.stored_status not in (StoredStatus.OPEN, StoredStatus.PARTIALLY_PAID):
            raise InvalidTransition(
                f"bill {self.bill_no} is {self.stored_status.value}; only an unpaid or part-paid "
                "bill can be changed"
            )
        if self.kind is BillKind.OPEN and (amounts or new_items):
            raise InvalidInput(f"bill {self.bill_no}: an open-amount bill has no amount to change")
        if not (amounts or new_items or due_date or clear_due_date):
            raise InvalidInput("change: nothing to change (give an amount, items or a due date)")
        for code, amount in amounts.items():
            item = self.item(code)
            settled = item.paid_fen + item.waived_fen + item.refunded_fen
            if amount < settled:
                raise InvalidInput(
                    f"item {code}: {format_yuan(amount)} is less than the {format_yuan(settled)} "
                    f"already paid or waived on bill {self.bill_no}"
                )
        known = {item.code for item in self.items}
        for item in new_items:
            if item.code in known or item.code == LATE_FEE_CODE:
                raise InvalidInput(f"item {item.code}: bill {self.bill_no} has it already")
            known.add(item.code)
        total = sum(amounts.get(i.code, i.amount_fen) for i in self.items)
        if total + sum(i.amount_fen for i in new_items) <= 0:
            raise InvalidInput(f"bill {self.bill_no}: amount must be more than 0.00")
        for code, amount in amounts.items():
            self.item(code).amount_fen = amount
        self.items.extend(new_items)
        if clear_due_date:
            self.due_date = None
        elif due_date is not None:
            self.due_date = due_date

    def snapshot(self) -> dict[str, object]:
        """Values an audit record keeps before/after an operator action."""
        return {
            "status": self.stored_status.value,
            "amount": format_yuan(self.principal_fen),
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "paid": format_yuan(self.paid_fen),
            "waived": format_yuan(self.waived_fen),
            "outstanding": format_yuan(self.outstanding_fen),
            "items": {
                i.code: {"amount": format_yuan(i.amount_fen), "waived": format_yuan(i.waived_fen)}
                for i in self.items
            },
        }
