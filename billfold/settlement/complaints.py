"""The complaints desk: open, answer by itself, assign, resolve, reject, reopen, list.

``ComplaintDesk(engine, requery=collector.requery)`` works on any ``Runtime`` whose unit of
work has the complaints' repository (an :class:`~billfold.engine.Engine` is one). Opening a
complaint asks the engine to answer the common cases itself (:meth:`ComplaintDesk.answer`):

* *paid but not credited*: each order that carried the bill is requeried at its channel (the
  T+0 requery); money the channel has is credited through the one exactly-once confirmation,
  and the complaint resolves itself;
* *charged twice*: the second payment (money no bill could take, kept in suspense) is found
  with the refund queued for it; one held for review is named for a person to refund.

Everything else waits for a person. Every action is audited and told through the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from billfold.collection.confirming import ConfirmResult
from billfold.collection.numbers import new_number
from billfold.collection.payment import PaymentRecord, PaymentStatus
from billfold.collection.ports import Runtime
from billfold.errors import BillfoldError, InvalidInput, InvalidTransition, NotFound
from billfold.settlement.complaint import (
    Answer,
    Complaint,
    ComplaintKind,
    ComplaintSource,
    ComplaintStatus,
    check_move,
    tat_hours,
)
from billfold.settlement.ports import ComplaintsUnitOfWork

__all__ = ["ComplaintDesk", "NewComplaint", "Requery"]

log = structlog.get_logger("billfold.complaints")

#: Ask an order's channel what became of it and settle it through the exactly-once
#: confirmation (:meth:`billfold.channels.collect.Collector.requery`).
Requery = Callable[[str], ConfirmResult | None]

_RESOLVES = {
    Answer.CREDITED_ON_REQUERY: "渠道查询确认已支付，款项已入账",
    Answer.ALREADY_CREDITED: "款项此前已入账，账单已缴清",
    Answer.DUPLICATE_REFUND_QUEUED: "重复支付的款项已安排原路退回",
}


@dataclass(frozen=True, slots=True)
class NewComplaint:
    """A complaint against a bill (``bill_no``), an order or a payment of ``biller_code``."""

    biller_code: str
    kind: ComplaintKind
    opened_by: str
    source: ComplaintSource = ComplaintSource.CLERK
    bill_no: str | None = None
    order_no: str | None = None
    payment_id: int | None = None
    channel_ref: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not (self.bill_no or self.order_no or self.payment_id):
            raise InvalidInput("complaint: name the bill, order or payment it is about")
        if not self.opened_by.strip():
            raise InvalidInput("opened_by: say who opens the complaint")
        ref = self.channel_ref.strip()
        if len(ref) > 64 or not all(ch.isalnum() or ch in "-_" for ch in ref):
            raise InvalidInput("channel_ref: up to 64 letters, digits, - or _ (the receipt's no.)")
        if len(self.description) > 500:
            raise InvalidInput("description: at most 500 characters")
        if self.source is ComplaintSource.PAYER and not (self.bill_no and ref):
            raise InvalidInput(
                "a payer's complaint needs the bill number and the payment reference"
            )


def _who(by: str, what: str) -> str:
    if not by.strip():
        raise InvalidInput(f"by: say who {what}")
    return by.strip()[:100]


class ComplaintDesk:
    def __init__(
        self, runtime: Runtime[ComplaintsUnitOfWork], requery: Requery | None = None
    ) -> None:
        self.runtime = runtime
        self.requery = requery

    # -- reading ------------------------------------------------------------------------------
    def get(self, complaint_no: str) -> Complaint:
        with self.runtime.uow() as uow:
            return _load(uow, complaint_no)

    def complaints(
        self,
        *,
        biller_ids: Sequence[int] | None = None,
        status: ComplaintStatus | None = None,
        overdue: bool = False,
        limit: int = 500,
    ) -> list[Complaint]:
        now = self.runtime.clock.now()
        with self.runtime.uow() as uow:
            return uow.complaints.listing(
                biller_ids=biller_ids,
                statuses=[status] if status else None,
                overdue_at=now if overdue else None,
                limit=limit,
            )

    def for_payer(self, biller_code: str, bill_no: str, complaint_no: str) -> Complaint:
        """A payer follows their complaint: the bill number must match (nothing else shows)."""
        with self.runtime.uow() as uow:
            found = uow.complaints.get(complaint_no)
        if found is None or found.biller_code != biller_code or found.bill_no != bill_no:
            raise NotFound(f"no complaint {complaint_no!r} for bill {bill_no!r}")
        return found

    def tats(self, biller_code: str) -> dict[ComplaintKind, int]:
        with self.runtime.uow() as uow:
            biller = _biller(uow, biller_code)
            return {k: tat_hours(k, uow.complaints.tat_override(biller, k)) for k in ComplaintKind}

    # -- acting -------------------------------------------------------------------------------
    def set_tat(
        self, biller_code: str, kind: ComplaintKind, hours: int, *, by: str, reason: str
    ) -> dict[ComplaintKind, int]:
        who = _who(by, "sets the turnaround time")
        if not 1 <= hours <= 24 * 90:
            raise InvalidInput(f"hours: {hours} is not between 1 and 2160 (90 days)")
        now = self.runtime.clock.now()
        with self.runtime.uow() as uow:
            biller = _biller(uow, biller_code)
            before = tat_hours(kind, uow.complaints.tat_override(biller, kind))
            uow.complaints.set_tat(biller, kind, hours, now)
            uow.audit.append(
                actor=who,
                action="complaint_tat",
                target_type="biller",
                target_id=biller_code,
                reason=reason or "turnaround time set",
                before={kind.value: before},
                after={kind.value: hours},
                now=now,
            )
            uow.commit()
        return self.tats(biller_code)

    def open(self, req: NewComplaint, *, answer: bool = True) -> Complaint:
        """Open a complaint (and, with ``answer``, let the engine answer it if it can)."""
        now = self.runtime.clock.now()
        with self.runtime.uow() as uow:
            values = _targets(uow, req)
            hours = tat_hours(req.kind, uow.complaints.tat_override(values["biller_id"], req.kind))
            number = new_number("CP", now)
            uow.complaints.insert(
                {
                    **values,
                    "complaint_no": number,
                    "kind": req.kind.value,
                    "status": ComplaintStatus.OPEN.value,
                    "source": req.source.value,
                    "channel_ref": req.channel_ref.strip(),
                    "description": req.description.strip(),
                    "opened_by": req.opened_by.strip()[:100],
                    "due_at": now + timedelta(hours=hours),
                    "created_at": now,
                    "updated_at": now,
                    "reopened": 0,
                }
            )
            opened = _load(uow, number)
            _record(uow, opened, req.opened_by, "open", req.description or req.kind.value, now)
            uow.commit()
        log.info("complaint opened", complaint_no=number, kind=req.kind.value)
        return self.answer(number) if answer else opened

    def assign(self, complaint_no: str, *, to: str, by: str, reason: str = "") -> Complaint:
        who, person = _who(by, "assigns"), _who(to, "takes the complaint (to)")
        return self._move(
            complaint_no, ComplaintStatus.ASSIGNED, who, reason or person, assigned_to=person
        )

    def resolve(self, complaint_no: str, *, by: str, resolution: str) -> Complaint:
        if not resolution.strip():
            raise InvalidInput("resolution: say how the complaint was resolved")
        return self._close(complaint_no, ComplaintStatus.RESOLVED, _who(by, "resolves"), resolution)

    def reject(self, complaint_no: str, *, by: str, reason: str) -> Complaint:
        if not reason.strip():
            raise InvalidInput("reason: say why the complaint is rejected")
        return self._close(complaint_no, ComplaintStatus.REJECTED, _who(by, "rejects"), reason)

    def reopen(self, complaint_no: str, *, by: str, reason: str) -> Complaint:
        """Reopen a resolved or rejected complaint: its turnaround time starts again."""
        if not reason.strip():
            raise InvalidInput("reason: say why the complaint is reopened")
        now = self.runtime.clock.now()
        with self.runtime.uow() as uow:
            found = _load(uow, complaint_no)
            hours = tat_hours(found.kind, uow.complaints.tat_override(found.biller_id, found.kind))
        return self._move(
            complaint_no,
            ComplaintStatus.REOPENED,
            _who(by, "reopens"),
            reason,
            due_at=now + timedelta(hours=hours),
            closed_at=None,
            reopened=found.reopened + 1,
        )

    def _close(self, complaint_no: str, status: ComplaintStatus, who: str, text: str) -> Complaint:
        now = self.runtime.clock.now()
        return self._move(
            complaint_no, status, who, text, resolution=text.strip()[:500], closed_at=now
        )

    def _move(
        self, complaint_no: str, new: ComplaintStatus, who: str, reason: str, **values: Any
    ) -> Complaint:
        now = self.runtime.clock.now()
        with self.runtime.uow() as uow:
            before = _load(uow, complaint_no, lock=True)
            check_move(complaint_no, before.status, new)
            if not uow.complaints.transition(
                before.id, before.status, new, updated_at=now, **values
            ):
                raise InvalidTransition(f"complaint {complaint_no} changed meanwhile; look it up")
            after = _load(uow, complaint_no)
            _record(uow, after, who, new.value, reason, now, before=before)
            uow.commit()
        return after

    # -- the engine's own answer --------------------------------------------------------------
    def answer(self, complaint_no: str) -> Complaint:
        """Look into an open complaint: requery, find the duplicate; resolve what is settled."""
        found = self.get(complaint_no)
        if found.status not in (
            ComplaintStatus.OPEN,
            ComplaintStatus.ASSIGNED,
            ComplaintStatus.REOPENED,
        ):
            return found
        if found.kind is ComplaintKind.PAID_NOT_CREDITED:
            outcome, payment, refund_no = self._unpaid(found)
        elif found.kind is ComplaintKind.CHARGED_TWICE:
            outcome, payment, refund_no = self._twice(found)
        else:
            return found
        return self._answered(found, outcome, payment, refund_no)

    def _orders(self, complaint: Complaint) -> list[str]:
        if complaint.order_no:
            return [complaint.order_no]
        with self.runtime.uow() as uow:
            if complaint.bill_id is not None:
                return uow.complaints.orders_for_bill(complaint.bill_id)
            payment = uow.payments.get(complaint.payment_id) if complaint.payment_id else None
        return [payment.order_no] if payment and payment.order_no else []

    def _payments(self, order_nos: Sequence[str]) -> list[PaymentRecord]:
        found: list[PaymentRecord] = []
        with self.runtime.uow() as uow:
            for order_no in order_nos:
                order = uow.orders.get_by_no(order_no)
                if order is not None and order.id is not None:
                    found.extend(uow.payments.for_order(order.id))
        return found

    def _unpaid(self, complaint: Complaint) -> tuple[Answer, int | None, str | None]:
        orders = self._orders(complaint)
        credited = [p for p in self._payments(orders) if p.status is PaymentStatus.CREDITED]
        if credited:
            return Answer.ALREADY_CREDITED, credited[0].id, None
        for order_no in orders if self.requery else ():
            try:
                result = self.requery(order_no) if self.requery else None
            except BillfoldError as exc:  # no channel, channel down: a person takes over
                log.info("complaint requery failed", order_no=order_no, error=exc.message)
                continue
            if result is not None and result.credited:
                return Answer.CREDITED_ON_REQUERY, result.payment.id, None
            if result is not None:
                return Answer.HELD_FOR_REVIEW, result.payment.id, None
        return Answer.NOT_PAID_AT_CHANNEL, None, None

    def _twice(self, complaint: Complaint) -> tuple[Answer, int | None, str | None]:
        spare = [
            p
            for p in self._payments(self._orders(complaint))
            if p.status in (PaymentStatus.SUSPENSE, PaymentStatus.HELD)
        ]
        with self.runtime.uow() as uow:
            for payment in spare:
                refunds = uow.refunds.for_payment(payment.id)
                if refunds:
                    return Answer.DUPLICATE_REFUND_QUEUED, payment.id, refunds[-1].refund_no
        if spare:
            return Answer.DUPLICATE_NEEDS_REFUND, spare[0].id, None
        return Answer.NO_DUPLICATE_FOUND, None, None

    def _answered(
        self, found: Complaint, outcome: Answer, payment_id: int | None, refund_no: str | None
    ) -> Complaint:
        now = self.runtime.clock.now()
        text = _RESOLVES.get(outcome)
        with self.runtime.uow() as uow:
            before = _load(uow, found.complaint_no, lock=True)
            note: dict[str, Any] = {"answer": outcome.value, "updated_at": now}
            if payment_id is not None and before.payment_id is None:
                note["payment_id"] = payment_id
            if refund_no:
                note["refund_no"] = refund_no
            if text is not None and uow.complaints.transition(
                before.id,
                before.status,
                ComplaintStatus.RESOLVED,
                resolution=text,
                closed_at=now,
                **note,
            ):
                action = "resolved"
            else:
                uow.complaints.note(before.id, **note)
                action = "answered"
            after = _load(uow, found.complaint_no)
            _record(uow, after, "billfold", action, outcome.value, now, before=before)
            uow.commit()
        log.info("complaint answered", complaint_no=found.complaint_no, answer=outcome.value)
        return after


def _biller(uow: ComplaintsUnitOfWork, code: str) -> int:
    biller = uow.billers.get_by_code(code)
    if biller is None or biller.id is None:
        raise NotFound(f"biller {code!r} does not exist")
    return biller.id


def _targets(uow: ComplaintsUnitOfWork, req: NewComplaint) -> dict[str, Any]:
    """The complaint's biller, bill, order and payment ids; each must be the biller's."""
    biller_id = _biller(uow, req.biller_code)
    values: dict[str, Any] = {"biller_id": biller_id, "bill_id": None, "order_id": None}
    values["payment_id"] = None
    if req.bill_no:
        bill = uow.bills.get_by_no(biller_id, req.bill_no)
        if bill is None:
            raise NotFound(f"bill {req.bill_no!r} does not exist for biller {req.biller_code}")
        values["bill_id"] = bill.id
    if req.order_no:
        order = uow.orders.get_by_no(req.order_no)
        if order is None or order.biller_id != biller_id:
            raise NotFound(f"order {req.order_no!r} does not exist for biller {req.biller_code}")
        values["order_id"] = order.id
    if req.payment_id:
        payment = uow.payments.get(req.payment_id)
        if payment is None or payment.biller_id != biller_id:
            raise NotFound(f"payment {req.payment_id} does not exist for biller {req.biller_code}")
        values["payment_id"] = payment.id
    return values


def _load(uow: ComplaintsUnitOfWork, complaint_no: str, *, lock: bool = False) -> Complaint:
    found = uow.complaints.get(complaint_no, lock=lock)
    if found is None:
        raise NotFound(f"complaint {complaint_no!r} does not exist")
    return found


def complaint_payload(c: Complaint) -> dict[str, Any]:
    return {
        "complaint_no": c.complaint_no,
        "biller": c.biller_code,
        "kind": c.kind.value,
        "status": c.status.value,
        "bill_no": c.bill_no,
        "order_no": c.order_no,
        "payment_id": c.payment_id,
        "answer": c.answer.value if c.answer else None,
        "refund_no": c.refund_no,
        "due_at": c.due_at.isoformat(),
    }


def _record(
    uow: ComplaintsUnitOfWork,
    after: Complaint,
    who: str,
    action: str,
    reason: str,
    now: datetime,
    *,
    before: Complaint | None = None,
) -> None:
    uow.audit.append(
        actor=who.strip()[:100],
        action=f"complaint_{action}",
        target_type="complaint",
        target_id=after.complaint_no,
        reason=reason[:200],
        before={"status": before.status.value} if before else None,
        after={
            "status": after.status.value,
            "answer": after.answer.value if after.answer else None,
        },
        now=now,
    )
    uow.outbox.add(f"complaint.{action}", after.biller_id, complaint_payload(after), now)
