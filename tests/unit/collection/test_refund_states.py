"""The refund state machine: final states are final, a bank transfer is the only way out of
*needs transfer*, and every state is reachable from pending."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.refund import REFUND_MOVES, RefundStatus, refund_can_move, sources_of


@given(st.lists(st.sampled_from(list(RefundStatus)), max_size=12))
def test_a_refund_walks_only_allowed_moves_and_never_leaves_a_final_state(
    path: list[RefundStatus],
) -> None:
    state = RefundStatus.PENDING
    for target in path:
        if refund_can_move(state, target):
            assert state in sources_of(target)
            if state in (RefundStatus.SUCCEEDED, RefundStatus.CANCELLED):
                raise AssertionError(f"left final state {state}")
            state = target
        else:
            assert state not in sources_of(target)


def test_a_transfer_refund_is_paid_only_through_a_file() -> None:
    assert REFUND_MOVES[RefundStatus.NEEDS_TRANSFER] == {
        RefundStatus.IN_TRANSFER,
        RefundStatus.CANCELLED,
    }
    assert sources_of(RefundStatus.IN_TRANSFER) == [RefundStatus.NEEDS_TRANSFER]
    assert not refund_can_move(RefundStatus.IN_TRANSFER, RefundStatus.PENDING)
    reachable = {RefundStatus.PENDING}
    for _ in RefundStatus:
        reachable |= {n for s in reachable for n in REFUND_MOVES[s]}
    assert reachable == set(RefundStatus)
