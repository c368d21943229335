"""Journal, outbox events and the audit log in the database.

A journal entry is written postings first, entry row last, with ids the journal takes
beforehand (``journal_chain.append_to_chain``, which also chains it): the database checks an
entry when its row arrives and refuses postings for an entry already written
(docs/concepts.md, "The journal").
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.fastpath import insert_rows
from billfold.adapters.db.journal_chain import SqlChains, append_to_chain
from billfold.collection.chain import (
    SYSTEM_CHAIN,
    biller_of_postings,
    escrow_project_of_postings,
)
from billfold.collection.journal import JournalEntry, Posting, balance_key


def new_event_id() -> str:
    """A time-ordered UUID (version 7, RFC 9562): 48 bits of Unix milliseconds, then 74
    random bits. Unique like a version 4 UUID, but ids made one after the other sort one
    after the other, so the outbox's unique index grows at its end: a confirmation's events
    share one index page instead of landing on a random page each."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
    value = (value & ~(0xF << 76)) | (7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # the RFC's variant
    return str(uuid.UUID(int=value))


class SqlJournal:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._chains = SqlChains(conn)

    def post(
        self,
        entries: Iterable[JournalEntry],
        now: datetime,
        *,
        payment_id: int | None = None,
        refund_id: int | None = None,
    ) -> None:
        """Write ``entries``, each at the end of its chain (its biller's, or the system's)."""
        groups: dict[str, list[JournalEntry]] = {}
        for entry in entries:
            groups.setdefault(self._chain_of(entry, payment_id), []).append(entry)
        for chain in sorted(groups):  # heads locked in one order: no deadlock between posts
            append_to_chain(self.conn, chain, groups[chain], now, payment_id, refund_id)

    def _chain_of(self, entry: JournalEntry, payment_id: int | None) -> str:
        """An entry belongs to the biller of its first ``payable:`` posting, else the
        biller of the presale project of its first escrow posting, else its payment's
        biller, else to the system chain (migration 0012 chained the past the same way)."""
        accounts = [p.account for p in entry.postings]
        code = biller_of_postings(accounts)
        if code is not None:
            return code
        project = escrow_project_of_postings(accounts)
        if project is not None:
            code = self._chains.chain_of_project(project)
        if code is None and payment_id is not None:
            code = self._chains.chain_of_payment(payment_id)
        return code if code is not None else SYSTEM_CHAIN

    def trial_balance(self) -> dict[str, int]:
        """Per account and currency (keys by :func:`balance_key`), debits positive."""
        c = t.journal_postings.c
        q = select(c.account, c.currency, func.sum(c.amount_fen)).group_by(c.account, c.currency)
        totals = {balance_key(a, cur): int(total) for a, cur, total in self.conn.execute(q)}
        return dict(sorted(totals.items()))

    def bill_balances(self) -> dict[int, int]:
        """Per bill, what the journal says the biller is owed for it (credit balance, as > 0)."""
        c = t.journal_postings.c
        q = (
            select(c.bill_id, func.sum(c.amount_fen))
            .where(c.bill_id.is_not(None), c.account.like("payable:%"))
            .group_by(c.bill_id)
        )
        return {int(bill_id): -int(total) for bill_id, total in self.conn.execute(q)}

    def entries_balance(self) -> list[int]:
        """Entry ids whose postings do not sum to zero in some currency (empty for a sound
        journal)."""
        c = t.journal_postings.c
        q = (
            select(c.entry_id)
            .group_by(c.entry_id, c.currency)
            .having(func.sum(c.amount_fen) != 0)
            .distinct()
            .order_by(c.entry_id)
        )
        return [int(x) for x in self.conn.execute(q).scalars()]

    def postings(self) -> list[Posting]:
        q = select(t.journal_postings).order_by(t.journal_postings.c.id)
        return [
            Posting(r.account, r.amount_fen, r.bill_id, r.currency) for r in self.conn.execute(q)
        ]


class SqlOutbox:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._pending: list[dict[str, Any]] = []

    def add(
        self, event_type: str, biller_id: int | None, payload: dict[str, Any], now: datetime
    ) -> str:
        """Queue an event; it is written with the unit of work's other changes at commit."""
        event_id = new_event_id()
        body = {"id": event_id, "type": event_type, "created_at": now.isoformat(), "data": payload}
        self._pending.append(
            {
                "event_id": event_id,
                "event_type": event_type,
                "biller_id": biller_id,
                "payload": json.dumps(body, ensure_ascii=False, sort_keys=True),
                "created_at": now,
                "fanned_out": False,
            }
        )
        return event_id

    def flush(self) -> None:
        if self._pending:
            insert_rows(self.conn, t.outbox_events, self._pending)
            self._pending = []

    def discard(self) -> None:
        self._pending = []


class SqlAudit:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def append(
        self,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str,
        reason: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        self.conn.execute(
            t.audit_log.insert().values(
                at=now,
                actor=actor,
                action=action,
                target_type=target_type,
                target_id=target_id,
                reason=reason,
                before=json.dumps(before, ensure_ascii=False, sort_keys=True)
                if before is not None
                else None,
                after=json.dumps(after, ensure_ascii=False, sort_keys=True)
                if after is not None
                else None,
            )
        )

    def list(
        self, target_type: str | None = None, target_id: str | None = None
    ) -> list[dict[str, Any]]:
        q = select(t.audit_log).order_by(t.audit_log.c.id)
        if target_type:
            q = q.where(t.audit_log.c.target_type == target_type)
        if target_id:
            q = q.where(t.audit_log.c.target_id == target_id)
        return [
            {
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "target_type": r.target_type,
                "target_id": r.target_id,
                "reason": r.reason,
                "before": json.loads(r.before) if r.before else None,
                "after": json.loads(r.after) if r.after else None,
            }
            for r in self.conn.execute(q)
        ]
