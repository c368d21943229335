"""Reconciliation rules: pure functions from statement lines and engine records to findings.

The database does the bulk matching (a join on the channel's transaction id) and hands
these rules only what did not match cleanly: the lines sharing one transaction id with the
engine's record of it, or an engine record no line mentions. The rules collect every
discrepancy they see; they never stop at the first.

A clean match — one successful payment line, an engine payment holding the same amount in
the same currency on the run's business date, and (when the statement carries fees) the
fee of the biller's fee schedule — yields no discrepancy. ``tests`` prove that the clean
predicate the database uses is a case of these rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from billfold.money import format_yuan
from billfold.settlement.discrepancy import Action, Code, Discrepancy
from billfold.settlement.statement import (
    Direction,
    LineError,
    LineStatus,
    LineType,
    StatementLine,
)

__all__ = [
    "HOLDING",
    "EnginePayment",
    "EngineRefund",
    "RunContext",
    "StatementTotals",
    "Verdict",
    "classify_payment",
    "classify_refund",
    "engine_only_payment",
    "engine_only_refund",
    "statement_totals",
    "unreadable",
]

#: Engine payment statuses in which the engine holds the money (on a bill or in suspense).
HOLDING = frozenset({"credited", "held", "suspense"})
_PAYMENT_GROUP = (LineType.PAYMENT, LineType.REVERSAL)


@dataclass(frozen=True, slots=True)
class EnginePayment:
    """What the engine knows of one channel transaction."""

    id: int
    channel_txn_id: str
    order_no: str
    amount_fen: int
    fee_fen: int
    status: str
    business_date: date
    currency: str = "CNY"
    biller_id: int | None = None

    @property
    def holds_money(self) -> bool:
        return self.status in HOLDING and self.amount_fen > 0


@dataclass(frozen=True, slots=True)
class EngineRefund:
    """What the engine knows of one refund."""

    id: int
    refund_no: str
    payment_id: int
    channel_txn_id: str  # of the payment refunded
    amount_fen: int
    fee_fen: int  # our fee given back to the biller
    status: str
    channel_refund_id: str | None = None
    biller_id: int | None = None


@dataclass(frozen=True, slots=True)
class RunContext:
    channel: str
    business_date: date
    check_fees: bool = True


@dataclass(frozen=True, slots=True)
class Verdict:
    """The rules' answer for one transaction: does the money agree, and what is wrong."""

    matched: bool
    matched_fen: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)


def _line_fields(line: StatementLine) -> dict[str, object]:
    return {
        "channel": line.channel,
        "source_file": line.source_file,
        "source_line": line.source_line,
        "channel_txn_id": line.channel_txn_id,
        "order_no": line.order_no,
        "line_amount_fen": line.amount_fen,
        "line_fee_fen": line.fee_fen,
        "line_status": line.status.value,
        "currency": line.currency,
        "occurred_at": line.occurred_at,
        "counterparty": line.counterparty,
    }


def _payment_fields(payment: EnginePayment) -> dict[str, object]:
    return {
        "payment_id": payment.id,
        "biller_id": payment.biller_id,
        "engine_amount_fen": payment.amount_fen,
        "engine_fee_fen": payment.fee_fen,
        "engine_status": payment.status,
    }


def _found(code: Code, message: str, line: StatementLine, **more: object) -> Discrepancy:
    values = _line_fields(line)
    values.update(more)
    return Discrepancy(code, message, **values)  # type: ignore[arg-type]


def _duplicates(lines: Sequence[StatementLine], what: str) -> list[Discrepancy]:
    if len(lines) < 2:
        return []
    first = lines[0]
    return [
        _found(
            Code.DUPLICATE_LINE,
            f"{what} {line.channel_txn_id} is listed again (first at line {first.source_line})",
            line,
        )
        for line in lines[1:]
    ]


def classify_payment(
    lines: Sequence[StatementLine], payment: EnginePayment | None, ctx: RunContext
) -> Verdict:
    """Judge the payment and reversal lines of one transaction against the engine's record.

    ``lines`` are in file order and share one channel transaction id; ``payment`` is the
    engine's payment for it, if any.
    """
    pays = [ln for ln in lines if ln.type is LineType.PAYMENT]
    paid = [ln for ln in pays if ln.status is LineStatus.SUCCESS]
    reversed_ = [
        ln for ln in lines if ln.type is LineType.REVERSAL and ln.status is LineStatus.SUCCESS
    ]
    found = _duplicates(paid, "payment") + _duplicates(reversed_, "reversal")
    if not lines:
        return Verdict(False, 0, found)
    line = paid[0] if paid else reversed_[0] if reversed_ else lines[0]
    holds = payment is not None and payment.holds_money
    txn = line.channel_txn_id
    if paid and not reversed_:
        if payment is None:
            found.append(
                _found(
                    Code.CHANNEL_ONLY,
                    f"the channel took {format_yuan(line.amount_fen)} for order "
                    f"{line.order_no or '(none given)'} in transaction {txn}; the engine "
                    "has no such payment (长款: the notification was lost?)",
                    line,
                    difference_fen=line.amount_fen,
                    auto_action=Action.CREDIT if line.order_no else None,
                )
            )
            return Verdict(False, 0, found)
        more = _payment_fields(payment)
        if not holds:
            found.append(
                _found(
                    Code.STATUS_MISMATCH,
                    f"the channel says {txn} paid {format_yuan(line.amount_fen)}; the engine "
                    f"has it {payment.status}",
                    line,
                    difference_fen=line.amount_fen,
                    **more,
                )
            )
            return Verdict(False, 0, found)
        if line.currency != payment.currency:
            found.append(
                _found(
                    Code.AMOUNT_MISMATCH,
                    f"the channel says {txn} paid {format_yuan(line.amount_fen)} "
                    f"{line.currency}; the engine has {format_yuan(payment.amount_fen)} "
                    f"{payment.currency}",
                    line,
                    **more,
                )
            )
            return Verdict(False, 0, found)
        if line.amount_fen != payment.amount_fen:
            found.append(
                _found(
                    Code.AMOUNT_MISMATCH,
                    f"the channel says {txn} paid {format_yuan(line.amount_fen)}; the engine "
                    f"has {format_yuan(payment.amount_fen)}",
                    line,
                    difference_fen=line.amount_fen - payment.amount_fen,
                    **more,
                )
            )
            return Verdict(False, 0, found)
        if ctx.check_fees and line.fee_fen != payment.fee_fen:
            found.append(
                _found(
                    Code.FEE_MISMATCH,
                    f"the channel charged a fee of {format_yuan(line.fee_fen)} on {txn}; the "
                    f"fee schedule says {format_yuan(payment.fee_fen)}",
                    line,
                    **more,
                )
            )
        if payment.business_date != ctx.business_date:
            found.append(
                _found(
                    Code.CROSS_DAY,
                    f"{txn} is in the statement for {ctx.business_date}; the engine booked it "
                    f"on business date {payment.business_date}",
                    line,
                    closed=True,
                    **more,
                )
            )
        return Verdict(True, line.amount_fen, found)
    if reversed_:
        if holds and payment is not None:
            found.append(
                _found(
                    Code.STATUS_MISMATCH,
                    f"the channel reversed {txn}; the engine still has it {payment.status} "
                    f"({format_yuan(payment.amount_fen)})",
                    reversed_[0],
                    difference_fen=-payment.amount_fen,
                    **_payment_fields(payment),
                )
            )
            return Verdict(False, 0, found)
        return Verdict(payment is not None, 0, found)
    if holds and payment is not None:  # only failed or pending lines
        found.append(
            _found(
                Code.STATUS_MISMATCH,
                f"the channel says {txn} is {line.status.value}; the engine has it "
                f"{payment.status} ({format_yuan(payment.amount_fen)})",
                line,
                difference_fen=-payment.amount_fen,
                **_payment_fields(payment),
            )
        )
    return Verdict(False, 0, found)


def classify_refund(
    lines: Sequence[StatementLine], refund: EngineRefund | None, ctx: RunContext
) -> Verdict:
    """Judge the refund lines of one refund against the engine's record of it."""
    done = [ln for ln in lines if ln.status is LineStatus.SUCCESS]
    failed = [ln for ln in lines if ln.status is LineStatus.FAILED]
    found = _duplicates(done, "refund")
    if not lines:
        return Verdict(False, 0, found)
    line = done[0] if done else failed[0] if failed else lines[0]
    ref = line.refund_id or line.channel_txn_id
    more: dict[str, object] = {"refund_no": line.refund_id}
    if refund is not None:
        more = {
            "refund_no": refund.refund_no,
            "refund_id": refund.id,
            "payment_id": refund.payment_id,
            "biller_id": refund.biller_id,
            "engine_amount_fen": refund.amount_fen,
            "engine_fee_fen": -refund.fee_fen,
            "engine_status": refund.status,
        }
    if done:
        if refund is None:
            found.append(
                _found(
                    Code.CHANNEL_ONLY,
                    f"the channel paid out refund {ref} of {format_yuan(line.amount_fen)}; "
                    "the engine has no such refund",
                    line,
                    difference_fen=-line.amount_fen,
                    **more,
                )
            )
            return Verdict(False, 0, found)
        if line.amount_fen != refund.amount_fen:
            found.append(
                _found(
                    Code.AMOUNT_MISMATCH,
                    f"the channel refunded {format_yuan(line.amount_fen)} for {ref}; the "
                    f"engine's refund {refund.refund_no} is {format_yuan(refund.amount_fen)}",
                    line,
                    difference_fen=refund.amount_fen - line.amount_fen
                    if refund.status == "succeeded"
                    else -line.amount_fen,
                    **more,
                )
            )
            return Verdict(False, 0, found)
        if refund.status in ("pending", "failed"):
            found.append(
                _found(
                    Code.STATUS_MISMATCH,
                    f"the channel paid out refund {refund.refund_no}; the engine still has it "
                    f"{refund.status}",
                    line,
                    difference_fen=-line.amount_fen,
                    auto_action=Action.COMPLETE_REFUND,
                    **more,
                )
            )
            return Verdict(False, 0, found)
        if refund.status != "succeeded":
            found.append(
                _found(
                    Code.STATUS_MISMATCH,
                    f"the channel paid out refund {refund.refund_no}; the engine has it "
                    f"{refund.status}",
                    line,
                    difference_fen=-line.amount_fen,
                    **more,
                )
            )
            return Verdict(False, 0, found)
        if ctx.check_fees and line.fee_fen != -refund.fee_fen:
            found.append(
                _found(
                    Code.FEE_MISMATCH,
                    f"the channel returned a fee of {format_yuan(-line.fee_fen)} on refund "
                    f"{refund.refund_no}; the fee schedule says {format_yuan(refund.fee_fen)}",
                    line,
                    **more,
                )
            )
        return Verdict(True, line.amount_fen, found)
    if failed and refund is not None and refund.status == "succeeded":
        found.append(
            _found(
                Code.STATUS_MISMATCH,
                f"the channel says refund {refund.refund_no} failed; the engine recorded it "
                "as paid out",
                line,
                difference_fen=refund.amount_fen,
                **more,
            )
        )
    return Verdict(False, 0, found)


def engine_only_payment(payment: EnginePayment, ctx: RunContext) -> Discrepancy:
    """短款: the engine holds a payment that the channel's statement does not show."""
    return Discrepancy(
        Code.ENGINE_ONLY,
        f"the engine has {payment.channel_txn_id} for order {payment.order_no}, "
        f"{format_yuan(payment.amount_fen)} {payment.status}; the channel's statement for "
        f"{ctx.business_date} does not show it (短款)",
        ctx.channel,
        channel_txn_id=payment.channel_txn_id,
        order_no=payment.order_no,
        difference_fen=-payment.amount_fen,
        currency=payment.currency,
        **_payment_fields(payment),  # type: ignore[arg-type]
    )


def engine_only_refund(refund: EngineRefund, ctx: RunContext) -> Discrepancy:
    """The engine recorded a refund as paid out; the channel's statement does not show it."""
    return Discrepancy(
        Code.ENGINE_ONLY,
        f"the engine recorded refund {refund.refund_no} of {format_yuan(refund.amount_fen)} "
        f"(payment {refund.channel_txn_id}) as paid out; the channel's statement for "
        f"{ctx.business_date} does not show it",
        ctx.channel,
        channel_txn_id=refund.channel_refund_id or refund.channel_txn_id,
        refund_no=refund.refund_no,
        refund_id=refund.id,
        payment_id=refund.payment_id,
        biller_id=refund.biller_id,
        engine_amount_fen=refund.amount_fen,
        engine_fee_fen=-refund.fee_fen,
        engine_status=refund.status,
        difference_fen=refund.amount_fen,
    )


def unreadable(error: LineError, channel: str) -> Discrepancy:
    """A line the parser quarantined: kept as a discrepancy so nobody forgets it."""
    return Discrepancy(
        Code.UNREADABLE_LINE,
        f"{error.field}: {error.message}",
        channel,
        source_file=error.file,
        source_line=error.line,
    )


@dataclass(frozen=True, slots=True)
class StatementTotals:
    """What a channel statement says for its day: the net it promises to pay in."""

    line_count: int = 0
    payment_count: int = 0
    payment_fen: int = 0
    refund_count: int = 0
    refund_fen: int = 0
    fee_fen: int = 0
    net_fen: int = 0


def statement_totals(
    groups: Iterable[tuple[str, str, str, int, int, int]],
) -> StatementTotals:
    """Totals from ``(type, status, direction, count, amount_fen, fee_fen)`` groups.

    Only successful lines move money. The fees are every line's ``fee_fen`` plus the
    amounts of fee lines (Alipay's 账务明细 books its service fee as a line of its own).
    The net is payments and other credits, less refunds and other debits, less fees.
    Settlement lines (the channel's own payouts) and other lines do not count.
    """
    lines = payments = payment_fen = refunds = refund_fen = fees = moved = 0
    for kind, status, direction, count, amount, fee in groups:
        lines += count
        if status != LineStatus.SUCCESS.value:
            continue
        if kind not in (LineType.PAYMENT, LineType.REFUND, LineType.REVERSAL, LineType.FEE):
            continue
        sign = 1 if direction == Direction.CREDIT.value else -1
        fees += fee
        if kind == LineType.FEE:
            fees -= sign * amount
            continue
        moved += sign * amount
        if kind == LineType.PAYMENT:
            payments += count
            payment_fen += amount
        elif kind == LineType.REFUND:
            refunds += count
            refund_fen += amount
    return StatementTotals(lines, payments, payment_fen, refunds, refund_fen, fees, moved - fees)


def payment_group(line_type: LineType) -> bool:
    """Payment and reversal lines are matched to engine payments by transaction id."""
    return line_type in _PAYMENT_GROUP
