"""The rules for refunds: the refund lines of one refund judged against the engine's record
of it, and a refund the engine paid out that no line shows."""

from __future__ import annotations

from collections.abc import Sequence

from billfold.money import format_yuan
from billfold.settlement.discrepancy import Action, Code, Discrepancy
from billfold.settlement.engine_records import EngineRefund
from billfold.settlement.findings import RunContext, Verdict, duplicates, found
from billfold.settlement.statement import LineStatus, StatementLine

__all__ = ["classify_refund", "engine_only_refund"]


def classify_refund(
    lines: Sequence[StatementLine], refund: EngineRefund | None, ctx: RunContext
) -> Verdict:
    """Judge the refund lines of one refund against the engine's record of it."""
    done = [ln for ln in lines if ln.status is LineStatus.SUCCESS]
    failed = [ln for ln in lines if ln.status is LineStatus.FAILED]
    notes = duplicates(done, "refund")
    if not lines:
        return Verdict(False, 0, notes)
    line = done[0] if done else failed[0] if failed else lines[0]
    more = _refund_fields(line, refund)
    if done:
        return _paid_out(line, refund, ctx, more, notes)
    if failed and refund is not None and refund.status == "succeeded":
        notes.append(
            found(
                Code.STATUS_MISMATCH,
                f"the channel says refund {refund.refund_no} failed; the engine recorded it "
                "as paid out",
                line,
                difference_fen=refund.amount_fen,
                **more,
            )
        )
    return Verdict(False, 0, notes)


def _refund_fields(line: StatementLine, refund: EngineRefund | None) -> dict[str, object]:
    if refund is None:
        return {"refund_no": line.refund_id}
    return {
        "refund_no": refund.refund_no,
        "refund_id": refund.id,
        "payment_id": refund.payment_id,
        "biller_id": refund.biller_id,
        "engine_amount_fen": refund.amount_fen,
        "engine_fee_fen": -refund.fee_fen,
        "engine_status": refund.status,
    }


def _paid_out(
    line: StatementLine,
    refund: EngineRefund | None,
    ctx: RunContext,
    more: dict[str, object],
    notes: list[Discrepancy],
) -> Verdict:
    """The channel paid the refund out: did the engine pay out the same?"""
    if refund is None:
        ref = line.refund_id or line.channel_txn_id
        notes.append(
            found(
                Code.CHANNEL_ONLY,
                f"the channel paid out refund {ref} of {format_yuan(line.amount_fen)}; "
                "the engine has no such refund",
                line,
                difference_fen=-line.amount_fen,
                **more,
            )
        )
        return Verdict(False, 0, notes)
    disagreement = _refund_disagrees(line, refund, more)
    if disagreement is not None:
        return Verdict(False, 0, [*notes, disagreement])
    if ctx.check_fees and line.fee_fen != -refund.fee_fen:
        notes.append(
            found(
                Code.FEE_MISMATCH,
                f"the channel returned a fee of {format_yuan(-line.fee_fen)} on refund "
                f"{refund.refund_no}; the fee schedule says {format_yuan(refund.fee_fen)}",
                line,
                **more,
            )
        )
    return Verdict(True, line.amount_fen, notes)


def _refund_disagrees(
    line: StatementLine, refund: EngineRefund, more: dict[str, object]
) -> Discrepancy | None:
    """A paid-out refund line and the engine's refund disagree on amount or status."""
    if line.amount_fen != refund.amount_fen:
        ref = line.refund_id or line.channel_txn_id
        return found(
            Code.AMOUNT_MISMATCH,
            f"the channel refunded {format_yuan(line.amount_fen)} for {ref}; the "
            f"engine's refund {refund.refund_no} is {format_yuan(refund.amount_fen)}",
            line,
            difference_fen=refund.amount_fen - line.amount_fen
            if refund.status == "succeeded"
            else -line.amount_fen,
            **more,
        )
    if refund.status in ("pending", "failed"):
        return found(
            Code.STATUS_MISMATCH,
            f"the channel paid out refund {refund.refund_no}; the engine still has it "
            f"{refund.status}",
            line,
            difference_fen=-line.amount_fen,
            auto_action=Action.COMPLETE_REFUND,
            **more,
        )
    if refund.status != "succeeded":
        return found(
            Code.STATUS_MISMATCH,
            f"the channel paid out refund {refund.refund_no}; the engine has it {refund.status}",
            line,
            difference_fen=-line.amount_fen,
            **more,
        )
    return None


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
