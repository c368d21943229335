"""The journal's hash chain in the database: appending entries to a chain, and reading
chains, heads and seals back (billfold.collection.chain says what the hashes are).

Appending takes one statement to lock and read the chain's head *and* reserve the new
entries' ids (on PostgreSQL ``SELECT … FOR UPDATE OF h`` with ``nextval`` of the entries'
sequence; on SQLite, whose write transactions run one at a time, ``max(id)``), then, on
PostgreSQL, one statement that moves the head and writes the entries with their hashes and
their postings (a data-modifying ``WITH``, built once per shape: a round trip costs more
than the statement); on SQLite one executemany of the entries and one of the postings,
while two triggers (migration 0012) refuse an entry that does not continue its chain's
head and move the head along — there a statement sent from Python costs more than a
trigger run inside the database. Entries are
therefore written once, complete — the journal is append-only. Each chain has its own head
row, so two billers never wait for each other; the system chain (``@system``) holds what
belongs to no biller.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select, text

from billfold.adapters.db import schema as t
from billfold.adapters.db.fastpath import as_date, as_utc, run_read, run_write
from billfold.adapters.db.schema import chain as c
from billfold.clock import DEFAULT_TZ, business_date
from billfold.collection.chain import (
    GENESIS,
    ChainedEntry,
    ChainHead,
    ChainPosting,
    Seal,
    chain_entries,
)
from billfold.collection.journal import JournalEntry
from billfold.errors import InvariantViolated
from billfold.money import CNY

__all__ = ["SqlChains", "append_to_chain"]

_E, _P, _H, _S = t.journal_entries, t.journal_postings, c.journal_chains, c.journal_seals
#: Postings carry a currency once the schema has the column; until then every amount is CNY.
_HAS_CURRENCY = "currency" in _P.c

_LOCK_HEAD = {
    "postgresql": text(
        "SELECT h.seq, h.last_hash, h.last_date, h.sealed_through, b.timezone, "
        "ARRAY(SELECT nextval('journal_entries_id_seq') FROM generate_series(1, :n)) AS ids "
        "FROM journal_chains h LEFT JOIN billers b ON b.code = h.chain "
        "WHERE h.chain = :chain FOR UPDATE OF h"
    ),
    "sqlite": text(
        "SELECT h.seq, h.last_hash, h.last_date, h.sealed_through, b.timezone, "
        "(SELECT coalesce(max(id), 0) FROM journal_entries) + :n AS ids "
        "FROM journal_chains h LEFT JOIN billers b ON b.code = h.chain "
        "WHERE h.chain = :chain"
    ),
}
_NEW_HEAD = text(
    "INSERT INTO journal_chains (chain, seq, last_hash) VALUES (:chain, 0, :genesis) "
    "ON CONFLICT (chain) DO NOTHING"
)
_ENTRY_INSERT = _E.insert().inline()
_POSTING_INSERT = _P.insert().inline()


def _lock_head(conn: Connection, chain: str, n: int) -> tuple[ChainHead, str, list[int]]:
    """The chain's head, locked until commit, its biller's timezone and ``n`` new entry ids."""
    statement = _LOCK_HEAD[conn.dialect.name]
    rows = run_read(conn, statement, {"chain": chain, "n": n})
    if not rows:
        run_write(conn, _NEW_HEAD, {"chain": chain, "genesis": GENESIS})
        rows = run_read(conn, statement, {"chain": chain, "n": n})
    if not rows:
        raise InvariantViolated(f"journal chain {chain} has no head")
    seq, last_hash, last_date, sealed, zone, ids = rows[0]
    head = ChainHead(chain, int(seq), str(last_hash), as_date(last_date), as_date(sealed))
    if isinstance(ids, int):  # SQLite: the last of the n ids
        ids = list(range(ids - n + 1, ids + 1))
    return head, zone or DEFAULT_TZ, [int(i) for i in ids]


def _currency(posting: Any) -> str:
    return str(getattr(posting, "currency", CNY))


def append_to_chain(
    conn: Connection,
    chain: str,
    entries: Sequence[JournalEntry],
    now: datetime,
    payment_id: int | None,
    refund_id: int | None,
) -> None:
    """Write ``entries`` at the end of ``chain``, each complete with its hashes."""
    head, zone, ids = _lock_head(conn, chain, len(entries))
    items = [
        (
            entry_id,
            entry,
            tuple(
                ChainPosting(p.account, p.amount_fen, _currency(p), p.bill_id)
                for p in entry.postings
            ),
        )
        for entry_id, entry in zip(ids, entries, strict=True)
    ]
    chained, moved = chain_entries(
        head,
        items,
        day=head.next_date(business_date(now, zone)),
        occurred_at=now,
        payment_id=payment_id,
        refund_id=refund_id,
    )
    entry_rows = [_entry_row(e, now) for e in chained]
    posting_rows = [row for e in chained for row in _posting_rows(e)]
    moving = {
        "chain": chain,
        "seq": moved.seq,
        "last_hash": moved.last_hash,
        "last_date": moved.last_date,
    }
    if conn.dialect.name == "postgresql":  # one round trip for the three writes
        _write_at_once(conn, entry_rows, posting_rows, moving)
        return
    # SQLite: postings first, the entry rows last (the journal guard checks an entry's
    # balance when its row arrives, schema/journal_guard.py); the chain's triggers
    # (migration 0012) refuse an entry that does not continue the head, and move the head
    run_write(conn, _POSTING_INSERT, posting_rows)
    run_write(conn, _ENTRY_INSERT, entry_rows)


_AT_ONCE: dict[tuple[tuple[str, ...], int, tuple[str, ...], int], Any] = {}


def _values(prefix: str, keys: tuple[str, ...], count: int) -> str:
    return ", ".join("(" + ", ".join(f":{prefix}{n}_{k}" for k in keys) + ")" for n in range(count))


def _write_at_once(
    conn: Connection,
    entries: list[dict[str, Any]],
    postings: list[dict[str, Any]],
    head: dict[str, Any],
) -> None:
    """PostgreSQL: move the head and write the entries and their postings in one statement
    (data-modifying ``WITH``; the postings' foreign keys are checked at its end, when the
    entries are there). One statement per shape (entries, postings), built once."""
    entry_keys, posting_keys = tuple(entries[0]), tuple(postings[0])
    shape = (entry_keys, len(entries), posting_keys, len(postings))
    statement = _AT_ONCE.get(shape)
    if statement is None:
        statement = _AT_ONCE[shape] = text(
            "WITH head AS (UPDATE journal_chains SET seq = :h_seq, last_hash = :h_last_hash, "
            "last_date = :h_last_date WHERE chain = :h_chain), "
            f"entries AS (INSERT INTO journal_entries ({', '.join(entry_keys)}) "
            f"VALUES {_values('e', entry_keys, len(entries))}) "
            f"INSERT INTO journal_postings ({', '.join(posting_keys)}) "
            f"VALUES {_values('p', posting_keys, len(postings))}"
        )
    params = {f"h_{k}": v for k, v in head.items()}
    for prefix, rows in (("e", entries), ("p", postings)):
        for n, row in enumerate(rows):
            params.update({f"{prefix}{n}_{k}": v for k, v in row.items()})
    run_write(conn, statement, params)


def _entry_row(entry: ChainedEntry, now: datetime) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "memo": entry.memo,
        "payment_id": entry.payment_id,
        "refund_id": entry.refund_id,
        "created_at": now,
        "chain": entry.chain,
        "chain_seq": entry.seq,
        "business_date": entry.business_date,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def _posting_rows(entry: ChainedEntry) -> list[dict[str, Any]]:
    rows = []
    for p in entry.postings:
        row: dict[str, Any] = {
            "entry_id": entry.id,
            "account": p.account,
            "amount_fen": p.amount_fen,
            "bill_id": p.bill_id,
        }
        if _HAS_CURRENCY:
            row["currency"] = p.currency
        rows.append(row)
    return rows


class SqlChains:
    """Reading the chains back, and keeping seals."""

    PAGE = 1000

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- who owns an entry ---------------------------------------------------------------------
    def chain_of_project(self, bureau_code: str) -> str | None:
        from billfold.adapters.db.schema import presale as s  # the projects' chains only

        pp, b = s.presale_projects, t.billers
        query = select(b.c.code).join(pp, pp.c.biller_id == b.c.id)
        return self.conn.execute(query.where(pp.c.bureau_code == bureau_code)).scalar()

    def chain_of_payment(self, payment_id: int) -> str | None:
        p, b = t.payments, t.billers
        query = select(b.c.code).join(p, p.c.biller_id == b.c.id).where(p.c.id == payment_id)
        return self.conn.execute(query).scalar()

    def biller(self, chain: str) -> tuple[int, str] | None:
        """The biller (id, timezone) a chain belongs to; ``None`` for the system chain."""
        row = self.conn.execute(
            select(t.billers.c.id, t.billers.c.timezone).where(t.billers.c.code == chain)
        ).first()
        return None if row is None else (int(row.id), str(row.timezone))

    # -- heads ---------------------------------------------------------------------------------
    def heads(self) -> list[ChainHead]:
        return [_head(r) for r in self.conn.execute(select(_H).order_by(_H.c.chain))]

    def head(self, chain: str, *, lock: bool = False) -> ChainHead | None:
        query = select(_H).where(_H.c.chain == chain)
        if lock:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _head(row)

    def seal_through(self, chain: str, day: date) -> None:
        """No entry of ``chain`` may be dated ``day`` or before any more."""
        self.conn.execute(
            _H.update()
            .where(_H.c.chain == chain)
            .where((_H.c.sealed_through.is_(None)) | (_H.c.sealed_through < day))
            .values(sealed_through=day)
        )

    def chains_without_head(self) -> list[str]:
        query = (
            select(_E.c.chain)
            .where(_E.c.chain.not_in(select(_H.c.chain)))
            .distinct()
            .order_by(_E.c.chain)
        )
        return [str(c) for c in self.conn.execute(query).scalars()]

    # -- entries -------------------------------------------------------------------------------
    def entries(
        self, chain: str, *, from_day: date | None = None, day: date | None = None
    ) -> Iterator[ChainedEntry]:
        """The chain's entries in order (from ``from_day`` on, or of ``day`` only)."""
        after = 0
        while True:
            query = select(_E).where(_E.c.chain == chain, _E.c.chain_seq > after)
            if from_day is not None:
                query = query.where(_E.c.business_date >= from_day)
            if day is not None:
                query = query.where(_E.c.business_date == day)
            rows = list(self.conn.execute(query.order_by(_E.c.chain_seq).limit(self.PAGE)))
            if not rows:
                return
            postings = self._postings([int(r.id) for r in rows])
            for r in rows:
                yield _entry(r, postings.get(int(r.id), ()))
            after = int(rows[-1].chain_seq)

    def _postings(self, ids: list[int]) -> dict[int, tuple[ChainPosting, ...]]:
        currency = _P.c.currency if _HAS_CURRENCY else None
        columns = [_P.c.entry_id, _P.c.account, _P.c.amount_fen, _P.c.bill_id]
        if currency is not None:
            columns.append(currency)
        query = select(*columns).where(_P.c.entry_id.in_(ids)).order_by(_P.c.id)
        found: dict[int, list[ChainPosting]] = {}
        for r in self.conn.execute(query):
            found.setdefault(int(r.entry_id), []).append(
                ChainPosting(
                    r.account,
                    int(r.amount_fen),
                    str(r.currency) if currency is not None else CNY,
                    None if r.bill_id is None else int(r.bill_id),
                )
            )
        return {k: tuple(v) for k, v in found.items()}

    def state_before(self, chain: str, day: date) -> tuple[int, str]:
        """The chain's (seq, hash) at the start of ``day``: its last entry dated before."""
        row = self.conn.execute(
            select(_E.c.chain_seq, _E.c.hash)
            .where(_E.c.chain == chain, _E.c.business_date < day)
            .order_by(_E.c.chain_seq.desc())
            .limit(1)
        ).first()
        return (0, GENESIS) if row is None else (int(row.chain_seq), str(row.hash))

    def count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(_E)).scalar_one())

    # -- seals ---------------------------------------------------------------------------------
    def seals(self, chain: str, *, from_day: date | None = None) -> list[Seal]:
        query = select(_S).where(_S.c.chain == chain)
        if from_day is not None:
            query = query.where(_S.c.business_date >= from_day)
        return [_seal(r) for r in self.conn.execute(query.order_by(_S.c.business_date))]

    def seal(self, chain: str, day: date) -> tuple[Seal, str | None] | None:
        """The kept seal of (chain, day) and the id of the event that announced it."""
        row = self.conn.execute(
            select(_S).where(_S.c.chain == chain, _S.c.business_date == day)
        ).first()
        return None if row is None else (_seal(row), row.event_id)

    def add_seal(
        self, seal: Seal, biller_id: int | None, event_id: str | None, now: datetime
    ) -> None:
        self.conn.execute(
            _S.insert().values(
                chain=seal.chain,
                biller_id=biller_id,
                business_date=seal.business_date,
                entry_count=seal.entry_count,
                last_seq=seal.last_seq,
                last_hash=seal.last_hash,
                totals=json.dumps(seal.content()["totals"], ensure_ascii=False, sort_keys=True),
                digest=seal.digest,
                event_id=event_id,
                sealed_at=now,
            )
        )


def _head(row: Any) -> ChainHead:
    return ChainHead(
        str(row.chain), int(row.seq), str(row.last_hash), row.last_date, row.sealed_through
    )


def _entry(row: Any, postings: tuple[ChainPosting, ...]) -> ChainedEntry:
    occurred = as_utc(row.created_at)
    if occurred is None:
        raise InvariantViolated(f"journal entry {row.id} has no time")
    return ChainedEntry(
        id=int(row.id),
        chain=str(row.chain),
        seq=int(row.chain_seq),
        kind=str(row.kind),
        memo=str(row.memo),
        payment_id=None if row.payment_id is None else int(row.payment_id),
        refund_id=None if row.refund_id is None else int(row.refund_id),
        business_date=row.business_date,
        occurred_at=occurred,
        postings=postings,
        prev_hash=str(row.prev_hash),
        hash=str(row.hash),
    )


def _seal(row: Any) -> Seal:
    totals = tuple(
        (str(x["account"]), str(x["currency"]), int(x["amount_fen"]))
        for x in json.loads(row.totals)
    )
    return Seal(
        str(row.chain),
        row.business_date,
        int(row.entry_count),
        int(row.last_seq),
        str(row.last_hash),
        totals,
    )
