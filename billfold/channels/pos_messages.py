"""The messages a POS terminal sends billfold, and billfold's answers (values only).

Batch and trace numbers are six digits, as on the terminal's slip; a message's channel
transaction id is ``terminal:batch:trace``. A card number is only ever taken masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from billfold.channels.pos_batch import PosKind, txn_id, validate_number, validate_terminal_id
from billfold.errors import InvalidInput

__all__ = ["Message", "PosAnswer", "PosDecline", "Refund", "Reversal", "Sale", "Void", "kind_of"]


class PosDecline(StrEnum):
    UNKNOWN_TERMINAL = "unknown_terminal"
    TERMINAL_DISABLED = "terminal_disabled"
    BATCH_CLOSED = "batch_closed"
    CHANNEL_REFUSED = "channel_refused"
    WRONG_BILLER = "wrong_biller"
    WRONG_PROJECT = "wrong_project"
    NOT_FOUND = "not_found"
    AMOUNT_MISMATCH = "amount_mismatch"
    NOT_PAYABLE = "not_payable"
    REVERSED = "reversed"  # the terminal reversed this sale before it arrived
    USE_REFUND = "use_refund"  # too late to void
    USE_VOID = "use_void"  # too early to refund
    REFUSED = "refused"

    @property
    def response_code(self) -> str:
        """The ISO 8583 response code a terminal shows for it."""
        return _RESPONSE_CODES.get(self, "12")


_RESPONSE_CODES = {
    PosDecline.UNKNOWN_TERMINAL: "03",  # invalid merchant
    PosDecline.TERMINAL_DISABLED: "58",  # not permitted to terminal
    PosDecline.CHANNEL_REFUSED: "58",
    PosDecline.WRONG_BILLER: "58",
    PosDecline.WRONG_PROJECT: "58",
    PosDecline.NOT_FOUND: "25",  # unable to locate record
    PosDecline.AMOUNT_MISMATCH: "13",  # invalid amount
}


def _check_amount(amount_fen: int) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise InvalidInput("amount: must be a positive integer number of fen")


def _check_head(terminal_id: str, batch_no: str, trace_no: str) -> None:
    validate_terminal_id(terminal_id)
    validate_number(batch_no, "batch_no")
    validate_number(trace_no, "trace_no")


@dataclass(frozen=True, slots=True)
class Sale:
    terminal_id: str
    batch_no: str
    trace_no: str
    amount_fen: int
    order_no: str | None = None
    bill_ref: str | None = None  # a bill number of the terminal's biller
    card_masked: str | None = None  # e.g. 622202******7890, never the whole number

    def __post_init__(self) -> None:
        _check_head(self.terminal_id, self.batch_no, self.trace_no)
        _check_amount(self.amount_fen)
        if (self.order_no is None) == (self.bill_ref is None):
            raise InvalidInput("sale: give either order_no or bill_ref")
        if self.card_masked is not None:
            digits = sum(c.isdigit() for c in self.card_masked)
            if "*" not in self.card_masked or digits > 10 or len(self.card_masked) > 32:
                raise InvalidInput("card: only a masked card number (first 6, last 4) is taken")

    @property
    def txn_id(self) -> str:
        return txn_id(self.terminal_id, self.batch_no, self.trace_no)


@dataclass(frozen=True, slots=True)
class Void:
    terminal_id: str
    batch_no: str
    trace_no: str  # the void's own trace number
    original_trace_no: str  # the sale's, in the same batch
    amount_fen: int

    def __post_init__(self) -> None:
        _check_head(self.terminal_id, self.batch_no, self.trace_no)
        validate_number(self.original_trace_no, "original_trace_no")
        _check_amount(self.amount_fen)


@dataclass(frozen=True, slots=True)
class Reversal:
    terminal_id: str
    batch_no: str
    trace_no: str  # the trace of the sale being reversed
    amount_fen: int
    order_no: str | None = None

    def __post_init__(self) -> None:
        _check_head(self.terminal_id, self.batch_no, self.trace_no)
        _check_amount(self.amount_fen)


@dataclass(frozen=True, slots=True)
class Refund:
    terminal_id: str
    batch_no: str
    trace_no: str  # the refund's own trace number
    original_batch_no: str
    original_trace_no: str
    amount_fen: int
    original_terminal_id: str | None = None  # default: this terminal

    def __post_init__(self) -> None:
        _check_head(self.terminal_id, self.batch_no, self.trace_no)
        validate_number(self.original_batch_no, "original_batch_no")
        validate_number(self.original_trace_no, "original_trace_no")
        if self.original_terminal_id is not None:
            validate_terminal_id(self.original_terminal_id, "original_terminal_id")
        _check_amount(self.amount_fen)

    @property
    def original_txn(self) -> str:
        terminal = self.original_terminal_id or self.terminal_id
        return txn_id(terminal, self.original_batch_no, self.original_trace_no)


Message = Sale | Void | Reversal | Refund


@dataclass(frozen=True, slots=True)
class PosAnswer:
    kind: PosKind
    terminal_id: str
    batch_no: str
    trace_no: str
    approved: bool
    decline: PosDecline | None = None
    message: str = ""
    order_no: str | None = None
    payment_id: int | None = None
    refund_no: str | None = None

    @property
    def response_code(self) -> str:
        return "00" if self.decline is None else self.decline.response_code


def kind_of(msg: Message) -> PosKind:
    return {
        Sale: PosKind.SALE,
        Void: PosKind.VOID,
        Reversal: PosKind.REVERSAL,
        Refund: PosKind.REFUND,
    }[type(msg)]
