"""The one normalized statement line every ingestion parser produces.

A parser turns one vendor row (an Alipay or WeChat Pay bill row, a camt entry, an MT940
``:61:`` line) into one :class:`StatementLine`. Reconciliation consumes these and never
sees a vendor format.

Conventions every parser follows:

* ``amount_fen`` is never negative; which way the money went is ``direction``.
* ``fee_fen`` is what the channel charged for this line: positive when charged, negative
  when the channel gives a fee back (WeChat Pay and Alipay return the fee on a refund).
* ``channel_txn_id`` is the channel's own id of the transaction. It is *not* unique per
  line: a payment and its refunds may share it. ``(channel, channel_txn_id, type,
  refund_id)`` is.
* ``source_line`` is the 1-based physical line in the file where the row starts. For
  XML (camt) it is the 1-based ordinal of the ``Ntry`` element in the file.
* ``deviations`` lists what the parser accepted although the format's spec does not
  allow it (an impossible value date, a missing booking date, ...), in words a clerk can
  check. A line with deviations is still read exactly; nothing about its amount is guessed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from billfold.errors import InvalidInput
from billfold.money import format_yuan

__all__ = [
    "RAW_LIMIT",
    "Direction",
    "LineError",
    "LineStatus",
    "LineType",
    "StatementError",
    "StatementLine",
]

#: ``raw`` is cut to this many characters so a line never carries a huge blob.
RAW_LIMIT = 500


class LineType(enum.StrEnum):
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"
    REVERSAL = "REVERSAL"
    FEE = "FEE"
    SETTLEMENT = "SETTLEMENT"  # a bank credit/debit from a channel's settlement
    OTHER = "OTHER"


class LineStatus(enum.StrEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    PENDING = "PENDING"


class Direction(enum.StrEnum):
    """Which way the money moved, seen from the merchant's (our) account."""

    CREDIT = "CREDIT"
    DEBIT = "DEBIT"


_DEFAULT_DIRECTION = {
    LineType.PAYMENT: Direction.CREDIT,
    LineType.REFUND: Direction.DEBIT,
    LineType.REVERSAL: Direction.DEBIT,
    LineType.FEE: Direction.DEBIT,
    LineType.SETTLEMENT: Direction.CREDIT,
    LineType.OTHER: Direction.CREDIT,
}


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One normalized line of a channel bill or bank statement.

    ``direction`` defaults from ``type`` (payments and settlements are credits, refunds,
    reversals and fees debits); bank parsers always set it from the file.
    """

    channel: str
    channel_txn_id: str
    amount_fen: int
    occurred_at: datetime
    type: LineType
    source_file: str
    source_line: int
    order_no: str | None = None
    fee_fen: int = 0
    currency: str = "CNY"
    status: LineStatus = LineStatus.SUCCESS
    direction: Direction | None = None
    merchant_id: str | None = None
    refund_id: str | None = None
    counterparty: str | None = None
    description: str | None = None
    raw: str | None = field(default=None, repr=False)
    deviations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A parser builds millions of these: each check has a fast path for the values
        # parsers pass (exact ints, UTC times, enum members) and the full check otherwise.
        if not (
            type(self.amount_fen) is int
            and type(self.fee_fen) is int
            and type(self.source_line) is int
        ):
            for name in ("amount_fen", "fee_fen", "source_line"):
                value = getattr(self, name)
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InvalidInput(f"{name} must be an int, got {type(value).__name__}")
        if self.amount_fen < 0:
            raise InvalidInput(f"amount_fen must not be negative, got {self.amount_fen}")
        if self.source_line < 1:
            raise InvalidInput(f"source_line is 1-based, got {self.source_line}")
        if not self.channel_txn_id:
            raise InvalidInput("channel_txn_id must not be empty")
        when = self.occurred_at
        if when.tzinfo is not UTC:
            if when.tzinfo is None or when.utcoffset() is None:
                raise InvalidInput("occurred_at must be timezone-aware")
            object.__setattr__(self, "occurred_at", when.astimezone(UTC))
        if type(self.type) is not LineType:
            object.__setattr__(self, "type", LineType(self.type))
        if type(self.status) is not LineStatus:
            object.__setattr__(self, "status", LineStatus(self.status))
        if self.direction is None:
            object.__setattr__(self, "direction", _DEFAULT_DIRECTION[self.type])
        elif type(self.direction) is not Direction:
            object.__setattr__(self, "direction", Direction(self.direction))
        if self.raw is not None and len(self.raw) > RAW_LIMIT:
            object.__setattr__(self, "raw", self.raw[:RAW_LIMIT])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; amounts stay integer fen, ``amount_yuan`` is for people."""
        return {
            "channel": self.channel,
            "channel_txn_id": self.channel_txn_id,
            "order_no": self.order_no,
            "type": str(self.type),
            "status": str(self.status),
            "direction": str(self.direction),
            "amount_fen": self.amount_fen,
            "amount_yuan": format_yuan(self.amount_fen),
            "fee_fen": self.fee_fen,
            "currency": self.currency,
            "occurred_at": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "merchant_id": self.merchant_id,
            "refund_id": self.refund_id,
            "counterparty": self.counterparty,
            "description": self.description,
            "source_file": self.source_file,
            "source_line": self.source_line,
            "deviations": list(self.deviations),
        }


@dataclass(frozen=True, slots=True)
class LineError:
    """One problem with one line of a statement file, as a value.

    ``field`` names the column, tag or element as the file calls it (``订单金额（元）``,
    ``:61: amount``, ``Ntry/Amt``) so a clerk can find it.
    """

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class StatementError(InvalidInput):
    """A statement file (or one of its lines) was rejected; ``errors`` lists why."""

    code = "statement_rejected"

    def __init__(self, errors: list[LineError]) -> None:
        if not errors:
            raise ValueError("StatementError needs at least one LineError")
        first = str(errors[0])
        if len(errors) == 1:
            message = first
        else:
            message = f"{len(errors)} problems in {errors[0].file}; first: {first}"
        super().__init__(message)
        self.errors = list(errors)
