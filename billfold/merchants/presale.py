"""Presale-fund supervision (预售资金监管): supervised projects, their construction
milestones and buyers' contracts, as validated values. Pure: no I/O."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from billfold.errors import InvalidInput
from billfold.masking import mask_name
from billfold.money import format_yuan

__all__ = ["Contract", "Milestone", "Project", "validate_milestones"]


def _code(value: str, field: str, size: int = 64) -> str:
    text = value.strip()
    if not text or len(text) > size or any(ch.isspace() for ch in text):
        raise InvalidInput(f"{field}: {value[:70]!r} must be 1-{size} characters without spaces")
    return text


@dataclass(frozen=True, slots=True)
class Project:
    """A supervised project: the developer (a biller), the project (its sub-unit), the
    housing bureau's project code and the supervised escrow account."""

    developer: str
    project_code: str
    bureau_code: str
    name: str
    escrow_bank: str
    escrow_account_no: str
    id: int | None = None

    def __post_init__(self) -> None:
        _code(self.project_code, "project_code")
        _code(self.bureau_code, "bureau_code")
        _code(self.escrow_account_no, "escrow_account_no")
        if not self.name.strip() or not self.escrow_bank.strip():
            raise InvalidInput("project: a project needs a name and the escrow account's bank")


@dataclass(frozen=True, slots=True)
class Milestone:
    """A construction stage and the share of the supervised money releasable in all once it
    is reached (cumulative basis points: 3000 = 30%)."""

    stage: str
    name: str
    cumulative_bps: int
    reached_on: date | None = None

    def __post_init__(self) -> None:
        _code(self.stage, "stage", 32)
        if not 0 < self.cumulative_bps <= 10_000:
            raise InvalidInput(
                f"stage {self.stage}: cumulative share must be 0.01%-100%, "
                f"not {self.cumulative_bps} bps"
            )


def validate_milestones(stages: Sequence[Milestone]) -> None:
    """Stages in construction order, each releasing more than the one before."""
    if not stages:
        raise InvalidInput("milestones: give at least one stage")
    codes = [m.stage for m in stages]
    if len(set(codes)) != len(codes):
        raise InvalidInput(f"milestones: stage codes repeat ({', '.join(codes)})")
    for before, after in itertools.pairwise(stages):
        if after.cumulative_bps <= before.cumulative_bps:
            raise InvalidInput(
                f"milestones: stage {after.stage} must release more in all than "
                f"{before.stage} ({after.cumulative_bps} <= {before.cumulative_bps} bps)"
            )


@dataclass(frozen=True, slots=True)
class Contract:
    """A buyer's purchase contract (商品房买卖合同) in a supervised project."""

    contract_no: str
    unit_no: str
    total_fen: int
    buyer_name: str

    def __post_init__(self) -> None:
        _code(self.contract_no, "contract_no")
        if not self.unit_no.strip() or len(self.unit_no) > 64:
            raise InvalidInput(f"unit_no: contract {self.contract_no} needs its unit (房号)")
        if self.total_fen <= 0:
            raise InvalidInput(
                f"total_price: contract {self.contract_no} must be more than 0.00, "
                f"not {format_yuan(self.total_fen)}"
            )
        if not self.buyer_name.strip():
            raise InvalidInput(f"buyer: contract {self.contract_no} needs the buyer's name")

    @property
    def buyer_masked(self) -> str:
        return mask_name(self.buyer_name)
