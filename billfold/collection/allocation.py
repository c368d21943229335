"""How a payment is shared out over bills and items — one rule, used everywhere.

The rule: late fees first; then items by priority (lower number first); between equal
priorities the bill with the oldest due date first (bills without a due date last), then
bill number, then the item's position on the bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from billfold.collection.bill import LATE_FEE_CODE, LATE_FEE_PRIORITY, Bill, BillKind
from billfold.errors import InvalidInput, InvariantViolated
from billfold.money import format_yuan

__all__ = ["Allocation", "allocate"]


@dataclass(frozen=True, slots=True)
class Allocation:
    bill_id: int
    bill_no: str
    item_code: str  # LATE_FEE_CODE for the late fee
    amount_fen: int

    @property
    def is_late_fee(self) -> bool:
        return self.item_code == LATE_FEE_CODE


def allocate(bills: list[Bill], today: date, amount_fen: int | None = None) -> list[Allocation]:
    """Share ``amount_fen`` (``None`` = everything due) over ``bills`` by the stated rule.

    Raises :class:`InvalidInput` when the amount is more than is due, when it leaves a bill
    part-paid that does not take part payments, or when a part is below the bill's minimum.
    """
    if not bills:
        raise InvalidInput("bills: an order needs at least one bill")
    for bill in bills:
        if bill.id is None:
            raise InvalidInput(f"bill {bill.bill_no}: is not stored yet")
        if not bill.payable:
            raise InvalidInput(f"bill {bill.bill_no}: is {bill.status(today).value}, not payable")
    open_bills = [b for b in bills if b.kind is BillKind.OPEN]
    if open_bills:
        return _allocate_open(bills, amount_fen)

    units: list[tuple[tuple[int, date, str, int], Bill, str, int]] = []
    for bill in bills:
        due_key = bill.due_date or date.max
        fee = bill.late_fee_fen(today)
        if fee:
            units.append(((LATE_FEE_PRIORITY, due_key, bill.bill_no, -1), bill, LATE_FEE_CODE, fee))
        for position, item in enumerate(bill.items):
            if item.outstanding_fen > 0:
                key = (item.priority, due_key, bill.bill_no, position)
                units.append((key, bill, item.code, item.outstanding_fen))
    units.sort(key=lambda unit: unit[0])
    total_due = sum(unit[3] for unit in units)
    wanted = total_due if amount_fen is None else amount_fen
    if wanted <= 0:
        raise InvalidInput(f"amount: must be more than 0.00, got {format_yuan(wanted)}")
    if wanted > total_due:
        raise InvalidInput(
            f"amount: {format_yuan(wanted)} is more than the {format_yuan(total_due)} due"
        )

    result: list[Allocation] = []
    left = wanted
    for _key, bill, code, due in units:
        if left == 0:
            break
        take = min(left, due)
        if bill.id is None:
            raise InvariantViolated("bill.id is missing")
        result.append(Allocation(bill.id, bill.bill_no, code, take))
        left -= take
    _check_parts(bills, result, today)
    return result


def _allocate_open(bills: list[Bill], amount_fen: int | None) -> list[Allocation]:
    if len(bills) != 1:
        raise InvalidInput("bills: an open-amount bill is paid on its own order")
    bill = bills[0]
    if bill.id is None or bill.open_min_fen is None or bill.open_max_fen is None:
        raise InvariantViolated("an open-amount bill without its id or bounds")
    if amount_fen is None:
        raise InvalidInput(
            f"amount: bill {bill.bill_no} is open-amount; the payer states the amount"
        )
    if not bill.open_min_fen <= amount_fen <= bill.open_max_fen:
        raise InvalidInput(
            f"amount: {format_yuan(amount_fen)} is outside {format_yuan(bill.open_min_fen)}"
            f"–{format_yuan(bill.open_max_fen)} for bill {bill.bill_no}"
        )
    return [Allocation(bill.id, bill.bill_no, bill.items[0].code, amount_fen)]


def _check_parts(bills: list[Bill], allocations: list[Allocation], today: date) -> None:
    for bill in bills:
        covered = sum(a.amount_fen for a in allocations if a.bill_id == bill.id)
        due = bill.amount_due_fen(today)
        if covered == due:
            continue
        if covered == 0:
            raise InvalidInput(
                f"amount: nothing would reach bill {bill.bill_no}; pay it separately or pay more"
            )
        if not bill.allow_partial:
            raise InvalidInput(
                f"amount: bill {bill.bill_no} must be paid in full ({format_yuan(due)}); "
                "it does not take part payments"
            )
        if covered < bill.min_part_fen:
            raise InvalidInput(
                f"amount: {format_yuan(covered)} is below the minimum part payment "
                f"{format_yuan(bill.min_part_fen)} for bill {bill.bill_no}"
            )
