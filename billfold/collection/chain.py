"""The journal's hash chain: canonical form, entry hashes, chain checks and daily seals.

Every journal entry belongs to one *chain*: its biller's (named by the biller's code) or,
for an entry no biller owns (a write-off, a bank settlement of no biller), the system chain
:data:`SYSTEM_CHAIN`. Within a chain entries are numbered 1, 2, 3 … (``seq``) and each
carries the hash of its predecessor (``prev_hash``; the first one :data:`GENESIS`) and its
own hash, SHA-256 over its canonical form:

    hex(SHA-256(UTF-8(JCS(object))))

where JCS is the JSON Canonicalization Scheme (RFC 8785) and ``object`` is::

    {"v": 1, "chain": str, "seq": int, "id": int, "prev_hash": str,
     "kind": str, "memo": str, "payment_id": int | null, "refund_id": int | null,
     "business_date": "YYYY-MM-DD", "occurred_at": "YYYY-MM-DDTHH:MM:SS.ffffffZ",
     "postings": [{"account": str, "amount_fen": int, "currency": str,
                   "bill_id": int | null}, ...]}

with the postings in the order they were written. For this data (ASCII keys, strings,
integers below 2**53, null) RFC 8785 is exactly Python's
``json.dumps(object, ensure_ascii=False, sort_keys=True, separators=(",", ":"))``.

A *seal* closes one chain's business day: its last entry and hash, its entry count and the
day's totals per (account, currency). Seals are kept, and sent to the biller, who can later
prove the day's entries are the ones it was told about (docs/journal.md).

Everything here is pure: values in, values out.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from json.encoder import encode_basestring
from typing import Any

from billfold.clock import ensure_utc
from billfold.collection.journal import JournalEntry

__all__ = [
    "CANONICAL_VERSION",
    "GENESIS",
    "SYSTEM_CHAIN",
    "Break",
    "BreakKind",
    "ChainHead",
    "ChainPosting",
    "ChainedEntry",
    "Seal",
    "biller_of_postings",
    "canonical",
    "chain_entries",
    "check_chain",
    "check_seal",
    "entry_hash",
    "escrow_project_of_postings",
    "make_seal",
]

CANONICAL_VERSION = 1
GENESIS = "0" * 64
#: The chain of entries that belong to no biller ('@' never appears in a biller's code).
SYSTEM_CHAIN = "@system"

_ESCROW_PREFIXES = ("escrow:", "escrow_buyers:", "escrow_held:")


def _jcs(value: Any) -> bytes:
    """RFC 8785 for objects of strings, integers, null and arrays (see the module doc)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _instant(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``, always six decimals."""
    return ensure_utc(value).astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


_ENTRY = (
    '{"business_date":%s,"chain":%s,"id":%d,"kind":%s,"memo":%s,"occurred_at":%s,'
    '"payment_id":%s,"postings":[%s],"prev_hash":%s,"refund_id":%s,"seq":%d,"v":%d}'
)
_POSTING = '{"account":%s,"amount_fen":%d,"bill_id":%s,"currency":%s}'


def _int_or_null(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _canonical_entry(
    chain: str,
    seq: int,
    entry_id: int,
    prev_hash: str,
    kind: str,
    memo: str,
    payment_id: int | None,
    refund_id: int | None,
    day: str,
    at: str,
    postings: Iterable[ChainPosting],
) -> bytes:
    """RFC 8785 of :func:`_content`'s object, written out directly (keys in sorted order;
    strings escaped by the json module's own encoder): the confirm path hashes every entry,
    and this is several times faster than ``json.dumps(..., sort_keys=True)``, whose output
    it equals (a property test holds them together)."""
    q = encode_basestring
    lines = ",".join(
        _POSTING % (q(p.account), p.amount_fen, _int_or_null(p.bill_id), q(p.currency))
        for p in postings
    )
    return (
        _ENTRY
        % (
            q(day), q(chain), entry_id, q(kind), q(memo), q(at), _int_or_null(payment_id),
            lines, q(prev_hash), _int_or_null(refund_id), seq, CANONICAL_VERSION,
        )
    ).encode()  # fmt: skip


def _content(
    chain: str,
    seq: int,
    entry_id: int,
    prev_hash: str,
    kind: str,
    memo: str,
    payment_id: int | None,
    refund_id: int | None,
    day: str,
    at: str,
    postings: Iterable[ChainPosting],
) -> dict[str, Any]:
    """The object whose canonical form is an entry's hash (the one definition of it)."""
    return {
        "v": CANONICAL_VERSION,
        "chain": chain,
        "seq": seq,
        "id": entry_id,
        "prev_hash": prev_hash,
        "kind": kind,
        "memo": memo,
        "payment_id": payment_id,
        "refund_id": refund_id,
        "business_date": day,
        "occurred_at": at,
        "postings": [
            {"account": p.account, "amount_fen": p.amount_fen, "currency": p.currency,
             "bill_id": p.bill_id}
            for p in postings
        ],
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChainPosting:
    account: str
    amount_fen: int
    currency: str
    bill_id: int | None = None


@dataclass(frozen=True, slots=True)
class ChainedEntry:
    """A journal entry as its chain sees it: content, place in the chain, hashes."""

    id: int
    chain: str
    seq: int
    kind: str
    memo: str
    payment_id: int | None
    refund_id: int | None
    business_date: date
    occurred_at: datetime
    postings: tuple[ChainPosting, ...]
    prev_hash: str
    hash: str = ""

    def content(self) -> dict[str, Any]:
        """The object whose canonical form is hashed (``hash`` itself excluded)."""
        return _content(
            self.chain,
            self.seq,
            self.id,
            self.prev_hash,
            self.kind,
            self.memo,
            self.payment_id,
            self.refund_id,
            self.business_date.isoformat(),
            _instant(self.occurred_at),
            self.postings,
        )

    def as_json(self) -> dict[str, Any]:
        """The entry as an export line carries it: its content and its hash."""
        return {**self.content(), "hash": self.hash}


def canonical(entry: ChainedEntry) -> bytes:
    return _canonical_entry(
        entry.chain,
        entry.seq,
        entry.id,
        entry.prev_hash,
        entry.kind,
        entry.memo,
        entry.payment_id,
        entry.refund_id,
        entry.business_date.isoformat(),
        _instant(entry.occurred_at),
        entry.postings,
    )


def entry_hash(entry: ChainedEntry) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a chain stands: its last number and hash, the business date of its last entry
    and the last day sealed (no entry may be dated on or before it any more)."""

    chain: str
    seq: int = 0
    last_hash: str = GENESIS
    last_date: date | None = None
    sealed_through: date | None = None

    def next_date(self, today: date) -> date:
        """The business date the next entry gets: today in the biller's timezone, but never
        before the chain's last entry nor on a sealed day, so dates never go backwards."""
        day = today
        if self.last_date is not None and self.last_date > day:
            day = self.last_date
        if self.sealed_through is not None and self.sealed_through >= day:
            day = date.fromordinal(self.sealed_through.toordinal() + 1)
        return day


def chain_entries(
    head: ChainHead,
    entries: Sequence[tuple[int, JournalEntry, tuple[ChainPosting, ...]]],
    *,
    day: date,
    occurred_at: datetime,
    payment_id: int | None,
    refund_id: int | None,
) -> tuple[list[ChainedEntry], ChainHead]:
    """Chain ``entries`` (each with its id and postings as written) after ``head``."""
    out: list[ChainedEntry] = []
    seq, prev = head.seq, head.last_hash
    day_text, at = day.isoformat(), _instant(occurred_at)
    for entry_id, entry, postings in entries:
        seq += 1
        memo = entry.memo[:200]
        text = _canonical_entry(
            head.chain, seq, entry_id, prev, entry.kind, memo, payment_id, refund_id, day_text,
            at, postings,
        )  # fmt: skip
        digest = hashlib.sha256(text).hexdigest()
        out.append(
            ChainedEntry(
                entry_id, head.chain, seq, entry.kind, memo, payment_id, refund_id, day,
                occurred_at, postings, prev, digest,
            )
        )  # fmt: skip
        prev = digest
    moved = ChainHead(head.chain, seq, prev, day, head.sealed_through)
    return out, moved


def biller_of_postings(accounts: Iterable[str]) -> str | None:
    """The biller code of the first ``payable:<code>`` account, if any."""
    for account in accounts:
        if account.startswith("payable:"):
            return account.split(":", 1)[1]
    return None


def escrow_project_of_postings(accounts: Iterable[str]) -> str | None:
    """The presale project (bureau code) of the first escrow account, if any."""
    for account in accounts:
        if account.startswith(_ESCROW_PREFIXES):
            return account.split(":", 1)[1]
    return None


# -- checking a chain -------------------------------------------------------------------------
class BreakKind(StrEnum):
    ALTERED = "altered"  # an entry's content no longer gives its hash
    REMOVED = "removed"  # a number is missing, or the successor's link does not match
    INSERTED = "inserted"  # an entry the chain head (or a seal) does not account for
    SEAL = "seal"  # a seal that the entries no longer give


@dataclass(frozen=True, slots=True)
class Break:
    chain: str
    kind: BreakKind
    message: str
    entry_id: int | None = None
    seq: int | None = None


def check_chain(
    chain: str,
    entries: Iterable[ChainedEntry],
    *,
    start_seq: int = 0,
    start_hash: str | None = GENESIS,
    head: ChainHead | None = None,
) -> tuple[int, Break | None]:
    """Walk ``entries`` (in ``seq`` order) from after ``start_seq`` whose hash is
    ``start_hash`` (``None``: take the first entry's link on trust, as when checking from a
    date on). Returns how many entries were checked and the first break, if any."""
    count, seq, prev = 0, start_seq, start_hash
    for entry in entries:
        count += 1
        where = f"{chain} #{entry.seq} (entry {entry.id})"
        if head is not None and entry.seq > head.seq:
            return count, Break(
                chain,
                BreakKind.INSERTED,
                f"{where} inserted: the chain head ends at #{head.seq}",
                entry.id,
                entry.seq,
            )
        if entry.seq != seq + 1:
            gone = f"#{seq + 1}" if entry.seq == seq + 2 else f"#{seq + 1}..#{entry.seq - 1}"
            return count, Break(
                chain,
                BreakKind.REMOVED,
                f"{chain} {gone} removed: the chain goes from #{seq} to {where}",
                entry.id,
                seq + 1,
            )
        if prev is not None and entry.prev_hash != prev:
            return count, Break(
                chain,
                BreakKind.ALTERED,
                f"{where}: its link does not match #{seq} (an entry was altered or replaced)",
                entry.id,
                entry.seq,
            )
        if entry_hash(entry) != entry.hash:
            return count, Break(
                chain,
                BreakKind.ALTERED,
                f"{where} altered: its content does not give its hash",
                entry.id,
                entry.seq,
            )
        seq, prev = entry.seq, entry.hash
    if head is not None and seq < head.seq:
        gone = f"#{head.seq}" if seq + 1 == head.seq else f"#{seq + 1}..#{head.seq}"
        return count, Break(
            chain,
            BreakKind.REMOVED,
            f"{chain} {gone} removed: the chain head is at #{head.seq}",
            None,
            seq + 1,
        )
    if head is not None and prev is not None and seq == head.seq and prev != head.last_hash:
        return count, Break(
            chain,
            BreakKind.ALTERED,
            f"{chain} #{seq}: its hash is not the one the chain head recorded",
            None,
            seq,
        )
    return count, None


# -- seals ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Seal:
    """One chain's business day, closed: its entries' count, last number and hash (the
    chain's state at the end of the day when it had none) and totals per account and
    currency (debit positive)."""

    chain: str
    business_date: date
    entry_count: int
    last_seq: int
    last_hash: str
    totals: tuple[tuple[str, str, int], ...] = field(default=())

    def content(self) -> dict[str, Any]:
        return {
            "v": CANONICAL_VERSION,
            "chain": self.chain,
            "business_date": self.business_date.isoformat(),
            "entry_count": self.entry_count,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "totals": [
                {"account": a, "currency": c, "amount_fen": fen} for a, c, fen in self.totals
            ],
        }

    @property
    def digest(self) -> str:
        """SHA-256 of the seal's canonical form (RFC 8785, as for entries)."""
        return hashlib.sha256(_jcs(self.content())).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {**self.content(), "digest": self.digest}


def make_seal(
    chain: str, day: date, entries: Iterable[ChainedEntry], before: tuple[int, str]
) -> Seal:
    """The seal of ``day`` from its entries (in order); ``before`` is the chain's (seq,
    hash) at the start of the day."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    count, (seq, last) = 0, before
    for entry in entries:
        count += 1
        seq, last = entry.seq, entry.hash
        for p in entry.postings:
            totals[(p.account, p.currency)] += p.amount_fen
    rows = tuple((a, c, fen) for (a, c), fen in sorted(totals.items()))
    return Seal(chain, day, count, seq, last, rows)


def check_seal(kept: Seal, recomputed: Seal) -> Break | None:
    """Whether a kept seal still matches what the entries give; names what differs."""
    if kept == recomputed:
        return None
    what = [
        name
        for name in ("entry_count", "last_seq", "last_hash", "totals")
        if getattr(kept, name) != getattr(recomputed, name)
    ]
    return Break(
        kept.chain,
        BreakKind.SEAL,
        f"seal {kept.chain} {kept.business_date}: the entries no longer give its "
        f"{', '.join(what)} (sealed {kept.entry_count} entries to #{kept.last_seq}, "
        f"found {recomputed.entry_count} to #{recomputed.last_seq})",
        None,
        kept.last_seq,
    )


def by_day(entries: Iterable[ChainedEntry]) -> Iterator[tuple[date, list[ChainedEntry]]]:
    """Consecutive entries grouped by business date."""
    day: date | None = None
    group: list[ChainedEntry] = []
    for entry in entries:
        if day is not None and entry.business_date != day:
            yield day, group
            group = []
        day = entry.business_date
        group.append(entry)
    if day is not None:
        yield day, group
