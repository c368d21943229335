from __future__ import annotations

import pytest

from billfold.adapters.outbox.endpoints import event_type_matches, parse_event_types
from billfold.errors import InvalidInput


@pytest.mark.parametrize(
    ("given", "patterns"),
    [
        ("*", ("*",)),
        ("payment.*, bill.paid", ("payment.*", "bill.paid")),
        (["bill.paid", "bill.paid", "refund.created"], ("bill.paid", "refund.created")),
        ("bill.paid,*", ("*",)),
    ],
)
def test_event_type_lists_are_normalised(given: str | list[str], patterns: tuple[str]) -> None:
    assert parse_event_types(given) == patterns


@pytest.mark.parametrize("bad", ["Payment.Confirmed", "payment.", "*.paid", "pay ment", "a.*.b"])
def test_malformed_event_type_patterns_are_refused_by_name(bad: str) -> None:
    with pytest.raises(InvalidInput, match=r"event_types: .* is not an event type pattern"):
        parse_event_types(bad)


@pytest.mark.parametrize("empty", ["", " , ", []])
def test_an_empty_event_type_list_is_refused(empty: str | list[str]) -> None:
    with pytest.raises(InvalidInput, match="give at least one event type, or '\\*' for all"):
        parse_event_types(empty)


@pytest.mark.parametrize(
    ("patterns", "event_type", "wanted"),
    [
        (("*",), "refund.created", True),
        (("payment.*",), "payment.confirmed", True),
        (("payment.*",), "payments.confirmed", False),
        (("payment.*",), "payment", False),
        (("bill.paid",), "bill.paid", True),
        (("bill.paid",), "bill.partially_paid", False),
        (("bill.paid", "refund.*"), "refund.succeeded", True),
    ],
)
def test_event_type_matching(patterns: tuple[str, ...], event_type: str, wanted: bool) -> None:
    assert event_type_matches(patterns, event_type) is wanted
