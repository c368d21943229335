"""An office's fee catalogue: the amount of an item on a date is the entry in force then."""

from __future__ import annotations

from datetime import date

import pytest

from billfold.errors import InvalidInput, NotFound
from billfold.merchants.fee_catalogue import FeeItem, amount_on, current_items

CATALOGUE = [
    FeeItem("passport", "普通护照", 20_000, date(2019, 1, 1)),
    FeeItem("passport", "普通护照", 12_000, date(2026, 10, 1)),
    FeeItem("hukou-card", "户口簿工本费", 800, date(2020, 1, 1)),
]


@pytest.mark.parametrize(
    ("day", "amount_fen"),
    [
        (date(2019, 1, 1), 20_000),
        (date(2026, 9, 30), 20_000),
        (date(2026, 10, 1), 12_000),
        (date(2030, 1, 1), 12_000),
    ],
)
def test_the_entry_in_force_on_the_day_gives_the_amount(day: date, amount_fen: int) -> None:
    assert amount_on(CATALOGUE, "passport", day).amount_fen == amount_fen


def test_before_its_first_entry_an_item_does_not_exist() -> None:
    with pytest.raises(NotFound) as early:
        amount_on(CATALOGUE, "passport", date(2018, 12, 31))
    assert (
        early.value.message == "fee item 'passport' takes effect on 2019-01-01; not on 2018-12-31"
    )
    with pytest.raises(NotFound) as unknown:
        amount_on(CATALOGUE, "visa", date(2026, 9, 1))
    assert unknown.value.message == "fee item 'visa' is not in the catalogue"


def test_current_items_lists_each_item_once_at_its_amount_that_day() -> None:
    items = current_items(CATALOGUE, date(2026, 10, 1))
    assert [(i.item_code, i.amount_fen) for i in items] == [
        ("hukou-card", 800),
        ("passport", 12_000),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("Passport", "护照", 100),
            "item_code: 'Passport' must be 1-32 lower-case letters, digits, '-' or '_'",
        ),
        (("passport", " ", 100), "name: item passport needs a name of 1-200 characters"),
        (("passport", "护照", 0), "amount: item passport must cost more than 0.00, not 0.00"),
    ],
)
def test_bad_entries_are_refused_with_the_field(args: tuple[str, str, int], message: str) -> None:
    with pytest.raises(InvalidInput) as bad:
        FeeItem(*args, effective_from=date(2026, 1, 1))
    assert bad.value.message == message
