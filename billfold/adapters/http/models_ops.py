"""Request and response bodies of the operations API (pydantic): starting a payment through
a channel, reversals, mandates, reconciliation, settlement batches. Money crosses the wire
as yuan strings ("12.34"); inside it is integer fen."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field

from billfold.adapters.http.models import OrderOut, Reason, Text64, Yuan, _In
from billfold.channels.base import CollectStart
from billfold.collection.mandate import Debit, Mandate
from billfold.errors import InvariantViolated
from billfold.masking import mask_account, mask_name
from billfold.money import format_yuan
from billfold.settlement.batch import SettlementBatch
from billfold.settlement.discrepancy import Action, Discrepancy
from billfold.settlement.reconciler import RunResult
from billfold.settlement.run import ReconRun

__all__ = [
    "BatchOut",
    "DebitOut",
    "DiscrepancyOut",
    "DraftIn",
    "MandateIn",
    "MandateOut",
    "PayIn",
    "PayOut",
    "ResolveIn",
    "ReverseIn",
    "RevokeIn",
    "RunOut",
    "RunResultOut",
    "StepIn",
]

Who = Annotated[str, Field(min_length=1, max_length=64, description="The person, for the audit")]


def _yuan(fen: int | None) -> str | None:
    return None if fen is None else format_yuan(fen)


# -- paying an order through a channel, reversing a payment ------------------------------------


class PayIn(_In):
    channel: Text64
    payer_ref: Text64 | None = Field(
        default=None, description="openid, buyer id, terminal id … when the channel needs one"
    )


class PayOut(BaseModel):
    """What the payer or terminal needs: a QR payload, wallet parameters, a prompt …"""

    order_no: str
    channel: str
    action: str
    data: dict[str, Any]
    order: OrderOut

    @classmethod
    def of(cls, started: CollectStart, order: OrderOut) -> PayOut:
        data: dict[str, Any] = jsonable_encoder(dict(started.data))
        return cls(
            order_no=started.order_no,
            channel=started.channel,
            action=started.action,
            data=data,
            order=order,
        )


class ReverseIn(_In):
    reason: Reason
    operator: Who | None = None


# -- mandates ---------------------------------------------------------------------------------


class MandateIn(_In):
    payer_id: Text64 = Field(description="The payer's identifier with the biller (户号, 学号 …)")
    account_no: Annotated[str, Field(min_length=8, max_length=40)] = Field(
        description="Bank account or card number; only its masked form is stored"
    )
    per_debit_limit: Yuan
    monthly_limit: Yuan
    valid_from: date | None = None
    valid_until: date | None = None
    operator: Who | None = None


class RevokeIn(_In):
    reason: Reason
    operator: Who | None = None


class MandateOut(BaseModel):
    mandate_no: str
    biller_code: str
    payer_id: str
    account: str
    per_debit_limit: str
    monthly_limit: str
    valid_from: date
    valid_until: date | None
    status: str
    status_reason: str | None
    agreement_no: str | None

    @classmethod
    def of(cls, mandate: Mandate, biller_code: str, payer_id: str) -> MandateOut:
        return cls(
            mandate_no=mandate.mandate_no,
            biller_code=biller_code,
            payer_id=payer_id,
            account=mandate.account_masked,
            per_debit_limit=format_yuan(mandate.per_debit_limit_fen),
            monthly_limit=format_yuan(mandate.monthly_limit_fen),
            valid_from=mandate.valid_from,
            valid_until=mandate.valid_until,
            status=mandate.status.value,
            status_reason=mandate.status_reason,
            agreement_no=mandate.agreement_no,
        )


class DebitOut(BaseModel):
    debit_no: str
    status: str
    amount: str
    noticed_amount: str
    noticed_at: datetime
    due_at: datetime
    next_attempt_at: datetime
    attempts: int
    order_no: str | None
    reason: str | None
    debited_on: date | None

    @classmethod
    def of(cls, d: Debit) -> DebitOut:
        return cls(
            debit_no=d.debit_no,
            status=d.status.value,
            amount=format_yuan(d.amount_fen),
            noticed_amount=format_yuan(d.noticed_fen),
            noticed_at=d.noticed_at,
            due_at=d.due_at,
            next_attempt_at=d.next_attempt_at,
            attempts=d.attempts,
            order_no=d.order_no,
            reason=d.reason,
            debited_on=d.debited_on,
        )


# -- reconciliation ---------------------------------------------------------------------------


class RunOut(BaseModel):
    id: int
    kind: str
    slot: str
    channel: str
    merchant_id: str
    business_date: date
    revision: int
    status: str
    format: str
    file_name: str
    file_sha256: str
    check_fees: bool
    lines: int
    quarantined: int
    payments: int
    payment_amount: str
    refunds: int
    refund_amount: str
    fees: str
    net: str
    matched: int
    matched_amount: str
    engine: int
    engine_amount: str
    discrepancies: int
    created_by: str
    created_at: datetime
    superseded_by: int | None

    @classmethod
    def of(cls, r: ReconRun) -> RunOut:
        t = r.totals
        return cls(
            id=r.id,
            kind=r.kind.value,
            slot=r.slot,
            channel=r.channel,
            merchant_id=r.merchant_id,
            business_date=r.business_date,
            revision=r.revision,
            status=r.status.value,
            format=r.format,
            file_name=r.file_name,
            file_sha256=r.file_sha256,
            check_fees=r.check_fees,
            lines=t.line_count,
            quarantined=r.quarantined,
            payments=t.payment_count,
            payment_amount=format_yuan(t.payment_fen),
            refunds=t.refund_count,
            refund_amount=format_yuan(t.refund_fen),
            fees=format_yuan(t.fee_fen),
            net=format_yuan(t.net_fen),
            matched=r.matched_count,
            matched_amount=format_yuan(r.matched_fen),
            engine=r.engine_count,
            engine_amount=format_yuan(r.engine_fen),
            discrepancies=r.discrepancy_count,
            created_by=r.created_by,
            created_at=r.created_at,
            superseded_by=r.superseded_by,
        )


class DiscrepancyOut(BaseModel):
    id: int
    run_id: int | None
    code: str
    status: str
    source: str
    channel: str
    biller_code: str | None
    channel_txn_id: str | None
    order_no: str | None
    refund_no: str | None
    payment_id: int | None
    line_amount: str | None
    engine_amount: str | None
    difference: str
    line_fee: str | None
    engine_fee: str | None
    occurred_at: datetime | None
    counterparty: str | None = Field(description="Masked")
    message: str
    suggested_action: str | None
    action: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    resolution_ref: str | None

    @classmethod
    def of(cls, d: Discrepancy, billers: Mapping[int, str]) -> DiscrepancyOut:
        if d.id is None:
            raise InvariantViolated("d.id is missing")
        return cls(
            id=d.id,
            run_id=d.run_id,
            code=d.code.value,
            status=d.status.value,
            source=d.source,
            channel=d.channel,
            biller_code=billers.get(d.biller_id) if d.biller_id is not None else None,
            channel_txn_id=d.channel_txn_id,
            order_no=d.order_no,
            refund_no=d.refund_no,
            payment_id=d.payment_id,
            line_amount=_yuan(d.line_amount_fen),
            engine_amount=_yuan(d.engine_amount_fen),
            difference=format_yuan(d.difference_fen),
            line_fee=_yuan(d.line_fee_fen),
            engine_fee=_yuan(d.engine_fee_fen),
            occurred_at=d.occurred_at,
            counterparty=mask_name(d.counterparty) if d.counterparty else None,
            message=d.message,
            suggested_action=d.auto_action.value if d.auto_action else None,
            action=d.action.value if d.action else None,
            resolved_by=d.resolved_by,
            resolved_at=d.resolved_at,
            resolution=d.resolution,
            resolution_ref=d.resolution_ref,
        )


class RunResultOut(BaseModel):
    created: bool = Field(description="False: this very file had been reconciled already")
    run: RunOut
    replaced_run: int | None
    discrepancies: list[DiscrepancyOut]
    auto_resolved: list[int]

    @classmethod
    def of(cls, result: RunResult, billers: Mapping[int, str]) -> RunResultOut:
        return cls(
            created=result.created,
            run=RunOut.of(result.run),
            replaced_run=result.replaced.id if result.replaced else None,
            discrepancies=[DiscrepancyOut.of(d, billers) for d in result.discrepancies],
            auto_resolved=[d.id for d in result.auto_resolved if d.id is not None],
        )


class ResolveIn(_In):
    action: Action
    by: Who
    reason: Reason
    amount: Yuan | None = Field(default=None, description="Only for a partial refund")


# -- settlement -------------------------------------------------------------------------------


class DraftIn(_In):
    business_date: date
    by: Who


class StepIn(_In):
    by: Who
    reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class PartOut(BaseModel):
    account_name: str
    account: str = Field(description="Masked to its last four characters")
    bank_name: str
    amount: str


class BatchOut(BaseModel):
    batch_no: str
    biller_code: str
    business_date: date
    status: str
    payments: int
    gross: str
    refunds: int
    refund_amount: str
    fees: str
    net: str
    held_back: int
    held_back_amount: str
    settle_unreconciled: bool
    parts: list[PartOut]
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    paid_by: str | None
    paid_at: datetime | None
    confirmed_by: str | None
    confirmed_at: datetime | None

    @classmethod
    def of(cls, b: SettlementBatch) -> BatchOut:
        t = b.totals
        return cls(
            batch_no=b.batch_no,
            biller_code=b.biller_code,
            business_date=b.business_date,
            status=b.status.value,
            payments=t.payment_count,
            gross=format_yuan(t.gross_fen),
            refunds=t.refund_count,
            refund_amount=format_yuan(t.refund_fen),
            fees=format_yuan(t.fee_fen),
            net=format_yuan(b.net_fen),
            held_back=t.held_back_count,
            held_back_amount=format_yuan(t.held_back_fen),
            settle_unreconciled=b.settle_unreconciled,
            parts=[
                PartOut(
                    account_name=p.rule.account_name,
                    account=mask_account(p.rule.account_no),
                    bank_name=p.rule.bank_name,
                    amount=format_yuan(p.amount_fen),
                )
                for p in b.parts
            ],
            created_by=b.created_by,
            created_at=b.created_at,
            approved_by=b.approved_by,
            approved_at=b.approved_at,
            paid_by=b.paid_by,
            paid_at=b.paid_at,
            confirmed_by=b.confirmed_by,
            confirmed_at=b.confirmed_at,
        )
