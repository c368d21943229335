"""Request and response bodies of the HTTP API (pydantic). Money crosses the wire as yuan
strings with at most two decimals ("12.34", ASCII digits, at most ``MAX_YUAN``); inside it is
integer fen. No string in a request body may hold a control character (NUL, newline, …):
identifiers, names and reasons are one line of text."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from billfold.collection.bill import Bill, BillKind
from billfold.collection.order import Order
from billfold.collection.payer import IdentifierKind
from billfold.collection.payment import PaymentRecord
from billfold.collection.refund import RefundRecord
from billfold.errors import InvalidAmount
from billfold.merchants.biller import Biller
from billfold.money import format_yuan, parse_yuan
from billfold.text import first_control_character

__all__ = [
    "BillIn",
    "BillOut",
    "BillerOut",
    "CancelIn",
    "CashOutIn",
    "ImportOut",
    "LookupHit",
    "OrderIn",
    "OrderOut",
    "PaymentOut",
    "RefundIn",
    "RefundOut",
    "WaiveIn",
]


def _fen(value: Any) -> int:
    if not isinstance(value, str):
        raise ValueError('must be a string like "12.34" (yuan, at most two decimals)')
    try:
        return parse_yuan(value)
    except InvalidAmount as exc:
        raise ValueError(exc.message.split(": ", 1)[-1]) from None


Yuan = Annotated[
    int,
    BeforeValidator(_fen),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,14}(\.[0-9]{1,2})?$",
            "description": "Yuan, at most 10000000000000.00",
            "examples": ["12.34"],
        }
    ),
]
Text64 = Annotated[str, Field(min_length=1, max_length=64)]
Reason = Annotated[str, Field(min_length=1, max_length=200)]


def _no_control_characters(value: Any, where: str) -> None:
    if isinstance(value, str):
        found = first_control_character(value)
        if found is not None:
            raise ValueError(f"{where}: contains a control character ({found}); not allowed")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_control_characters(key, where)
            _no_control_characters(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _no_control_characters(item, f"{where}[{n}]")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_control_characters(cls, data: Any) -> Any:
        """NUL and other control characters never reach the database (PostgreSQL refuses
        NUL in text; SQLite would store it): refused here, naming the field."""
        _no_control_characters(data, "")
        return data


class PayerIn(_In):
    kind: IdentifierKind
    identifier: Text64
    name: Annotated[str, Field(max_length=100)] | None = None
    phone: Annotated[str, Field(max_length=20)] | None = None


class ItemIn(_In):
    code: Text64
    name: Annotated[str, Field(min_length=1, max_length=100)]
    amount: Yuan
    priority: Annotated[int, Field(ge=1, le=1000)] = 100


class BillIn(_In):
    bill_no: Text64
    payer: PayerIn
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=50)]
    kind: BillKind = BillKind.FIXED
    due_date: date | None = None
    allow_partial: bool = False
    min_part: Yuan | None = None
    open_min: Yuan | None = None
    open_max: Yuan | None = None
    decision_no: Text64 | None = None
    period: Annotated[str, Field(max_length=32)] | None = None
    description: Annotated[str, Field(max_length=200)] | None = None


class CancelIn(_In):
    reason: Reason
    operator: Text64 | None = None


class WaiveIn(_In):
    amount: Yuan
    reason: Reason
    item_code: Text64 | None = None
    operator: Text64 | None = None


class OrderIn(_In):
    bill_nos: Annotated[list[Text64], Field(min_length=1, max_length=50)]
    amount: Yuan | None = Field(
        default=None, description="Only for an open-amount bill or a part payment it allows"
    )


class RefundIn(_In):
    amount: Yuan
    reason: Reason


class CashOutIn(_In):
    by: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="The cashier who handed the refund out in cash, for the audit"
    )


# -- answers ---------------------------------------------------------------------------------


class BillerOut(BaseModel):
    code: str
    name: str
    kind: str
    status: str
    timezone: str

    @classmethod
    def of(cls, biller: Biller) -> BillerOut:
        return cls(
            code=biller.code,
            name=biller.name,
            kind=biller.kind.value,
            status=biller.status.value,
            timezone=biller.timezone,
        )


class ItemOut(BaseModel):
    code: str
    name: str
    amount: str
    paid: str
    waived: str
    outstanding: str


class BillOut(BaseModel):
    bill_no: str
    kind: str
    status: str
    currency: str
    principal: str
    paid: str
    waived: str
    outstanding: str
    late_fee: str
    amount_due: str
    due_date: date | None
    period: str | None
    description: str | None
    decision_no: str | None
    items: list[ItemOut]

    @classmethod
    def of(cls, bill: Bill, today: date) -> BillOut:
        return cls(
            bill_no=bill.bill_no,
            kind=bill.kind.value,
            status=bill.status(today).value,
            currency=bill.currency,
            principal=format_yuan(bill.principal_fen),
            paid=format_yuan(bill.paid_fen + bill.late_fee_paid_fen),
            waived=format_yuan(bill.waived_fen),
            outstanding=format_yuan(bill.outstanding_fen),
            late_fee=format_yuan(bill.late_fee_fen(today)),
            amount_due=format_yuan(bill.amount_due_fen(today)),
            due_date=bill.due_date,
            period=bill.period,
            description=bill.description,
            decision_no=bill.decision_no,
            items=[
                ItemOut(
                    code=i.code,
                    name=i.name,
                    amount=format_yuan(i.amount_fen),
                    paid=format_yuan(i.paid_fen),
                    waived=format_yuan(i.waived_fen),
                    outstanding=format_yuan(i.outstanding_fen),
                )
                for i in bill.items
            ],
        )


class ImportOut(BaseModel):
    file: str
    created: int
    unchanged: int
    rejected: int
    errors: list[str]
    warnings: list[str] = Field(default_factory=list, description="columns ignored, delimiter")
    changes: list[str] = Field(default_factory=list, description="payers stored with other names")


class PayerOut(BaseModel):
    kind: str
    identifier: str
    name: str | None


class LookupHit(BaseModel):
    biller_code: str
    biller_name: str
    payer: PayerOut
    bill: BillOut


class OrderLineOut(BaseModel):
    bill_no: str
    item_code: str
    amount: str


class OrderOut(BaseModel):
    order_no: str
    biller_code: str
    status: str
    total: str
    refunded: str
    currency: str
    channel: str | None
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    payment_id: int | None
    lines: list[OrderLineOut]

    @classmethod
    def of(cls, order: Order, biller_code: str) -> OrderOut:
        return cls(
            order_no=order.order_no,
            biller_code=biller_code,
            status=order.status.value,
            total=format_yuan(order.total_fen),
            refunded=format_yuan(order.refunded_fen),
            currency=order.currency,
            channel=order.channel,
            created_at=order.created_at,
            expires_at=order.expires_at,
            paid_at=order.paid_at,
            payment_id=order.payment_id,
            lines=[
                OrderLineOut(
                    bill_no=ln.bill_no, item_code=ln.item_code, amount=format_yuan(ln.amount_fen)
                )
                for ln in order.lines
            ],
        )


class PaymentOut(BaseModel):
    id: int
    channel: str
    channel_txn_id: str
    order_no: str
    status: str
    reason: str | None
    amount: str
    fee: str
    refunded: str
    currency: str
    paid_at: datetime
    received_at: datetime

    @classmethod
    def of(cls, p: PaymentRecord) -> PaymentOut:
        return cls(
            id=p.id,
            channel=p.channel,
            channel_txn_id=p.channel_txn_id,
            order_no=p.order_no,
            status=p.status.value,
            reason=p.reason,
            amount=format_yuan(p.amount_fen),
            fee=format_yuan(p.fee_fen),
            refunded=format_yuan(p.refunded_fen),
            currency=p.currency,
            paid_at=p.paid_at,
            received_at=p.received_at,
        )


class RefundOut(BaseModel):
    refund_no: str
    payment_id: int
    status: str
    kind: str
    amount: str
    fee_returned: str
    reason: str
    requested_by: str
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, r: RefundRecord) -> RefundOut:
        return cls(
            refund_no=r.refund_no,
            payment_id=r.payment_id,
            status=r.status.value,
            kind=r.kind.value,
            amount=format_yuan(r.amount_fen),
            fee_returned=format_yuan(r.fee_fen),
            reason=r.reason,
            requested_by=r.requested_by,
            created_at=r.created_at,
            completed_at=r.completed_at,
        )


class ChangeItemIn(_In):
    code: Annotated[str, Field(min_length=1, max_length=32)]
    amount: Yuan
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class ChangeIn(_In):
    """What to change on a bill not yet paid; at least one of amount, items, due_date."""

    reason: Reason
    operator: Text64 | None = None
    amount: Yuan | None = Field(None, description="A one-item bill's new amount")
    items: list[ChangeItemIn] = Field(
        default_factory=list, max_length=50, description="New amounts by item; a new code adds it"
    )
    due_date: date | None = None
    clear_due_date: bool = False


class PageOut(BaseModel):
    """One page of a list: its rows (codes, amounts in fen) and the next page's cursor."""

    items: list[dict[str, Any]]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page"
    )
