"""Today's figures for the role homes: what was collected (by day, by channel), how much of
each class or sub-unit's bills is paid, money the channels promised that has not reached the
bank (by age), open discrepancies by kind, escrow balances by project — each for the user's
biller only, or for every biller for a back-office user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.settlement import recon_discrepancies
from billfold.engine import Engine
from billfold.labels import label
from billfold.packs.presale.desk import PresaleDesk
from billfold.settlement.banking import AGE_BUCKETS
from billfold.settlement.reconciler import Reconciler

__all__ = ["Today", "today"]

AGE_LABELS = {
    "0-1 days": "0-1 天",
    "2-3 days": "2-3 天",
    "4-7 days": "4-7 天",
    "over 7 days": "7 天以上",
}
UNPAID = ("open", "partially_paid", "overdue")


@dataclass(frozen=True, slots=True)
class Today:
    day: date
    collected_fen: int
    collected_count: int
    outstanding_fen: int
    overdue_bills: int
    by_day: list[tuple[str, int]]  # (MM-DD, fen), the last 14 business dates
    by_channel: list[tuple[str, int]]  # (channel label, fen), today
    by_sub_unit: list[tuple[str, int]]  # (class/sub-unit, paid share in basis points)
    in_transit: list[tuple[str, int]] | None  # (age, fen); back office only
    discrepancies: list[tuple[str, int]]  # (kind label, open count)
    escrow: list[tuple[str, int]]  # (project, balance fen)
    dead_deliveries: int


def _scoped(column: Any, biller_id: int | None) -> Any:
    return column == biller_id if biller_id is not None else True


def today(engine: Engine, biller_id: int | None, biller_code: str | None) -> Today:
    day = engine.today(biller_code)
    first = day - timedelta(days=13)
    p, b, d = t.payments, t.bills, recon_discrepancies
    credited = and_(p.c.status == "credited", _scoped(p.c.biller_id, biller_id))
    with engine.uow() as uow:
        conn = uow.conn
        daily = dict(
            conn.execute(
                select(p.c.business_date, func.sum(p.c.amount_fen))
                .where(credited, p.c.business_date >= first, p.c.business_date <= day)
                .group_by(p.c.business_date)
            ).all()
        )
        channels = conn.execute(
            select(p.c.channel, func.sum(p.c.amount_fen), func.count())
            .where(credited, p.c.business_date == day)
            .group_by(p.c.channel)
            .order_by(func.sum(p.c.amount_fen).desc())
        ).all()
        live = and_(b.c.status != "cancelled", _scoped(b.c.biller_id, biller_id))
        units = conn.execute(
            select(b.c.sub_unit, func.sum(b.c.principal_fen), func.sum(b.c.paid_fen))
            .where(live)
            .group_by(b.c.sub_unit)
            .order_by(b.c.sub_unit)
            .limit(12)
        ).all()
        owed = conn.execute(
            select(
                func.coalesce(func.sum(b.c.principal_fen - b.c.paid_fen), 0),
                func.coalesce(func.sum(case((b.c.status == "overdue", 1), else_=0)), 0),
            ).where(live, b.c.status.in_(UNPAID))
        ).one()
        kinds = conn.execute(
            select(d.c.code, func.count())
            .where(d.c.status == "open", _scoped(d.c.biller_id, biller_id))
            .group_by(d.c.code)
            .order_by(func.count().desc())
        ).all()
        dead = conn.execute(
            select(func.count())
            .select_from(t.outbox_deliveries.join(t.webhook_endpoints))
            .where(
                t.outbox_deliveries.c.status == "dead",
                _scoped(t.webhook_endpoints.c.biller_id, biller_id),
            )
        ).scalar()
    by_day = [
        (
            (first + timedelta(days=n)).strftime("%m-%d"),
            int(daily.get(first + timedelta(days=n), 0)),
        )
        for n in range(14)
    ]
    return Today(
        day=day,
        collected_fen=sum(int(fen) for _, fen, _ in channels),
        collected_count=sum(int(n) for _, _, n in channels),
        outstanding_fen=int(owed[0]),
        overdue_bills=int(owed[1]),
        by_day=by_day,
        by_channel=[(label("channel", ch), int(fen)) for ch, fen, _ in channels],
        by_sub_unit=[
            (unit or "未分组", round(10_000 * int(paid) / int(total)) if total else 0)
            for unit, total, paid in units
        ],
        in_transit=_in_transit(engine, day) if biller_id is None else None,
        discrepancies=[(label("discrepancy_code", code), int(n)) for code, n in kinds],
        escrow=_escrow(engine, biller_code),
        dead_deliveries=int(dead or 0),
    )


def _in_transit(engine: Engine, day: date) -> list[tuple[str, int]]:
    sums = {name: 0 for name, _, _ in AGE_BUCKETS}
    for item in Reconciler(engine).in_transit(day):
        sums[item.bucket] += item.net_fen
    return [(AGE_LABELS.get(name, name), fen) for name, fen in sums.items()]


def _escrow(engine: Engine, biller_code: str | None) -> list[tuple[str, int]]:
    desk = PresaleDesk(engine)
    return [
        (p.name, desk.balance(p.bureau_code).balance_fen)
        for p in desk.projects()
        if biller_code is None or p.developer == biller_code
    ]
