"""The scope of a channel run: which merchant's payments a statement is compared with.

A statement covers one merchant id of a channel, or — said in so many words — the whole
channel. The merchant id comes from the caller, or from the file when all its lines name one
that a biller is configured with. Without either, the run covers the whole channel only when
that cannot mix billers up: when one biller (or billers under one merchant id) takes the
channel. Otherwise the run is refused: compared with every biller's payments, a statement of
one biller reports each other biller's payment as 短款 (engine only), and reversing those
would undo real payments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from billfold.clock import DEFAULT_TZ
from billfold.errors import InvalidInput
from billfold.settlement.ports import ReconRepository

__all__ = ["Scope", "run_scope"]


@dataclass(frozen=True, slots=True)
class Scope:
    merchant: str  # '' = every merchant of the channel
    timezone: str


def run_scope(
    recon: ReconRepository,
    channel: str,
    day: date,
    given: str | None,
    named: list[str],
    paying: Sequence[int] | None = None,
) -> Scope:
    """The run's scope; refuses a merchant id no biller has, and an ambiguous scope.
    ``named``: distinct merchant ids the statement's lines name (up to three); ``paying``:
    the billers with a payment on the channel that day, if already known."""
    merchant = _merchant(recon, channel, day, given, named, paying)
    zones = (
        sorted({tz for _, tz in recon.merchant_billers(channel, merchant)})
        if merchant
        else recon.timezones()
    )
    return Scope(merchant, zones[0] if len(zones) == 1 else DEFAULT_TZ)


def _merchant(
    recon: ReconRepository,
    channel: str,
    day: date,
    given: str | None,
    named: list[str],
    paying: Sequence[int] | None,
) -> str:
    if given is not None:
        if given and not recon.merchant_billers(channel, given):
            raise InvalidInput(
                f"merchant: no biller takes {channel} under merchant id {given!r}; "
                "set it in the biller's channel configuration"
            )
        return given
    if len(named) == 1 and recon.merchant_billers(channel, named[0]):
        return named[0]
    billers = recon.channel_billers(channel, day, paying)
    merchants = sorted({m for _, m in billers})
    if len({b for b, _ in billers}) > 1 and (len(merchants) > 1 or merchants == [""]):
        raise InvalidInput(_ambiguous(channel, named, len({b for b, _ in billers}), merchants))
    return ""


def _ambiguous(channel: str, named: list[str], billers: int, merchants: list[str]) -> str:
    if len(named) == 1:
        said = f"names merchant id {named[0]!r}, which no biller takes {channel} under"
    elif named:
        said = "names several merchant ids"
    else:
        said = "names no merchant id"
    known = ", ".join(repr(m) for m in merchants if m) or "none configured"
    return (
        f"merchant: 对账范围不明确 (ambiguous scope): the statement {said} and {billers} "
        f"billers take {channel} (merchant ids: {known}); say which merchant it covers "
        "(--merchant ID), or --merchant '' for the whole channel"
    )
