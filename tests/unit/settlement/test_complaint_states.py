"""The complaint state machine (hypothesis): only allowed moves, closed states only reopen."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.errors import InvalidInput, InvalidTransition
from billfold.settlement.complaint import (
    COMPLAINT_MOVES,
    DEFAULT_TAT_HOURS,
    OPEN_STATES,
    ComplaintKind,
    ComplaintStatus,
    check_move,
    parse_kind,
    tat_hours,
)


@given(st.lists(st.sampled_from(list(ComplaintStatus)), max_size=15))
def test_a_complaint_only_moves_along_allowed_transitions(path: list[ComplaintStatus]) -> None:
    state = ComplaintStatus.OPEN
    for target in path:
        if target in COMPLAINT_MOVES[state]:
            check_move("CP1", state, target)
            state = target
        else:
            with pytest.raises(InvalidTransition, match=f"complaint CP1 is {state.value}"):
                check_move("CP1", state, target)
        closed = state in (ComplaintStatus.RESOLVED, ComplaintStatus.REJECTED)
        assert closed is (state not in OPEN_STATES)


def test_closed_complaints_only_reopen_and_every_kind_has_a_tat() -> None:
    assert COMPLAINT_MOVES[ComplaintStatus.RESOLVED] == {ComplaintStatus.REOPENED}
    assert COMPLAINT_MOVES[ComplaintStatus.REJECTED] == {ComplaintStatus.REOPENED}
    assert set(DEFAULT_TAT_HOURS) == set(ComplaintKind)
    assert tat_hours(ComplaintKind.OTHER, None) == 120 and tat_hours(ComplaintKind.OTHER, 4) == 4
    with pytest.raises(InvalidInput, match="kind: 'late' is not a complaint kind"):
        parse_kind("late")
