"""POS terminals and their batches as values, and the batch-close comparison (pure).

At batch close (批结算) a terminal reports its totals and its lines (batch upload, 批上送);
billfold computes the same from its own records — payments and refunds keyed by
``terminal:batch:trace`` — and :func:`compare_lines` lists every trace the two sides
disagree on. Reversed sales count on neither side; a voided sale counts as a sale and its
void as a void.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from billfold.errors import InvalidInput
from billfold.money import format_yuan

__all__ = [
    "APPROVED",
    "CHANNEL",
    "Batch",
    "BatchClose",
    "BatchLine",
    "BatchStatus",
    "BatchTotals",
    "PosKind",
    "PosRecord",
    "Terminal",
    "TerminalStatus",
    "TraceDifference",
    "billfold_lines",
    "check_lines",
    "compare_lines",
    "txn_id",
    "validate_number",
    "validate_terminal_id",
]

_TERMINAL_RE = re.compile(r"^[A-Za-z0-9]{1,16}$")

#: The channel the core records POS payments under (``pos / terminal:batch:trace``).
CHANNEL = "pos"

#: The outcome of a message billfold approved (any other outcome is a decline code).
APPROVED = "approved"
_NUMBER_RE = re.compile(r"^\d{6}$")


class PosKind(StrEnum):
    SALE = "sale"  # 消费
    VOID = "void"  # 消费撤销: same day, same open batch
    REFUND = "refund"  # 退货: after the sale's batch was settled
    REVERSAL = "reversal"  # 冲正: the terminal got no answer and undoes its request


class TerminalStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class BatchStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def validate_terminal_id(value: str, field: str = "terminal_id") -> str:
    if not isinstance(value, str) or not _TERMINAL_RE.match(value):
        raise InvalidInput(f"{field}: {value!r} must be 1-16 letters or digits")
    return value


def validate_number(value: str, field: str) -> str:
    """Batch and trace numbers (批次号, 凭证号/流水号): exactly six digits."""
    if not isinstance(value, str) or not _NUMBER_RE.match(value):
        raise InvalidInput(f"{field}: {value!r} must be exactly 6 digits")
    return value


def txn_id(terminal_id: str, batch_no: str, trace_no: str) -> str:
    """The channel transaction id of a terminal message: ``terminal:batch:trace``."""
    return f"{terminal_id}:{batch_no}:{trace_no}"


@dataclass(frozen=True, slots=True)
class Terminal:
    id: int
    terminal_id: str
    biller_id: int
    sub_unit: str | None  # the supervised project a presale POS is bound to
    status: TerminalStatus


@dataclass(frozen=True, slots=True)
class Batch:
    id: int
    terminal_pk: int
    batch_no: str
    status: BatchStatus
    business_date: date


@dataclass(frozen=True, slots=True)
class PosRecord:
    """A terminal message as billfold answered it (so a repeat gets the same answer)."""

    kind: PosKind
    trace_no: str
    amount_fen: int
    outcome: str  # APPROVED or a decline code
    message: str
    order_no: str | None
    payment_id: int | None
    refund_no: str | None
    original_txn: str | None


@dataclass(frozen=True, slots=True)
class BatchLine:
    trace_no: str
    kind: PosKind
    amount_fen: int


@dataclass(frozen=True, slots=True)
class BatchTotals:
    sale_count: int = 0
    sale_fen: int = 0
    void_count: int = 0
    void_fen: int = 0
    refund_count: int = 0
    refund_fen: int = 0

    @classmethod
    def of(cls, lines: Iterable[BatchLine]) -> BatchTotals:
        counts = {kind: [0, 0] for kind in (PosKind.SALE, PosKind.VOID, PosKind.REFUND)}
        for line in lines:
            counts[line.kind][0] += 1
            counts[line.kind][1] += line.amount_fen
        (sc, sf), (vc, vf), (rc, rf) = counts.values()
        return cls(sc, sf, vc, vf, rc, rf)

    def __str__(self) -> str:
        return (
            f"sales {self.sale_count}/{format_yuan(self.sale_fen)}, "
            f"voids {self.void_count}/{format_yuan(self.void_fen)}, "
            f"refunds {self.refund_count}/{format_yuan(self.refund_fen)}"
        )


@dataclass(frozen=True, slots=True)
class TraceDifference:
    trace_no: str
    kind: PosKind
    terminal_fen: int | None  # None: the terminal does not have it
    billfold_fen: int | None  # None: billfold does not have it

    def __str__(self) -> str:
        def side(fen: int | None) -> str:
            return "nothing" if fen is None else format_yuan(fen)

        return (
            f"trace {self.trace_no} {self.kind.value}: terminal {side(self.terminal_fen)}, "
            f"billfold {side(self.billfold_fen)}"
        )


@dataclass(frozen=True, slots=True)
class BatchClose:
    """The outcome of closing a batch: both sides' totals and every trace they differ on."""

    terminal_id: str
    batch_no: str
    terminal: BatchTotals
    billfold: BatchTotals
    differences: tuple[TraceDifference, ...]
    already_closed: bool = False

    @property
    def agreed(self) -> bool:
        return self.terminal == self.billfold and not self.differences

    @property
    def differing_traces(self) -> list[str]:
        return sorted({d.trace_no for d in self.differences})


def check_lines(lines: Iterable[BatchLine]) -> list[BatchLine]:
    """A terminal's batch upload, checked: six-digit traces, positive amounts, each
    (trace, kind) once, and no reversals (a reversed request is simply not in a batch)."""
    seen: set[tuple[str, PosKind]] = set()
    checked = []
    for number, line in enumerate(lines, start=1):
        validate_number(line.trace_no, f"line {number}: trace_no")
        if line.kind is PosKind.REVERSAL:
            raise InvalidInput(f"line {number}: a reversed request is not part of a batch")
        if line.amount_fen <= 0:
            raise InvalidInput(f"line {number}: amount must be more than 0.00")
        if (line.trace_no, line.kind) in seen:
            raise InvalidInput(f"line {number}: trace {line.trace_no} {line.kind.value} repeats")
        seen.add((line.trace_no, line.kind))
        checked.append(line)
    return checked


def billfold_lines(
    sales: Iterable[tuple[str, bool, int]],
    voids: Iterable[tuple[str, str, int]],
    refunds: Iterable[tuple[str, int]],
) -> list[BatchLine]:
    """A batch as billfold's records have it.

    ``sales``: (trace, reversed?, amount) of the batch's payments; ``voids``: (void trace,
    voided sale's trace, amount) of approved voids; ``refunds``: (trace, amount).
    """
    voids = list(voids)
    voided = {original for _trace, original, _amount in voids}
    lines = [
        BatchLine(trace, PosKind.SALE, amount)
        for trace, reversed_, amount in sales
        if not reversed_ or trace in voided
    ]
    sold = {line.trace_no for line in lines}
    lines += [
        BatchLine(trace, PosKind.VOID, amount)
        for trace, original, amount in voids
        if original in sold
    ]
    lines += [BatchLine(trace, PosKind.REFUND, amount) for trace, amount in refunds]
    return lines


def compare_lines(
    terminal: Iterable[BatchLine], billfold: Iterable[BatchLine]
) -> tuple[TraceDifference, ...]:
    """Every (trace, kind) whose amount differs, or that only one side has, by trace."""
    ours = {(line.trace_no, line.kind): line.amount_fen for line in billfold}
    theirs = {(line.trace_no, line.kind): line.amount_fen for line in terminal}
    return tuple(
        TraceDifference(trace, kind, theirs.get((trace, kind)), ours.get((trace, kind)))
        for trace, kind in sorted(ours.keys() | theirs.keys())
        if theirs.get((trace, kind)) != ours.get((trace, kind))
    )
