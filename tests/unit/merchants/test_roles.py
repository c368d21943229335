"""Roles are parsed from what people type and written back in one order: any set of roles
round-trips, case and spaces do not matter, an unknown or empty list is refused by name."""

from __future__ import annotations

from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.errors import InvalidInput
from billfold.merchants.roles import Role, format_roles, parse_roles


@given(st.sets(st.sampled_from(list(Role)), min_size=1), st.randoms())
def test_any_set_of_roles_round_trips_in_one_order(roles: set[Role], rnd: Random) -> None:
    names = [f"  {r.value.upper()} " for r in roles]
    rnd.shuffle(names)
    text = ",".join(names)
    assert parse_roles(text) == roles
    assert format_roles(roles) == ",".join(r.value for r in Role if r in roles)
    assert parse_roles(format_roles(roles)) == roles


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "roles: give at least one role"),
        (" , ", "roles: give at least one role"),
        ("bursar,boss", "roles: 'boss' is not a role; known: bursar, reconciler, supervisor"),
    ],
)
def test_unknown_or_missing_roles_are_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_roles(text)
    assert refused.value.message.startswith(message)
