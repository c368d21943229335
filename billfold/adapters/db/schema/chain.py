"""Tables of the journal's hash chain (billfold.collection.chain), on the shared ``metadata``.

* ``journal_chains`` — one head per chain (a biller's code, or ``@system``): the last
  number and hash, the business date of the last entry and the last day sealed. Appending
  to a chain locks its head row, so billers never wait for each other.
* ``journal_seals`` — one per chain and business date: the day's entry count, last number
  and hash, totals per account and currency (canonical JSON) and the seal's digest; the
  event that told the biller (``journal.sealed``) is named by ``event_id``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from billfold.adapters.db.schema.base import TS, Id, _id, metadata
from billfold.adapters.db.schema.checks import add_checks

__all__ = ["journal_chains", "journal_seals"]

journal_chains = Table(
    "journal_chains",
    metadata,
    Column("chain", String(40), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("last_date", Date),
    Column("sealed_through", Date),
)

journal_seals = Table(
    "journal_seals",
    metadata,
    _id(),
    Column("chain", String(40), ForeignKey("journal_chains.chain"), nullable=False),
    Column("biller_id", Id, ForeignKey("billers.id")),
    Column("business_date", Date, nullable=False),
    Column("entry_count", Integer, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("totals", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("event_id", String(36)),
    Column("sealed_at", TS, nullable=False),
    UniqueConstraint("chain", "business_date"),
)

add_checks(journal_chains, journal_seals)
