"""What ``/metrics`` reads from the database at scrape time: a few cheap counts.

Each is one aggregate over an indexed status column or a small table — the outbox's backlog
and the age of its oldest undelivered event, webhook deliveries by status, dead letters,
open reconciliation discrepancies by kind, and procrastinate's jobs by status where its
table exists. No money table is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, inspect, or_, select, text

from billfold.adapters.db.schema import outbox_deliveries, outbox_events
from billfold.adapters.db.schema.presale import bureau_pushes
from billfold.adapters.db.schema.settlement import recon_discrepancies

__all__ = ["JOBS_TABLE", "Gauges", "read_gauges"]

#: procrastinate's table of jobs (``billfold worker``); absent until its schema is applied.
JOBS_TABLE = "procrastinate_jobs"

_E, _D = outbox_events, outbox_deliveries


@dataclass(frozen=True, slots=True)
class Gauges:
    """One scrape's reading. ``oldest_pending`` is the creation time of the oldest outbox
    event not yet fanned out or with a delivery still pending (None: nothing waits);
    ``jobs`` is None when procrastinate's table does not exist."""

    events_unfanned: int = 0
    deliveries_pending: int = 0
    oldest_pending: datetime | None = None
    deliveries: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    discrepancies_open: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, int] | None = None


def read_gauges(db: Engine) -> Gauges:
    """Read every gauge in one short transaction."""
    with db.connect() as conn:
        unfanned = conn.execute(select(func.count()).where(_E.c.fanned_out.is_(False))).scalar()
        deliveries: dict[str, int] = dict(
            conn.execute(select(_D.c.status, func.count()).group_by(_D.c.status)).all()
        )
        oldest = conn.execute(
            select(func.min(_E.c.created_at)).where(
                or_(
                    _E.c.fanned_out.is_(False),
                    _E.c.id.in_(select(_D.c.event_pk).where(_D.c.status == "pending")),
                )
            )
        ).scalar()
        bureau_dead = conn.execute(
            select(func.count()).where(bureau_pushes.c.status == "dead")
        ).scalar()
        open_by_code: dict[str, int] = dict(
            conn.execute(
                select(recon_discrepancies.c.code, func.count())
                .where(recon_discrepancies.c.status == "open")
                .group_by(recon_discrepancies.c.code)
            ).all()
        )
        jobs = None
        if inspect(conn).has_table(JOBS_TABLE):
            rows = conn.execute(text(f"SELECT status, count(*) FROM {JOBS_TABLE} GROUP BY status"))
            jobs = {str(status): int(count) for status, count in rows}
    return Gauges(
        events_unfanned=int(unfanned or 0),
        deliveries_pending=int(deliveries.get("pending", 0)),
        oldest_pending=oldest,
        deliveries={str(k): int(v) for k, v in deliveries.items()},
        dead_letters={
            "webhook": int(deliveries.get("dead", 0)),
            "bureau_push": int(bureau_dead or 0),
        },
        discrepancies_open={str(k): int(v) for k, v in open_by_code.items()},
        jobs=jobs,
    )
