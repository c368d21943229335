"""The database schema, as SQLAlchemy Core tables. Alembic migrations must produce exactly this.

The tables are built per area, each module on the shared ``metadata`` of :mod:`.base` with
its CHECK constraints (:mod:`.checks`): :mod:`.core` (billers, bills, orders, payments, the
journal, the outbox — imported with this package, ``schema.payments`` as ever) and one module
per desk or scenario (``schema.settlement``, ``schema.presale``, ``schema.access`` …), built
only when imported, so that a command builds the tables it uses and imports the enums of
those alone.

``schema.metadata`` is the whole schema: asking for it imports every area
(:mod:`.all_tables`), so that ``create_all``, ``sorted_tables`` and the comparison of the
migrations with the models see every table. A table module takes ``metadata`` from
:mod:`.base` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from billfold.adapters.db.schema import journal_guard  # noqa: F401  (the journal's triggers)
from billfold.adapters.db.schema.base import NAMING, TS, Id, Money, UTCDateTime, _id
from billfold.adapters.db.schema.core import (
    audit_log,
    bill_items,
    billers,
    bills,
    channel_configs,
    channel_nonces,
    fee_rules,
    import_batches,
    journal_entries,
    journal_postings,
    order_lines,
    orders,
    outbox_deliveries,
    outbox_events,
    payers,
    payments,
    refunds,
    sub_units,
    waivers,
    webhook_endpoints,
)

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    metadata: MetaData

__all__ = [
    "NAMING",
    "TS",
    "Id",
    "Money",
    "UTCDateTime",
    "_id",
    "audit_log",
    "bill_items",
    "billers",
    "bills",
    "channel_configs",
    "channel_nonces",
    "fee_rules",
    "import_batches",
    "journal_entries",
    "journal_postings",
    "metadata",
    "order_lines",
    "orders",
    "outbox_deliveries",
    "outbox_events",
    "payers",
    "payments",
    "refunds",
    "sub_units",
    "waivers",
    "webhook_endpoints",
]


def __getattr__(name: str) -> Any:
    if name == "metadata":  # the whole schema: every area's tables built first
        from billfold.adapters.db.schema.all_tables import metadata

        return metadata
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
