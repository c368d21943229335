from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.order import TRANSITIONS, Order, OrderStatus, can_transition
from billfold.errors import InvalidTransition

NOW = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
FINAL = {
    OrderStatus.CANCELLED,
    OrderStatus.FAILED,
    OrderStatus.REFUNDED,
    OrderStatus.REVERSED,
}


def new_order() -> Order:
    return Order("BF1", 1, 1, 100, NOW, NOW + timedelta(minutes=30))


@given(st.lists(st.sampled_from(list(OrderStatus)), max_size=12))
def test_an_order_only_moves_along_allowed_transitions(path: list[OrderStatus]) -> None:
    order = new_order()
    for target in path:
        before = order.status
        if can_transition(before, target):
            order.transition(target)
            assert order.status is target
        else:
            with pytest.raises(InvalidTransition):
                order.transition(target)
            assert order.status is before


def test_final_states_are_final_and_money_states_follow_paid() -> None:
    for state in FINAL:
        assert TRANSITIONS[state] == frozenset()
    assert can_transition(OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)
    assert not can_transition(OrderStatus.CREATED, OrderStatus.REFUNDED)
    # an expired order can only be paid, by crediting money held for review (credit_held)
    assert TRANSITIONS[OrderStatus.EXPIRED] == frozenset({OrderStatus.PAID})


def test_the_refusal_names_the_order_and_both_states() -> None:
    order = new_order()
    order.transition(OrderStatus.CANCELLED)
    with pytest.raises(InvalidTransition, match="order BF1 is cancelled; it cannot become paid"):
        order.transition(OrderStatus.PAID)


def test_expiry_is_judged_on_the_clock() -> None:
    order = new_order()
    assert not order.is_expired_at(NOW + timedelta(minutes=29))
    assert order.is_expired_at(NOW + timedelta(minutes=30))
