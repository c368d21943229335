"""Fee rules: what the operator charges a biller per transaction on a channel."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from billfold.errors import InvalidInput

__all__ = ["FeeKind", "FeeRule", "round_half_up_div"]


class FeeKind(StrEnum):
    BPS = "bps"
    FIXED = "fixed"


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Integer division rounding half away from zero (for non-negative inputs: half up)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


@dataclass(frozen=True, slots=True)
class FeeRule:
    """Basis points of the amount (rounded half up, then held within min/max), or a fixed fee.

    A fee is never more than the transaction amount.
    """

    channel: str
    kind: FeeKind = FeeKind.BPS
    bps: int = 0
    min_fen: int = 0
    max_fen: int | None = None
    fixed_fen: int = 0

    def __post_init__(self) -> None:
        if not self.channel:
            raise InvalidInput("channel: a fee rule names its channel")
        if self.bps < 0 or self.bps > 10_000:
            raise InvalidInput(f"bps: must be between 0 and 10000, got {self.bps}")
        if self.min_fen < 0 or self.fixed_fen < 0:
            raise InvalidInput("min_fen/fixed_fen: fees cannot be negative")
        if self.max_fen is not None and self.max_fen < self.min_fen:
            raise InvalidInput(f"max_fen: {self.max_fen} is below min_fen {self.min_fen}")

    def fee_for(self, amount_fen: int) -> int:
        if amount_fen <= 0:
            return 0
        if self.kind is FeeKind.FIXED:
            fee = self.fixed_fen
        else:
            fee = round_half_up_div(amount_fen * self.bps, 10_000)
            fee = max(fee, self.min_fen)
            if self.max_fen is not None:
                fee = min(fee, self.max_fen)
        return min(fee, amount_fen)
