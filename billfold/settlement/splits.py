"""Split rules (分账): one net amount shared between several receiving accounts.

A biller's rules are taken in this order:

1. **fixed** parts, in the order given, each its amount or whatever is left if less;
2. **percent** parts (in basis points, 1% = 100 bps), each of the amount left after the
   fixed parts, rounded down to the fen;
3. the **rest** part, at most one, gets what is left after that.

Rounding down leaves a few fen over. The :class:`Remainder` rule says who gets them:
``rest`` (the rest part; the default when there is one), ``largest`` (the percent part
with the most basis points, the first one on a tie), ``first`` or ``last`` (percent part
in the order given). Without a rest part the percentages must add up to exactly 100%, so
the parts always sum to the whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from billfold.errors import InvalidInput, InvariantViolated

__all__ = [
    "Part",
    "Remainder",
    "SplitKind",
    "SplitRule",
    "rules_from_json",
    "rules_to_json",
    "split",
]

FULL = 10_000  # basis points in 100%


class SplitKind(StrEnum):
    FIXED = "fixed"  # value: fen
    PERCENT = "percent"  # value: basis points
    REST = "rest"  # value: unused (0)


class Remainder(StrEnum):
    REST = "rest"
    LARGEST = "largest"
    FIRST = "first"
    LAST = "last"


@dataclass(frozen=True, slots=True)
class SplitRule:
    account_no: str
    account_name: str
    bank_name: str
    kind: SplitKind
    value: int = 0
    memo: str = ""

    def __post_init__(self) -> None:
        if not self.account_no.strip() or not self.account_name.strip():
            raise InvalidInput("split: each part needs an account number and an account name")
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 0:
            raise InvalidInput(f"split: value must be a whole number >= 0, got {self.value!r}")
        if self.kind is SplitKind.PERCENT and not 0 < self.value <= FULL:
            raise InvalidInput(
                f"split: a percentage is 1-10000 basis points (0.01%-100%), got {self.value}"
            )
        if self.kind is SplitKind.FIXED and self.value == 0:
            raise InvalidInput("split: a fixed part must be more than 0.00")


@dataclass(frozen=True, slots=True)
class Part:
    rule: SplitRule
    amount_fen: int


def validate(rules: Sequence[SplitRule], remainder: Remainder) -> None:
    """Refuse rule sets that could not always add up to the whole."""
    if not rules:
        raise InvalidInput("split: at least one receiving account is needed")
    rests = [r for r in rules if r.kind is SplitKind.REST]
    percents = [r for r in rules if r.kind is SplitKind.PERCENT]
    if len(rests) > 1:
        raise InvalidInput("split: at most one part may take the rest")
    share = sum(r.value for r in percents)
    if share > FULL:
        raise InvalidInput(f"split: percentages add up to {share / 100:g}%, more than 100%")
    if not rests and share != FULL:
        raise InvalidInput(
            f"split: percentages add up to {share / 100:g}%; without a part taking the rest "
            "they must add up to 100%"
        )
    if remainder is Remainder.REST and not rests:
        raise InvalidInput("split: the remainder goes to the rest part, but there is none")
    if remainder is not Remainder.REST and not percents:
        raise InvalidInput(
            f"split: the remainder rule {remainder.value!r} needs a percent part; use 'rest'"
        )


def split(total_fen: int, rules: Sequence[SplitRule], remainder: Remainder) -> list[Part]:
    """Share ``total_fen`` by ``rules``; the parts (in rule order) sum to ``total_fen``."""
    if isinstance(total_fen, bool) or not isinstance(total_fen, int) or total_fen < 0:
        raise InvalidInput(f"split: the amount must be whole fen >= 0, got {total_fen!r}")
    validate(rules, remainder)
    amounts = [0] * len(rules)
    left = total_fen
    for i, rule in enumerate(rules):
        if rule.kind is SplitKind.FIXED:
            amounts[i] = min(rule.value, left)
            left -= amounts[i]
    base = left
    percent_at = [i for i, r in enumerate(rules) if r.kind is SplitKind.PERCENT]
    for i in percent_at:
        amounts[i] = base * rules[i].value // FULL
        left -= amounts[i]
    rest_at = [i for i, r in enumerate(rules) if r.kind is SplitKind.REST]
    share = sum(rules[i].value for i in percent_at)
    # What rounding left over; with a rest part, the rest's own share is left out of it.
    exact_rest = base * (FULL - share) // FULL if rest_at else 0
    crumbs = left - exact_rest
    if remainder is Remainder.REST:
        target = rest_at[0]
    elif remainder is Remainder.LARGEST:
        target = max(percent_at, key=lambda i: (rules[i].value, -i))
    elif remainder is Remainder.FIRST:
        target = percent_at[0]
    else:
        target = percent_at[-1]
    amounts[target] += crumbs
    left -= crumbs
    if rest_at:
        amounts[rest_at[0]] += left
        left = 0
    if not (left == 0 and sum(amounts) == total_fen):
        raise InvariantViolated("expected left == 0 and sum(amounts) == total_fen")
    return [Part(rule, amount) for rule, amount in zip(rules, amounts, strict=True)]


def rules_to_json(rules: Sequence[SplitRule]) -> str:
    return json.dumps(
        [
            {
                "account_no": r.account_no,
                "account_name": r.account_name,
                "bank_name": r.bank_name,
                "kind": r.kind.value,
                "value": r.value,
                "memo": r.memo,
            }
            for r in rules
        ],
        ensure_ascii=False,
    )


def rules_from_json(text: str) -> list[SplitRule]:
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"split: not JSON: {exc}") from None
    if not isinstance(raw, list):
        raise InvalidInput("split: expected a list of parts")
    rules: list[SplitRule] = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise InvalidInput(f"split: part {number} is not an object")
        try:
            kind = SplitKind(str(item.get("kind", "")))
        except ValueError:
            raise InvalidInput(
                f"split: part {number}: kind must be fixed, percent or rest, "
                f"got {item.get('kind')!r}"
            ) from None
        rules.append(
            SplitRule(
                account_no=str(item.get("account_no", "")),
                account_name=str(item.get("account_name", "")),
                bank_name=str(item.get("bank_name", "")),
                kind=kind,
                value=item.get("value", 0),
                memo=str(item.get("memo", "")),
            )
        )
    return rules
