"""Releases from a presale escrow account: up to the reached stage's cumulative share of the
money received, never beyond the balance."""

from __future__ import annotations

from datetime import date

import pytest

from billfold.errors import InvalidInput
from billfold.merchants.presale import Milestone, validate_milestones
from billfold.settlement.escrow import EscrowTotals, check_release

STAGES = [
    Milestone("foundation", "基础完成", 3_000, date(2026, 8, 1)),
    Milestone("topped", "主体结构封顶", 6_000, date(2026, 9, 1)),
    Milestone("completed", "竣工验收", 9_500),
]


def test_a_release_within_the_stage_limit_is_allowed() -> None:
    book = EscrowTotals(received_fen=1_000_000, held_fen=0, released_fen=300_000)
    assert check_release(300_000, book, STAGES, date(2026, 9, 1)) is None


def test_over_the_stage_limit_is_refused_with_the_figures() -> None:
    book = EscrowTotals(received_fen=1_000_000, held_fen=0, released_fen=300_000)
    refusal = check_release(300_001, book, STAGES, date(2026, 9, 1))
    assert refusal is not None and refusal.code == "over_limit"
    assert refusal.message == (
        "release of 3000.01 refused: stage topped (主体结构封顶) allows 60% of 10000.00 "
        "received = 6000.00 in all; 3000.00 already released, at most 3000.00 more"
    )


def test_the_stage_counts_only_from_the_day_it_is_reached() -> None:
    book = EscrowTotals(received_fen=1_000_000, held_fen=0, released_fen=0)
    refusal = check_release(400_000, book, STAGES, date(2026, 8, 31))
    assert refusal is not None and refusal.code == "over_limit"
    assert "stage foundation (基础完成) allows 30%" in refusal.message


def test_before_any_stage_nothing_is_released() -> None:
    book = EscrowTotals(received_fen=1_000_000, held_fen=0, released_fen=0)
    refusal = check_release(1, book, STAGES, date(2026, 7, 31))
    assert refusal is not None and refusal.message == (
        "release of 0.01 refused: no construction milestone is reached yet"
    )


def test_at_100_percent_the_whole_balance_and_not_a_fen_more() -> None:
    full = [Milestone("done", "交付", 10_000, date(2026, 1, 1))]
    book = EscrowTotals(received_fen=100, held_fen=0, released_fen=40)
    assert check_release(60, book, full, date(2026, 9, 1)) is None
    over = check_release(61, book, full, date(2026, 9, 1))
    assert over is not None and over.code == "over_limit"
    nothing = check_release(0, book, full, date(2026, 9, 1))
    assert nothing is not None and nothing.message == (
        "release of 0.00 refused: must be more than 0.00"
    )


def test_a_release_plan_must_grow_stage_by_stage() -> None:
    with pytest.raises(InvalidInput) as bad:
        validate_milestones([STAGES[1], STAGES[0]])
    assert bad.value.message == (
        "milestones: stage foundation must release more in all than topped (3000 <= 6000 bps)"
    )
