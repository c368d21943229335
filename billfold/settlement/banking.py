"""The third leg: what each channel actually paid into the collection account.

Each reconciled channel statement promises a net for its business date (payments less
refunds less fees). The bank statement (camt.053 / MT940) shows the credits that arrived.
:func:`match_credits` pairs each credit with a promise; :func:`in_transit` lists the
promises no credit has settled yet (在途资金), with their age.

Which channel a credit comes from is read from the credit itself: a :class:`Route` is a
channel and a text to look for in the counterparty, the remittance information or the
references (``支付宝`` → alipay, ``财付通`` → wechatpay …). A date written in the
remittance information or the end-to-end reference (``20240130``, ``2024-01-30``) says
which business date the credit settles; without one, an exact amount decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from billfold.clock import business_date
from billfold.collection.journal import JournalEntry, Posting, clearing
from billfold.errors import InvalidInput
from billfold.money import format_yuan
from billfold.settlement.discrepancy import BANK, CHANNEL_FEES, Code, Discrepancy
from billfold.settlement.statement import Direction, LineStatus, LineType, StatementLine

__all__ = [
    "AGE_BUCKETS",
    "DEFAULT_ROUTES",
    "BankMatch",
    "InTransit",
    "MatchStatus",
    "Promise",
    "Route",
    "age_bucket",
    "date_hint",
    "in_transit",
    "match_credits",
    "parse_route",
    "route_of",
    "settlement_entry",
]


@dataclass(frozen=True, slots=True)
class Route:
    channel: str
    pattern: str


#: Who pays the collection account for which channel, as Chinese banks print it.
DEFAULT_ROUTES: tuple[Route, ...] = (
    Route("alipay", "支付宝"),
    Route("alipay", "ALIPAY"),
    Route("wechatpay", "财付通"),
    Route("wechatpay", "TENPAY"),
    Route("wechatpay", "微信"),
    Route("wechatpay", "WECHAT"),
    Route("unionpay", "银联"),
    Route("unionpay", "UNIONPAY"),
)


def parse_route(text: str) -> Route:
    """``"alipay=支付宝"`` → ``Route("alipay", "支付宝")``."""
    channel, sep, pattern = text.partition("=")
    if not sep or not channel.strip() or not pattern.strip():
        raise InvalidInput(f"route: {text!r} is not CHANNEL=TEXT (e.g. alipay=支付宝)")
    return Route(channel.strip(), pattern.strip())


def route_of(line: StatementLine, routes: Sequence[Route]) -> str | None:
    """The channel a bank line comes from, by the first route whose text it contains."""
    haystack = " ".join(
        part
        for part in (line.counterparty, line.description, line.order_no, line.channel_txn_id)
        if part
    ).upper()
    for route in routes:
        if route.pattern.upper() in haystack:
            return route.channel
    return None


_DATE = re.compile(r"(?<!\d)(20\d{2})-?(\d{2})-?(\d{2})(?!\d)")


def date_hint(line: StatementLine) -> date | None:
    """The business date a credit says it settles, if its references name one."""
    for text in (line.order_no, line.description):
        for match in _DATE.finditer(text or ""):
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                continue
    return None


@dataclass(frozen=True, slots=True)
class Promise:
    """A reconciled channel statement's promise: ``net_fen`` for ``business_date``."""

    run_id: int
    channel: str
    merchant_id: str
    business_date: date
    net_fen: int
    fee_fen: int


class MatchStatus(StrEnum):
    SETTLED = "settled"
    MISMATCH = "mismatch"
    UNEXPLAINED = "unexplained"


@dataclass(frozen=True, slots=True)
class BankMatch:
    line: StatementLine
    status: MatchStatus
    channel: str | None = None
    promise: Promise | None = None


def _is_credit(line: StatementLine) -> bool:
    return (
        line.type is LineType.SETTLEMENT
        and line.direction is Direction.CREDIT
        and line.status is LineStatus.SUCCESS
    )


def match_credits(
    lines: Iterable[StatementLine],
    promises: Sequence[Promise],
    routes: Sequence[Route],
    *,
    tz: str,
) -> tuple[list[BankMatch], list[Discrepancy]]:
    """Pair each booked credit with the promise it settles; each promise is used once.

    A credit routed to a channel settles the oldest of that channel's open promises of the
    same amount (or the one of the date it names). One that names a date, or finds a single
    open promise, but differs in amount is a settlement mismatch; anything else is an
    unexplained credit. Debits and pending entries are not this leg's business.
    """
    used: set[int] = set()
    matches: list[BankMatch] = []
    found: list[Discrepancy] = []
    ordered = sorted(promises, key=lambda p: (p.business_date, p.run_id))
    for line in lines:
        if not _is_credit(line):
            continue
        channel = route_of(line, routes) if line.currency == "CNY" else None
        booked = business_date(line.occurred_at, tz)
        open_ = [
            p
            for p in ordered
            if p.channel == channel and p.run_id not in used and p.business_date <= booked
        ]
        target = _promise_for(line, open_)
        if channel is None or target is None:
            matches.append(BankMatch(line, MatchStatus.UNEXPLAINED, channel))
            found.append(_unexplained(line, channel, open_))
            continue
        used.add(target.run_id)
        if target.net_fen == line.amount_fen:
            matches.append(BankMatch(line, MatchStatus.SETTLED, channel, target))
            continue
        matches.append(BankMatch(line, MatchStatus.MISMATCH, channel, target))
        found.append(_mismatch(line, channel, target))
    return matches, found


def _promise_for(line: StatementLine, open_: list[Promise]) -> Promise | None:
    """The open promise a credit settles: of the date it names (or any), the same amount
    first; a different amount only for a named date or a single open promise."""
    hint = date_hint(line)
    named = [p for p in open_ if p.business_date == hint] if hint else open_
    exact = [p for p in named if p.net_fen == line.amount_fen]
    return exact[0] if exact else named[0] if (hint and named) or len(open_) == 1 else None


def _mismatch(line: StatementLine, channel: str, target: Promise) -> Discrepancy:
    return Discrepancy(
        Code.SETTLEMENT_MISMATCH,
        f"{channel} paid in {format_yuan(line.amount_fen)}; its statement for "
        f"{target.business_date} promised {format_yuan(target.net_fen)}",
        channel,
        source_file=line.source_file,
        source_line=line.source_line,
        channel_txn_id=line.channel_txn_id,
        order_no=line.order_no,
        line_amount_fen=line.amount_fen,
        engine_amount_fen=target.net_fen,
        difference_fen=line.amount_fen - target.net_fen,
        line_status=line.status.value,
        currency=line.currency,
        occurred_at=line.occurred_at,
        counterparty=line.counterparty,
    )


def _unexplained(line: StatementLine, channel: str | None, open_: list[Promise]) -> Discrepancy:
    if channel is None:
        why = "no route names its payer; add one (CHANNEL=TEXT)"
    elif not open_:
        why = f"{channel} has no reconciled statement waiting to be settled"
    else:
        waiting = ", ".join(f"{p.business_date} {format_yuan(p.net_fen)}" for p in open_[:5])
        why = f"none of {channel}'s open statements has this amount ({waiting})"
    return Discrepancy(
        Code.UNEXPLAINED_CREDIT,
        f"a credit of {format_yuan(line.amount_fen)} {line.currency} from "
        f"{line.counterparty or 'an unnamed payer'}: {why}",
        channel or "bank",
        source_file=line.source_file,
        source_line=line.source_line,
        channel_txn_id=line.channel_txn_id,
        order_no=line.order_no,
        line_amount_fen=line.amount_fen,
        difference_fen=line.amount_fen,
        line_status=line.status.value,
        currency=line.currency,
        occurred_at=line.occurred_at,
        counterparty=line.counterparty,
    )


def settlement_entry(match: BankMatch) -> JournalEntry | None:
    """The money a channel paid in: Dr bank, Dr channel fees, Cr the channel's clearing."""
    if match.promise is None or match.channel is None:
        return None
    received = match.line.amount_fen
    fees = match.promise.fee_fen
    return JournalEntry.build(
        "channel_settlement",
        [
            Posting(BANK, received),
            Posting(CHANNEL_FEES, fees),
            Posting(clearing(match.channel), -(received + fees)),
        ],
        memo=f"{match.channel} settles {match.promise.business_date}: {match.line.channel_txn_id}",
    )


#: Age buckets of money in transit, by whole days since the business date.
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-1 days", 0, 1),
    ("2-3 days", 2, 3),
    ("4-7 days", 4, 7),
    ("over 7 days", 8, None),
)


def age_bucket(days: int) -> str:
    for name, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return AGE_BUCKETS[0][0]


@dataclass(frozen=True, slots=True)
class InTransit:
    """Money a channel's statement promised that has not reached the bank yet."""

    channel: str
    merchant_id: str
    business_date: date
    net_fen: int
    age_days: int
    run_id: int

    @property
    def bucket(self) -> str:
        return age_bucket(self.age_days)


def in_transit(open_promises: Iterable[Promise], as_of: date) -> list[InTransit]:
    """The unsettled promises up to ``as_of``, oldest first, with their age in days."""
    return [
        InTransit(
            p.channel,
            p.merchant_id,
            p.business_date,
            p.net_fen,
            (as_of - p.business_date).days,
            p.run_id,
        )
        for p in sorted(open_promises, key=lambda p: (p.channel, p.business_date, p.run_id))
        if p.business_date <= as_of and p.net_fen != 0
    ]
