"""Page cursors: any position round-trips through its cursor; a cursor changed by one
character, signed with another key or used with another query is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.collection.listing import ListQuery, decode_cursor, encode_cursor, parse_query
from billfold.collection.lists import BILLS, PAYMENTS
from billfold.errors import BadCursor, BadQuery

KEY = b"k" * 32


@given(
    sort=st.sampled_from(["created", "-due_date", "bill_no", "-amount"]),
    row_id=st.integers(min_value=1, max_value=2**62),
    text=st.text(max_size=40),
    number=st.integers(min_value=-(2**62), max_value=2**62),
    when=st.datetimes(timezones=st.just(UTC)),
    day=st.dates(min_value=date(1, 1, 1)),
)
def test_every_position_round_trips(
    sort: str, row_id: int, text: str, number: int, when: datetime, day: date
) -> None:
    query = parse_query(BILLS, {"sort": sort, "status": "open"}, cursor_key=KEY)
    key = {"created": when, "due_date": day, "bill_no": text, "amount": number}[sort.lstrip("-")]
    cursor = encode_cursor(query, key, row_id, KEY)
    assert decode_cursor(cursor, query, KEY) == (key, row_id)


def test_a_changed_foreign_or_misused_cursor_is_refused() -> None:
    query = parse_query(BILLS, {}, cursor_key=KEY)
    cursor = encode_cursor(query, datetime(2026, 9, 1, tzinfo=UTC), 7, KEY)
    for n in range(len(cursor)):
        if cursor[n] == ".":
            continue
        changed = cursor[:n] + ("A" if cursor[n] != "A" else "B") + cursor[n + 1 :]
        with pytest.raises(BadCursor):
            decode_cursor(changed, query, KEY)
    with pytest.raises(BadCursor, match="damaged or not issued"):
        decode_cursor(cursor, query, b"other key")
    with pytest.raises(BadCursor, match="belongs to another list"):
        decode_cursor(cursor, parse_query(PAYMENTS, {}, cursor_key=KEY), KEY)
    with pytest.raises(BadCursor, match="belongs to another list"):
        decode_cursor(cursor, ListQuery(BILLS, biller_id=3), KEY)


def test_reserved_names_are_not_filters_and_unknown_ones_are_named() -> None:
    with pytest.raises(BadQuery, match="unknown filter 'Status' for bills"):
        parse_query(BILLS, {"Status": "open"}, cursor_key=KEY)
    with pytest.raises(BadQuery, match="filter overdue_days: 'ten' is not a whole number"):
        parse_query(BILLS, {"overdue_days": "ten"}, cursor_key=KEY)
    with pytest.raises(BadQuery, match="filter payer: a value is required"):
        parse_query(BILLS, {"payer": " "}, cursor_key=KEY)
