"""The rules for payments: the payment and reversal lines of one channel transaction judged
against the engine's payment for it, and the 短款 of a payment no line mentions."""

from __future__ import annotations

from collections.abc import Sequence

from billfold.money import format_yuan
from billfold.settlement.discrepancy import Action, Code, Discrepancy
from billfold.settlement.engine_records import EnginePayment
from billfold.settlement.findings import RunContext, Verdict, duplicates, found, payment_fields
from billfold.settlement.statement import LineStatus, LineType, StatementLine

__all__ = ["classify_payment", "engine_only_payment"]


def classify_payment(
    lines: Sequence[StatementLine], payment: EnginePayment | None, ctx: RunContext
) -> Verdict:
    """Judge the payment and reversal lines of one transaction against the engine's record.

    ``lines`` are in file order and share one channel transaction id; ``payment`` is the
    engine's payment for it, if any.
    """
    paid = [ln for ln in lines if ln.type is LineType.PAYMENT and ln.status is LineStatus.SUCCESS]
    reversed_ = [
        ln for ln in lines if ln.type is LineType.REVERSAL and ln.status is LineStatus.SUCCESS
    ]
    notes = duplicates(paid, "payment") + duplicates(reversed_, "reversal")
    if not lines:
        return Verdict(False, 0, notes)
    if paid and not reversed_:
        return _paid(paid[0], payment, ctx, notes)
    if reversed_:
        return _reversed(reversed_[0], payment, notes)
    return _not_paid(lines[0], payment, notes)


def _paid(
    line: StatementLine, payment: EnginePayment | None, ctx: RunContext, notes: list[Discrepancy]
) -> Verdict:
    """The channel took the money: does the engine hold the same?"""
    if payment is None:
        notes.append(
            found(
                Code.CHANNEL_ONLY,
                f"the channel took {format_yuan(line.amount_fen)} for order "
                f"{line.order_no or '(none given)'} in transaction {line.channel_txn_id}; the "
                "engine has no such payment (长款: the notification was lost?)",
                line,
                difference_fen=line.amount_fen,
                auto_action=Action.CREDIT if line.order_no else None,
            )
        )
        return Verdict(False, 0, notes)
    disagreement = _money_disagrees(line, payment)
    if disagreement is not None:
        return Verdict(False, 0, [*notes, disagreement])
    return Verdict(True, line.amount_fen, notes + _remarks(line, payment, ctx))


def _money_disagrees(line: StatementLine, payment: EnginePayment) -> Discrepancy | None:
    """A paid line and the engine's payment disagree on status, currency or amount."""
    txn, more = line.channel_txn_id, payment_fields(payment)
    said = f"the channel says {txn} paid {format_yuan(line.amount_fen)}"
    if not payment.holds_money:
        return found(
            Code.STATUS_MISMATCH,
            f"{said}; the engine has it {payment.status}",
            line,
            difference_fen=line.amount_fen,
            **more,
        )
    if line.currency != payment.currency:
        return found(
            Code.AMOUNT_MISMATCH,
            f"{said} {line.currency}; the engine has {format_yuan(payment.amount_fen)} "
            f"{payment.currency}",
            line,
            **more,
        )
    if line.amount_fen != payment.amount_fen:
        return found(
            Code.AMOUNT_MISMATCH,
            f"{said}; the engine has {format_yuan(payment.amount_fen)}",
            line,
            difference_fen=line.amount_fen - payment.amount_fen,
            **more,
        )
    return None


def _remarks(line: StatementLine, payment: EnginePayment, ctx: RunContext) -> list[Discrepancy]:
    """What a matched payment may still be worth noting: its fee, its business date."""
    txn, more = line.channel_txn_id, payment_fields(payment)
    notes: list[Discrepancy] = []
    if ctx.check_fees and line.fee_fen != payment.fee_fen:
        notes.append(
            found(
                Code.FEE_MISMATCH,
                f"the channel charged a fee of {format_yuan(line.fee_fen)} on {txn}; the "
                f"fee schedule says {format_yuan(payment.fee_fen)}",
                line,
                **more,
            )
        )
    if payment.business_date != ctx.business_date:
        notes.append(
            found(
                Code.CROSS_DAY,
                f"{txn} is in the statement for {ctx.business_date}; the engine booked it "
                f"on business date {payment.business_date}",
                line,
                closed=True,
                **more,
            )
        )
    return notes


def _reversed(
    line: StatementLine, payment: EnginePayment | None, notes: list[Discrepancy]
) -> Verdict:
    """The channel reversed the transaction: the engine must not hold its money."""
    if payment is not None and payment.holds_money:
        notes.append(
            found(
                Code.STATUS_MISMATCH,
                f"the channel reversed {line.channel_txn_id}; the engine still has it "
                f"{payment.status} ({format_yuan(payment.amount_fen)})",
                line,
                difference_fen=-payment.amount_fen,
                **payment_fields(payment),
            )
        )
        return Verdict(False, 0, notes)
    return Verdict(payment is not None, 0, notes)


def _not_paid(
    line: StatementLine, payment: EnginePayment | None, notes: list[Discrepancy]
) -> Verdict:
    """Only failed or pending lines: the engine must not hold the money either."""
    if payment is not None and payment.holds_money:
        notes.append(
            found(
                Code.STATUS_MISMATCH,
                f"the channel says {line.channel_txn_id} is {line.status.value}; the engine "
                f"has it {payment.status} ({format_yuan(payment.amount_fen)})",
                line,
                difference_fen=-payment.amount_fen,
                **payment_fields(payment),
            )
        )
    return Verdict(False, 0, notes)


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
        **payment_fields(payment),  # type: ignore[arg-type]
    )
