"""What the back office does to a bill after the fact: waive part of it (减免), change it
(amounts, items, due date) or cancel it.

Each is audited with who and why, before and after, and announced in the outbox. A waiver
carries the client's request id, unique per bill in the database: the same request again (a
retry after a lost answer or a crash) returns the bill and waives nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from billfold.clock import Clock
from billfold.collection.bill import Bill, BillItem, Waiver
from billfold.collection.ports import UnitOfWork
from billfold.errors import Conflict, InvalidInput, InvalidTransition, InvariantViolated, NotFound
from billfold.merchants.services import require_biller
from billfold.money import format_yuan

__all__ = [
    "BillCancellation",
    "BillChange",
    "WaiverRequest",
    "cancel_bill",
    "change_bill",
    "waive_bill",
]


@dataclass(frozen=True, slots=True)
class WaiverRequest:
    """Waive ``amount_fen`` of a bill (of one item, or across items by priority), once per
    ``request_id``."""

    biller_code: str
    bill_no: str
    amount_fen: int
    reason: str
    granted_by: str
    request_id: str
    item_code: str | None = None

    def __post_init__(self) -> None:
        if not self.request_id.strip() or len(self.request_id) > 64:
            raise InvalidInput(
                "request_id: 1-64 characters required (it makes the waiver idempotent)"
            )


@dataclass(frozen=True, slots=True)
class BillCancellation:
    biller_code: str
    bill_no: str
    reason: str
    by: str


@dataclass(frozen=True, slots=True)
class BillChange:
    """Change a bill before it is paid: ``amount_fen`` (a one-item bill's amount),
    ``items`` (code → new amount; a code the bill lacks is a new item, named in
    ``names``), the due date (``clear_due_date`` removes it). A reason is required."""

    biller_code: str
    bill_no: str
    reason: str
    by: str
    amount_fen: int | None = None
    items: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    due_date: date | None = None
    clear_due_date: bool = False

    def __post_init__(self) -> None:
        if not self.reason.strip() or not self.by.strip():
            raise InvalidInput("change: a reason and who changes the bill are required")
        for code, amount in [("amount", self.amount_fen), *self.items.items()]:
            if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
                raise InvalidInput(f"{code}: must be integer fen")
            if amount is not None and amount < 0:
                raise InvalidInput(f"{code}: cannot be negative")
        for code in self.items:
            if not code or len(code) > 32:
                raise InvalidInput(f"item {code!r}: an item code is 1-32 characters")
        for code, name in self.names.items():
            if len(name) > 100:
                raise InvalidInput(f"item {code}: a name is at most 100 characters")


def _locked_bill(uow: UnitOfWork, biller_code: str, bill_no: str) -> Bill:
    biller = require_biller(uow, biller_code)
    if biller.id is None:
        raise InvariantViolated("biller.id is missing")
    bill = uow.bills.get_by_no(biller.id, bill_no, lock=True)
    if bill is None:
        raise NotFound(f"bill {bill_no!r} does not exist for biller {biller_code}")
    return bill


def _record(
    uow: UnitOfWork,
    bill: Bill,
    biller_code: str,
    action: str,
    event: str,
    payload: dict[str, Any],
    *,
    actor: str,
    reason: str,
    before: dict[str, Any],
    now: datetime,
) -> None:
    """Audit ``action`` on ``bill`` (before and after) and announce it as ``event``."""
    uow.audit.append(
        actor=actor,
        action=action,
        target_type="bill",
        target_id=f"{biller_code}/{bill.bill_no}",
        reason=reason,
        before=before,
        after=bill.snapshot(),
        now=now,
    )
    uow.outbox.add(event, bill.biller_id, payload, now)


def waive_bill(uow: UnitOfWork, clock: Clock, req: WaiverRequest) -> Bill:
    now = clock.now()
    with uow:
        bill = _locked_bill(uow, req.biller_code, req.bill_no)
        if bill.id is None:
            raise InvariantViolated("bill.id is missing")
        earlier = uow.bills.find_waiver(bill.id, req.request_id)
        if earlier is not None:
            _same_waiver(earlier, req)
            return bill
        before = bill.snapshot()
        bill.waive(req.item_code, req.amount_fen, req.reason, req.granted_by)
        uow.bills.save(bill, now)
        waiver = Waiver(
            req.item_code or "*",
            req.amount_fen,
            req.reason,
            req.granted_by,
            now,
            req.request_id,
        )
        uow.bills.add_waiver(bill.id, waiver)
        payload = {"bill_no": req.bill_no, "amount_fen": req.amount_fen}
        _record(
            uow,
            bill,
            req.biller_code,
            "waive",
            "bill.waived",
            payload,
            actor=req.granted_by,
            reason=req.reason,
            before=before,
            now=now,
        )
        uow.commit()
        return bill


def _same_waiver(earlier: Waiver, req: WaiverRequest) -> None:
    """A repeat must ask for what the first request did; anything else is refused."""
    if (earlier.item_code, earlier.amount_fen) != (req.item_code or "*", req.amount_fen):
        raise Conflict(
            f"waiver request {req.request_id} was made before for "
            f"{format_yuan(earlier.amount_fen)} of {earlier.item_code}, not "
            f"{format_yuan(req.amount_fen)} of {req.item_code or '*'}"
        )


def cancel_bill(uow: UnitOfWork, clock: Clock, req: BillCancellation) -> Bill:
    now = clock.now()
    with uow:
        bill = _locked_bill(uow, req.biller_code, req.bill_no)
        before = bill.snapshot()
        bill.cancel(req.reason)
        uow.bills.save(bill, now)
        _record(
            uow,
            bill,
            req.biller_code,
            "cancel",
            "bill.cancelled",
            {"bill_no": req.bill_no},
            actor=req.by,
            reason=req.reason,
            before=before,
            now=now,
        )
        uow.commit()
        return bill


def change_bill(uow: UnitOfWork, clock: Clock, req: BillChange) -> Bill:
    """Apply ``req`` to the bill (locked), audited with before and after, announced as
    ``bill.changed``. A part-paid bill keeps what was paid valid (see :meth:`Bill.change`)."""
    now = clock.now()
    with uow:
        bill = _locked_bill(uow, req.biller_code, req.bill_no)
        before = bill.snapshot()
        amounts = dict(req.items)
        if req.amount_fen is not None:
            if len(bill.items) != 1:
                raise InvalidInput(
                    f"amount: bill {req.bill_no} has {len(bill.items)} items; change them by item"
                )
            amounts[bill.items[0].code] = req.amount_fen
        known = {item.code for item in bill.items}
        new_items = []
        for code in [c for c in amounts if c not in known]:
            name = req.names.get(code, "").strip()
            if not name:
                raise InvalidInput(f"item {code}: a new item needs a name")
            new_items.append(BillItem(code, name, amounts.pop(code)))
        if bill.id is None:
            raise InvariantViolated("bill.id is missing")
        waiting = uow.orders.open_for_bill(bill.id) if amounts or new_items else []
        if waiting:
            raise InvalidTransition(
                f"bill {req.bill_no} is in order {waiting[0]}, which may still be paid; cancel "
                "the order (or let it expire) before changing the amount"
            )
        bill.change(amounts, new_items, req.due_date, clear_due_date=req.clear_due_date)
        if new_items:
            uow.bills.add_items(bill.id, new_items)
        uow.bills.save(bill, now)
        _record(
            uow,
            bill,
            req.biller_code,
            "change",
            "bill.changed",
            {"bill_no": req.bill_no},
            actor=req.by,
            reason=req.reason,
            before=before,
            now=now,
        )
        uow.commit()
        return bill
