"""Request and response bodies of the back office's queues: complaints and refunds paid back
by bank transfer. Payees are masked in every answer; codes stay codes (the pages and exports
show their Chinese labels)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from billfold.adapters.http.models import Reason, Text64, _In
from billfold.collection.refund_transfer import RefundTransfer
from billfold.settlement.complaint import Answer, Complaint, ComplaintKind, ComplaintStatus

__all__ = [
    "ApproveIn",
    "ComplaintIn",
    "ComplaintOut",
    "ConfirmTransferIn",
    "FallBackIn",
    "MoveIn",
    "PayeeIn",
    "TatIn",
    "TransferFileIn",
    "TransferFileOut",
    "TransferOut",
]

Who = Annotated[str, Field(min_length=1, max_length=64, description="The person, for the audit")]
Long = Annotated[str, Field(min_length=1, max_length=500)]


class ComplaintIn(_In):
    biller: Text64
    kind: ComplaintKind
    bill_no: Text64 | None = None
    order_no: Text64 | None = None
    payment_id: Annotated[int, Field(ge=1, le=2**62)] | None = None
    channel_ref: Annotated[str, Field(max_length=64)] = Field(
        default="", description="The reference on the payer's receipt (WeChat/Alipay/bank)"
    )
    description: Annotated[str, Field(max_length=500)] = ""
    opened_by: Who


class MoveIn(_In):
    by: Who
    to: Who | None = Field(default=None, description="assign: who takes the complaint")
    text: Long | None = Field(
        default=None, description="resolve: the resolution; reject and reopen: the reason"
    )


class TatIn(_In):
    hours: Annotated[int, Field(ge=1, le=2160)]
    by: Who
    reason: Reason


class ComplaintOut(BaseModel):
    complaint_no: str
    biller: str
    kind: ComplaintKind
    status: ComplaintStatus
    source: str
    bill_no: str | None
    order_no: str | None
    payment_id: int | None
    channel_ref: str
    description: str
    opened_by: str
    assigned_to: str | None
    answer: Answer | None
    resolution: str | None
    refund_no: str | None
    due_at: datetime
    overdue: bool
    created_at: datetime
    closed_at: datetime | None
    reopened: int

    @classmethod
    def of(cls, c: Complaint, now: datetime) -> ComplaintOut:
        return cls(
            complaint_no=c.complaint_no,
            biller=c.biller_code,
            kind=c.kind,
            status=c.status,
            source=c.source.value,
            bill_no=c.bill_no,
            order_no=c.order_no,
            payment_id=c.payment_id,
            channel_ref=c.channel_ref,
            description=c.description,
            opened_by=c.opened_by,
            assigned_to=c.assigned_to,
            answer=c.answer,
            resolution=c.resolution,
            refund_no=c.refund_no,
            due_at=c.due_at,
            overdue=c.overdue(now),
            created_at=c.created_at,
            closed_at=c.closed_at,
            reopened=c.reopened,
        )


# -- refunds by bank transfer -------------------------------------------------------------------


class FallBackIn(_In):
    reason: Reason
    by: Who


class PayeeIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    account: Annotated[str, Field(min_length=1, max_length=40)]
    bank: Annotated[str, Field(min_length=1, max_length=60)]
    by: Who
    reason: Reason = "payee recorded"


class ApproveIn(_In):
    by: Who
    reason: Reason = "approved"


class TransferFileIn(_In):
    by: Who
    refund_nos: list[Text64] | None = Field(default=None, max_length=1000)
    encoding: Literal["utf-8-sig", "gbk"] = "utf-8-sig"


class ConfirmTransferIn(_In):
    by: Who
    reason: Reason
    statement_ref: Text64 | None = None


class TransferOut(BaseModel):
    """A bank-transfer refund; the payee's name and account are masked."""

    refund_no: str
    payment_id: int
    amount: str
    amount_fen: int
    stage: str
    refund_status: str
    reason: str
    channel_message: str
    payee: dict[str, str] | None
    recorded_by: str | None
    approved_by: str | None
    file_no: str | None
    confirmed_by: str | None
    confirm_reason: str | None
    statement_ref: str | None

    @classmethod
    def of(cls, transfer: RefundTransfer) -> TransferOut:
        masked: dict[str, Any] = transfer.masked()
        return cls(**masked)


class TransferFileOut(BaseModel):
    file_no: str
    count: int
    total: str
    refund_nos: list[str]
    download: str = Field(description="GET this path for the CSV the bank takes")
