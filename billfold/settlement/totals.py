"""A channel statement's totals: what it says for its day, and the net it promises to pay in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from billfold.settlement.statement import Direction, LineStatus, LineType

__all__ = ["MERCHANTS", "StageSummary", "StatementTotals", "statement_totals"]

#: How many distinct merchant ids a :class:`StageSummary` keeps (the scope only needs to
#: tell none, one and several apart).
MERCHANTS = 3


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


@dataclass(frozen=True, slots=True)
class StageSummary:
    """A staged statement as a whole: its ``(type, status, direction, count, amount_fen,
    fee_fen)`` groups (:func:`statement_totals` makes the totals of them) and up to
    :data:`MERCHANTS` distinct merchant ids its lines name (the run's scope)."""

    groups: list[tuple[str, str, str, int, int, int]]
    merchants: list[str]


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
