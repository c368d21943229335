"""A government office's fee catalogue (收费目录): standard fee items and the dates from
which each amount applies.

An item's amount on a date is the entry with the latest ``effective_from`` on or before that
date; before its first entry the item does not exist yet. Pure values and functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from billfold.errors import InvalidInput, NotFound
from billfold.money import format_yuan

__all__ = ["FeeItem", "amount_on", "current_items", "validate_item_code"]

_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def validate_item_code(code: str) -> str:
    if not _CODE.fullmatch(code):
        raise InvalidInput(
            f"item_code: {code[:40]!r} must be 1-32 lower-case letters, digits, '-' or '_'"
        )
    return code


@dataclass(frozen=True, slots=True)
class FeeItem:
    """One catalogue entry: ``item_code`` costs ``amount_fen`` from ``effective_from`` on."""

    item_code: str
    name: str
    amount_fen: int
    effective_from: date

    def __post_init__(self) -> None:
        validate_item_code(self.item_code)
        if not self.name.strip() or len(self.name) > 200:
            raise InvalidInput(f"name: item {self.item_code} needs a name of 1-200 characters")
        if self.amount_fen <= 0:
            raise InvalidInput(
                f"amount: item {self.item_code} must cost more than 0.00, "
                f"not {format_yuan(self.amount_fen)}"
            )


def amount_on(entries: Iterable[FeeItem], item_code: str, day: date) -> FeeItem:
    """The entry of ``item_code`` in force on ``day``."""
    mine = [e for e in entries if e.item_code == item_code]
    if not mine:
        raise NotFound(f"fee item {item_code!r} is not in the catalogue")
    valid = [e for e in mine if e.effective_from <= day]
    if not valid:
        first = min(e.effective_from for e in mine)
        raise NotFound(f"fee item {item_code!r} takes effect on {first}; not on {day}")
    return max(valid, key=lambda e: e.effective_from)


def current_items(entries: Iterable[FeeItem], day: date) -> list[FeeItem]:
    """Every item in force on ``day``, by item code."""
    listed = list(entries)
    codes = sorted({e.item_code for e in listed if e.effective_from <= day})
    return [amount_on(listed, code, day) for code in codes]
