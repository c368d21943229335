"""Verifying the journal, and exporting a biller's chain for the biller to verify.

:func:`verify_journal` walks every chain (or one) in order, recomputing each entry's hash
and link (:func:`billfold.collection.chain.check_chain`), compares the end with the chain's
head, and recomputes every kept seal from the entries of its day. It reports the first break
of each chain: an entry altered, removed or inserted, or a seal the entries no longer give.

:func:`export_journal` writes a chain as JSON lines (docs/journal.md): a header, the
entries with their postings and hashes, and the kept seals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from billfold.clock import Clock
from billfold.collection.chain import (
    GENESIS,
    Break,
    BreakKind,
    ChainedEntry,
    Seal,
    check_chain,
    check_seal,
)
from billfold.collection.ports import JournalUnitOfWork
from billfold.errors import NotFound

__all__ = ["EXPORT_FORMAT", "ExportSummary", "Verification", "export_journal", "verify_journal"]

EXPORT_FORMAT = "billfold.journal"


@dataclass(slots=True)
class Verification:
    chains: int = 0
    entries: int = 0
    seals: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


class _Days:
    """Per business date, what a seal needs, gathered while the entries stream past."""

    def __init__(self, start: tuple[int, str]) -> None:
        self.start = start
        self.days: dict[date, tuple[int, int, str, dict[tuple[str, str], int]]] = {}

    def watch(self, entries: Iterable[ChainedEntry]) -> Iterator[ChainedEntry]:
        for entry in entries:
            count, _seq, _hash, totals = self.days.get(entry.business_date, (0, 0, "", {}))
            totals = defaultdict(int, totals)
            for p in entry.postings:
                totals[(p.account, p.currency)] += p.amount_fen
            self.days[entry.business_date] = (count + 1, entry.seq, entry.hash, dict(totals))
            yield entry

    def seal(self, chain: str, day: date) -> Seal:
        if day in self.days:
            count, seq, last, totals = self.days[day]
            rows = tuple((a, c, fen) for (a, c), fen in sorted(totals.items()))
            return Seal(chain, day, count, seq, last, rows)
        before = [d for d in self.days if d < day]
        seq, last = self.start
        if before:
            _count, seq, last, _totals = self.days[max(before)]
        return Seal(chain, day, 0, seq, last)


def verify_journal(
    uow: JournalUnitOfWork, *, chain: str | None = None, from_day: date | None = None
) -> Verification:
    """Recompute the chains and seals (one chain if given; from ``from_day`` on if given)."""
    report = Verification()
    with uow:
        heads = [h for h in uow.chains.heads() if chain is None or h.chain == chain]
        if chain is not None and not heads:
            raise NotFound(f"biller {chain!r} has no journal")
        for stray in uow.chains.chains_without_head():
            if chain is None or stray == chain:
                first = next(uow.chains.entries(stray), None)
                report.breaks.append(
                    Break(
                        stray,
                        BreakKind.INSERTED,
                        f"{stray} #{first.seq if first else '?'} (entry "
                        f"{first.id if first else '?'}) inserted: no such chain",
                        first.id if first else None,
                    )
                )
        for head in heads:
            report.chains += 1
            start = (0, GENESIS)
            if from_day is not None:
                start = uow.chains.state_before(head.chain, from_day)
            days = _Days(start)
            entries = days.watch(uow.chains.entries(head.chain, from_day=from_day))
            count, broken = check_chain(
                head.chain, entries, start_seq=start[0], start_hash=start[1], head=head
            )
            report.entries += count
            if broken is not None:
                report.breaks.append(broken)
                continue
            for kept in uow.chains.seals(head.chain, from_day=from_day):
                report.seals += 1
                mismatch = check_seal(kept, days.seal(head.chain, kept.business_date))
                if mismatch is not None:
                    report.breaks.append(mismatch)
                    break
    return report


@dataclass(frozen=True, slots=True)
class ExportSummary:
    entries: int
    seals: int


def export_journal(
    uow: JournalUnitOfWork,
    clock: Clock,
    chain: str,
    write: Callable[[dict[str, Any]], None],
    *,
    from_day: date | None = None,
) -> ExportSummary:
    """Hand ``write`` the export's lines, one JSON object each, in order."""
    with uow:
        head = uow.chains.head(chain)
        if head is None:
            raise NotFound(f"biller {chain!r} has no journal")
        start = (0, GENESIS) if from_day is None else uow.chains.state_before(chain, from_day)
        write(
            {
                "type": "header",
                "format": EXPORT_FORMAT,
                "version": 1,
                "chain": chain,
                "from": from_day.isoformat() if from_day else None,
                "start_seq": start[0],
                "start_hash": start[1],
                "exported_at": clock.now().isoformat(),
            }
        )
        entries = 0
        for entry in uow.chains.entries(chain, from_day=from_day):
            write({"type": "entry", **entry.as_json()})
            entries += 1
        seals = uow.chains.seals(chain, from_day=from_day)
        for seal in seals:
            write({"type": "seal", **seal.as_json()})
    return ExportSummary(entries, len(seals))
