"""Resolving discrepancies: close one with an action, recording who, when and why.

Money moves only through the collection core's own use cases (confirm, refund, reverse,
complete a refund) or, for a write-off, one balanced journal entry — and in the same
transaction as the discrepancy is closed and audited: the use case runs on a savepoint of
the resolution's unit of work (:meth:`SettlementUnitOfWork.savepoint`), so the money moves
and the discrepancy closes together, or neither happens.

Before an engine-only payment may be reversed, its channel is asked (:func:`ask_channel`,
the T+0 requery); its answer is kept in the audit log, and :mod:`~billfold.settlement.advice`
decides from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from billfold.channels.base import StatusAnswer
from billfold.clock import Clock
from billfold.collection.confirming import confirm_payment
from billfold.collection.journal import clearing
from billfold.collection.payment import Confirmation
from billfold.collection.ports import Runtime
from billfold.collection.refunding import RefundRequest, complete_refund, refund_payment
from billfold.collection.reversing import ReversalRequest, reverse_payment
from billfold.errors import BillfoldError, Conflict, InvalidInput, InvariantViolated, NotFound
from billfold.money import format_yuan
from billfold.settlement.advice import ChannelWord, reversal_refusal, word_of
from billfold.settlement.discrepancy import (
    BANK,
    Action,
    Code,
    Discrepancy,
    DiscrepancyStatus,
    check_action,
    write_off_entry,
)
from billfold.settlement.ports import SettlementUnitOfWork
from billfold.settlement.run_record import AUTO, audit_resolution

__all__ = ["ChannelAnswer", "Requery", "ask_channel", "auto_resolve", "channel_word", "resolve"]

log = structlog.get_logger("billfold.settlement")

_AUTO_REASONS = {
    # the resolution people read in the discrepancy list and the console: Chinese
    Action.CREDIT: "系统自动处理：渠道对账单有此笔成功交易，系统未收到通知，已补入账",
    Action.COMPLETE_REFUND: "系统自动处理：渠道对账单显示退款已退出，已确认退款",
}
_ASKED = "recon_ask_channel"


class Requery(Protocol):
    """The one verb of a channel that reconciliation uses: what became of an order?"""

    def query(self, order_no: str) -> StatusAnswer: ...


@dataclass(frozen=True, slots=True)
class ChannelAnswer:
    discrepancy_id: int
    state: str  # the channel's RemoteState
    word: ChannelWord
    channel_txn_id: str | None = None
    amount_fen: int | None = None


@dataclass(frozen=True, slots=True)
class _Moved:
    note: str
    ref: str | None = None
    payment_id: int | None = None


def resolve(
    runtime: Runtime[SettlementUnitOfWork],
    discrepancy_id: int,
    action: Action,
    *,
    by: str,
    reason: str,
    amount_fen: int | None = None,
    request_id: str | None = None,
) -> Discrepancy:
    """Close an open discrepancy with ``action`` (see the module docs). With ``request_id``,
    the same request again answers the discrepancy it resolved, moving nothing."""
    if request_id is not None and not (request_id.strip() and len(request_id) <= 64):
        raise InvalidInput("request_id: 1-64 characters")
    now = runtime.clock.now()
    with runtime.uow() as uow:
        d = uow.recon.discrepancy(discrepancy_id, lock=True)
        if d is None:
            raise NotFound(f"discrepancy {discrepancy_id} does not exist")
        if request_id is not None and d.resolution_request_id == request_id:
            return _same_request(d, action, request_id)
        check_action(d, action, by, reason)
        if action is Action.REVERSE:
            refusal = reversal_refusal(d, channel_word(uow, d))
            if refusal is not None:
                raise InvalidInput(refusal)
        moved = _move_money(uow, runtime.clock, d, action, by, reason, amount_fen, now)
        if not uow.recon.resolve(
            discrepancy_id,
            action=action,
            by=by,
            at=now,
            reason=moved.note,
            ref=moved.ref,
            payment_id=moved.payment_id,
            request_id=request_id,
        ):
            uow.rollback()  # closed by someone else meanwhile: nothing of ours stays
            again = uow.recon.discrepancy(discrepancy_id)
            if again is None:
                raise InvariantViolated("again is missing")
            return again
        audit_resolution(uow, d, action, by, moved.note, moved.ref, now)
        closed = uow.recon.discrepancy(discrepancy_id)
        uow.commit()
    if closed is None:
        raise InvariantViolated("closed is missing")
    return closed


def _same_request(d: Discrepancy, action: Action, request_id: str) -> Discrepancy:
    """A repeat of the request that resolved ``d``: its answer, if it asks the same."""
    if d.action is not action:
        done = d.action.value if d.action else "nothing"
        raise Conflict(
            f"request_id: {request_id} resolved discrepancy {d.id} by {done}, not {action.value}"
        )
    return d


def _move_money(
    uow: SettlementUnitOfWork,
    clock: Clock,
    d: Discrepancy,
    action: Action,
    by: str,
    reason: str,
    amount_fen: int | None,
    now: datetime,
) -> _Moved:
    """Move the money ``action`` means, inside ``uow``'s transaction."""
    if action is Action.CREDIT:
        return _credit(uow, clock, d, reason)
    if action is Action.REFUND:
        return _refund(uow, clock, d, by, reason, amount_fen)
    if action is Action.REVERSE:
        return _reverse(uow, clock, d, by, reason)
    if action is Action.COMPLETE_REFUND:
        return _complete_refund(uow, clock, d, reason)
    if action is Action.WRITE_OFF:
        account = BANK if d.code is Code.UNEXPLAINED_CREDIT else clearing(d.channel)
        uow.journal.post([write_off_entry(d, account)], now)
        return _Moved(reason, f"write-off {format_yuan(d.difference_fen)} to {account}")
    return _Moved(reason)


def _credit(uow: SettlementUnitOfWork, clock: Clock, d: Discrepancy, reason: str) -> _Moved:
    if not d.order_no or not d.channel_txn_id or not d.line_amount_fen:
        raise InvalidInput(
            f"action: discrepancy {d.id} names no order and amount to credit; "
            "the statement line lacks them"
        )
    conf = Confirmation(
        d.channel,
        d.channel_txn_id,
        d.order_no,
        d.line_amount_fen,
        d.occurred_at or clock.now(),
        d.currency,
    )
    result = confirm_payment(uow.savepoint(), clock, conf)
    payment = result.payment
    if result.credited:
        outcome = f"credited order {d.order_no} (payment {payment.id})"
    elif payment.status.value == "suspense":
        outcome = (
            f"order {d.order_no} cannot take it ({payment.reason}): kept in suspense "
            f"as payment {payment.id}, its refund queued"
        )
    else:
        outcome = f"payment {payment.id} is {payment.status.value} ({payment.reason})"
    log.info("payment confirmed by reconciliation", discrepancy=d.id, payment=payment.id)
    return _Moved(f"{reason}; {outcome}", f"payment {payment.id}", payment.id)


def _refund(
    uow: SettlementUnitOfWork,
    clock: Clock,
    d: Discrepancy,
    by: str,
    reason: str,
    amount_fen: int | None,
) -> _Moved:
    if d.payment_id is None:
        raise InvalidInput(
            f"action: discrepancy {d.id} has no engine payment to refund; credit it first"
        )
    payment = uow.payments.get(d.payment_id)
    if payment is None:
        raise NotFound(f"payment {d.payment_id} does not exist")
    amount = payment.refundable_fen if amount_fen is None else amount_fen
    refund = refund_payment(
        uow.savepoint(),
        clock,
        RefundRequest(
            payment_id=payment.id,
            amount_fen=amount,
            request_id=f"recon-{d.id}",
            reason=reason,
            requested_by=by,
        ),
    )
    note = f"{reason}; refund {refund.refund_no} of {format_yuan(amount)}"
    return _Moved(note, refund.refund_no)


def _reverse(
    uow: SettlementUnitOfWork, clock: Clock, d: Discrepancy, by: str, reason: str
) -> _Moved:
    if not d.channel_txn_id:
        raise InvalidInput(f"action: discrepancy {d.id} names no transaction to reverse")
    record = reverse_payment(
        uow.savepoint(),
        clock,
        ReversalRequest(
            channel=d.channel,
            channel_txn_id=d.channel_txn_id,
            reason=reason,
            requested_by=by,
            order_no=d.order_no or "",
        ),
    )
    return _Moved(f"{reason}; payment {record.id} reversed", f"payment {record.id}")


def _complete_refund(
    uow: SettlementUnitOfWork, clock: Clock, d: Discrepancy, reason: str
) -> _Moved:
    if not d.refund_no:
        raise InvalidInput(f"action: discrepancy {d.id} names no refund to complete")
    refund = complete_refund(
        uow.savepoint(), clock, d.refund_no, succeeded=True, channel_refund_id=d.channel_txn_id
    )
    return _Moved(f"{reason}; refund {refund.refund_no} {refund.status.value}", refund.refund_no)


def auto_resolve(runtime: Runtime[SettlementUnitOfWork], run_id: int) -> list[Discrepancy]:
    """Resolve what billfold may resolve alone (late credits, refunds paid out)."""
    with runtime.uow() as uow:
        pending = uow.recon.discrepancies(
            run_id=run_id, status=DiscrepancyStatus.OPEN, auto_only=True
        )
    done: list[Discrepancy] = []
    for d in pending:
        if not (d.auto_action is not None and d.id is not None):
            raise InvariantViolated("expected d.auto_action is not None and d.id is not None")
        why = _AUTO_REASONS.get(d.auto_action, "automatic")
        try:
            done.append(resolve(runtime, d.id, d.auto_action, by=AUTO, reason=why))
        except BillfoldError as exc:
            log.warning("automatic resolution failed", discrepancy=d.id, error=exc.message)
    return done


# -- asking the channel (T+0) -----------------------------------------------------------------


def channel_word(uow: SettlementUnitOfWork, d: Discrepancy) -> ChannelWord | None:
    """What the channel last said about ``d``'s payment (``None``: never asked)."""
    asked = [a for a in uow.audit.list("discrepancy", str(d.id)) if a["action"] == _ASKED]
    if not asked or not asked[-1]["after"]:
        return None
    return ChannelWord(asked[-1]["after"]["word"])


def ask_channel(
    runtime: Runtime[SettlementUnitOfWork], discrepancy_id: int, channel: Requery, *, by: str
) -> ChannelAnswer:
    """Ask the channel what became of an engine-only payment's order; the answer is audited
    and decides whether the payment may be reversed."""
    if not by.strip():
        raise InvalidInput("by: say who asks the channel")
    with runtime.uow() as uow:
        d = uow.recon.discrepancy(discrepancy_id)
    if d is None:
        raise NotFound(f"discrepancy {discrepancy_id} does not exist")
    if d.code is not Code.ENGINE_ONLY or not d.is_open:
        raise InvalidInput(
            f"discrepancy {d.id} is {d.status.value} {d.code.value}; the channel is asked "
            "about open engine_only payments"
        )
    if not d.order_no or d.refund_no:
        raise InvalidInput(f"discrepancy {d.id} names no order to ask the channel about")
    said = channel.query(d.order_no)
    event = said.event
    answer = ChannelAnswer(
        discrepancy_id,
        said.state.value,
        word_of(said.state),
        event.channel_txn_id if event else None,
        event.amount_fen if event else None,
    )
    with runtime.uow() as uow:
        uow.audit.append(
            actor=by,
            action=_ASKED,
            target_type="discrepancy",
            target_id=str(d.id),
            reason=f"T+0 requery of {d.channel} order {d.order_no} ({d.channel_txn_id})",
            before=None,
            after={
                "state": answer.state,
                "word": answer.word.value,
                "channel_txn_id": answer.channel_txn_id,
                "amount_fen": answer.amount_fen,
            },
            now=runtime.clock.now(),
        )
        uow.commit()
    return answer
