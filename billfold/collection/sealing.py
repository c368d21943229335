"""Sealing a chain's business day: the day's last hash, count and totals, kept and sent.

:func:`seal_day` closes one chain's day once it is over in the biller's timezone: it locks
the chain's head (so no entry of that day is still being written), computes the seal from
the day's entries (:func:`billfold.collection.chain.make_seal`), keeps it, marks the day
sealed on the head (later entries are dated after it) and puts a ``journal.sealed`` event
in the outbox for the biller — delivered and signed like every webhook. Sealing a day
again returns the kept seal and sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from billfold.clock import DEFAULT_TZ, Clock, business_date
from billfold.collection.chain import SYSTEM_CHAIN, Seal, make_seal
from billfold.collection.ports import JournalUnitOfWork
from billfold.errors import InvalidInput, NotFound

__all__ = ["SEALED_EVENT", "SealResult", "chains_to_seal", "seal_day", "yesterday"]

SEALED_EVENT = "journal.sealed"


@dataclass(frozen=True, slots=True)
class SealResult:
    seal: Seal
    created: bool  # False: the day was sealed before, nothing new was kept or sent
    event_id: str | None  # the journal.sealed event (None for the system chain)


def seal_day(uow: JournalUnitOfWork, clock: Clock, chain: str, day: date) -> SealResult:
    """Seal ``chain``'s ``day`` (idempotent)."""
    now = clock.now()
    with uow:
        head = uow.chains.head(chain, lock=True)
        if head is None:
            raise NotFound(f"biller {chain!r} has no journal")
        kept = uow.chains.seal(chain, day)
        if kept is not None:
            return SealResult(kept[0], created=False, event_id=kept[1])
        owner = uow.chains.biller(chain)
        zone = owner[1] if owner is not None else DEFAULT_TZ
        today = business_date(now, zone)
        if day >= today:
            raise InvalidInput(f"date: {day} is not over yet in {zone} (today is {today})")
        entries = uow.chains.entries(chain, day=day)
        seal = make_seal(chain, day, entries, uow.chains.state_before(chain, day))
        event_id = None
        if owner is not None:
            payload = {**seal.as_json(), "biller": chain, "sealed_at": now.isoformat()}
            event_id = uow.outbox.add(SEALED_EVENT, owner[0], payload, now)
        uow.chains.add_seal(seal, owner[0] if owner else None, event_id, now)
        uow.chains.seal_through(chain, day)
        uow.commit()
        return SealResult(seal, created=True, event_id=event_id)


def yesterday(uow: JournalUnitOfWork, clock: Clock, chain: str) -> date:
    """The last business day that is over for ``chain``'s biller."""
    with uow:
        owner = uow.chains.biller(chain)
    zone = owner[1] if owner is not None else DEFAULT_TZ
    return business_date(clock.now(), zone) - timedelta(days=1)


def chains_to_seal(uow: JournalUnitOfWork, biller: str | None) -> list[str]:
    """``biller``'s chain, or every chain that has entries (the system chain last)."""
    with uow:
        heads = uow.chains.heads()
    if biller is not None:
        if not any(h.chain == biller for h in heads):
            raise NotFound(f"biller {biller!r} has no journal")
        return [biller]
    found = [h.chain for h in heads if h.seq > 0]
    return sorted(found, key=lambda c: (c == SYSTEM_CHAIN, c))
