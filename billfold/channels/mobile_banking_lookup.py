"""Mobile banking bill lookup (掌银查询): the bank's app asks "what does 2024001 owe?".

:func:`lookup` answers by any identifier (户号, 学号, decision number, contract number): the
payable bills of billers that take this channel, with the late fee computed now (the
engine's clock, the biller's business date) and the payer's name masked. An identifier
nobody knows is an answer (``not_found``), not an error. Re-exported by
:mod:`billfold.channels.mobile_banking`, the channel's module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from billfold.channels.ports import ChannelHost
from billfold.clock import business_date
from billfold.collection.bill import Bill, BillKind
from billfold.collection.payer import Payer
from billfold.errors import NotFound
from billfold.merchants.biller import Biller
from billfold.merchants.channel_config import channel_refusal
from billfold.money import format_yuan

__all__ = ["CHANNEL", "LookupAnswer", "LookupCode", "PayableBill", "bank_refusal", "lookup"]

CHANNEL = "mobile_banking"


class LookupCode(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"  # nobody is known by this identifier
    NOTHING_DUE = "nothing_due"  # known, but every bill is paid
    NOT_OFFERED = "not_offered"  # bills exist, but their billers do not take mobile banking
    UNKNOWN_BILLER = "unknown_biller"
    INVALID_IDENTIFIER = "invalid_identifier"


@dataclass(frozen=True, slots=True)
class PayableBill:
    biller_code: str
    biller_name: str
    bill_no: str
    payer_identifier: str  # masked when it is a phone or ID number
    payer_name: str  # masked
    kind: BillKind
    status: str  # open / partially_paid / overdue
    due_date: date | None
    principal_fen: int  # still owed, before the late fee
    late_fee_fen: int  # as of now
    amount_due_fen: int  # principal + late fee (0 for an open-amount bill: the payer states it)
    allow_partial: bool = False
    min_part_fen: int = 0
    open_min_fen: int | None = None
    open_max_fen: int | None = None
    period: str | None = None
    description: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "biller_code": self.biller_code,
            "biller_name": self.biller_name,
            "bill_no": self.bill_no,
            "payer_identifier": self.payer_identifier,
            "payer_name": self.payer_name,
            "kind": self.kind.value,
            "status": self.status,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "principal": format_yuan(self.principal_fen),
            "late_fee": format_yuan(self.late_fee_fen),
            "amount_due": format_yuan(self.amount_due_fen),
            "amount_due_fen": self.amount_due_fen,
            "allow_partial": self.allow_partial,
            "period": self.period,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    code: LookupCode
    identifier: str
    message: str
    bills: tuple[PayableBill, ...] = ()
    as_of: datetime | None = None

    @property
    def found(self) -> bool:
        return self.code is LookupCode.FOUND

    @property
    def total_due_fen(self) -> int:
        return sum(bill.amount_due_fen for bill in self.bills)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "message": self.message,
            "identifier": self.identifier,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "total_due": format_yuan(self.total_due_fen),
            "bills": [bill.as_dict() for bill in self.bills],
        }


def lookup(engine: ChannelHost, identifier: str, biller_code: str | None = None) -> LookupAnswer:
    """Payable bills for ``identifier`` with amounts due now; never raises for unknown ids."""
    ident = identifier.strip() if isinstance(identifier, str) else ""
    if not ident or len(ident) > 64:
        return LookupAnswer(
            LookupCode.INVALID_IDENTIFIER,
            str(identifier),
            "identifier: 1-64 characters required (户号, 学号, decision or contract number)",
        )
    now = engine.clock.now()
    try:
        found = engine.bills_for(ident, biller_code)
    except NotFound as exc:
        return LookupAnswer(LookupCode.UNKNOWN_BILLER, ident, exc.message, as_of=now)
    refusals: dict[str, str | None] = {}
    bills: list[PayableBill] = []
    for biller, payer, bill in found:
        if biller.code not in refusals:
            refusals[biller.code] = _not_offered(engine, biller)
        if not refusals[biller.code]:
            bills.append(_payable(biller, payer, bill, business_date(now, biller.timezone)))
    if bills:
        return LookupAnswer(
            LookupCode.FOUND, ident, f"{len(bills)} bill(s) to pay", tuple(bills), now
        )
    if found:
        reasons = "; ".join(sorted({r for r in refusals.values() if r}))
        return LookupAnswer(LookupCode.NOT_OFFERED, ident, reasons, as_of=now)
    if _known(engine, ident, biller_code):
        return LookupAnswer(LookupCode.NOTHING_DUE, ident, f"nothing is due for {ident}", as_of=now)
    return LookupAnswer(
        LookupCode.NOT_FOUND, ident, f"no payer or bill is known by {ident}", as_of=now
    )


def _not_offered(engine: ChannelHost, biller: Biller) -> str | None:
    """Why this biller's bills are not offered through the bank (``None``: they are)."""
    refusal = bank_refusal(engine, biller.code)
    if refusal is None and not biller.accepts_orders:
        refusal = f"biller {biller.code} is suspended and takes no payments"
    return refusal


def _payable(biller: Biller, payer: Payer, bill: Bill, today: date) -> PayableBill:
    """The bill as the bank shows it today: amounts due now, the payer masked."""
    is_open = bill.kind is BillKind.OPEN
    shown = payer.masked()
    return PayableBill(
        biller_code=biller.code,
        biller_name=biller.name,
        bill_no=bill.bill_no,
        payer_identifier=shown["identifier"],
        payer_name=shown["name"],
        kind=bill.kind,
        status=bill.status(today).value,
        due_date=bill.due_date,
        principal_fen=0 if is_open else bill.outstanding_fen,
        late_fee_fen=bill.late_fee_fen(today),
        amount_due_fen=0 if is_open else bill.amount_due_fen(today),
        allow_partial=bill.allow_partial,
        min_part_fen=bill.min_part_fen,
        open_min_fen=bill.open_min_fen,
        open_max_fen=bill.open_max_fen,
        period=bill.period,
        description=bill.description,
    )


def bank_refusal(engine: ChannelHost, biller_code: str) -> str | None:
    """Why the bank cannot collect for this biller: the channel is not taken, or the biller
    has no merchant id at the bank."""
    configs = engine.channel_configs(biller_code)
    refusal = channel_refusal(biller_code, configs, CHANNEL)
    if refusal is None and not any(c.channel == CHANNEL and c.merchant_id for c in configs):
        refusal = f"{biller_code} has no {CHANNEL} merchant id; it is not set up with the bank"
    return refusal


def _known(engine: ChannelHost, identifier: str, biller_code: str | None) -> bool:
    with engine.uow() as uow:
        biller_id = None
        if biller_code is not None:
            biller = uow.billers.get_by_code(biller_code)
            biller_id = biller.id if biller else None
        if uow.payers.find(biller_id, identifier):
            return True
        fines = uow.bills.by_decision_no(identifier)
        return any(biller_id is None or b.biller_id == biller_id for b in fines)
