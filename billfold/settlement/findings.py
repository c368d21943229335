"""The vocabulary the reconciliation rules share: a run's context, a verdict, and the way a
finding is written down from a statement line (and the engine record it names)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from billfold.settlement.discrepancy import Code, Discrepancy
from billfold.settlement.engine_records import EnginePayment
from billfold.settlement.statement import LineError, StatementLine

__all__ = [
    "RunContext",
    "Verdict",
    "duplicates",
    "found",
    "payment_fields",
    "unreadable",
]


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


def payment_fields(payment: EnginePayment) -> dict[str, object]:
    """The engine payment's side of a finding."""
    return {
        "payment_id": payment.id,
        "biller_id": payment.biller_id,
        "engine_amount_fen": payment.amount_fen,
        "engine_fee_fen": payment.fee_fen,
        "engine_status": payment.status,
    }


def found(code: Code, message: str, line: StatementLine, **more: object) -> Discrepancy:
    """A finding about ``line`` (its file, line number and figures), with ``more`` fields."""
    values = _line_fields(line)
    values.update(more)
    return Discrepancy(code, message, **values)  # type: ignore[arg-type]


def duplicates(lines: Sequence[StatementLine], what: str) -> list[Discrepancy]:
    """Every line after the first of ``lines`` (one transaction) is listed again."""
    if len(lines) < 2:
        return []
    first = lines[0]
    return [
        found(
            Code.DUPLICATE_LINE,
            f"{what} {line.channel_txn_id} is listed again (first at line {first.source_line})",
            line,
        )
        for line in lines[1:]
    ]


def unreadable(error: LineError, channel: str) -> Discrepancy:
    """A line the parser quarantined: kept as a discrepancy so nobody forgets it."""
    return Discrepancy(
        Code.UNREADABLE_LINE,
        f"{error.field}: {error.message}",
        channel,
        source_file=error.file,
        source_line=error.line,
    )
