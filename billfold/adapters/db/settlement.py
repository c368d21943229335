"""Settlement batches in the database: profiles, batches, the items each batch claims (with
``INSERT ... SELECT``, each payment, refund and reversal at most once — the unique key on
``settlement_items (kind, ref_id)`` sees to it) and the split of the net."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import settlement as st
from billfold.settlement.batch import BatchStatus, BatchTotals, ItemKind, SettlementBatch
from billfold.settlement.discrepancy import Code, DiscrepancyStatus
from billfold.settlement.run import RunKind, RunStatus
from billfold.settlement.splits import Part, Remainder, SplitKind, SplitRule, rules_from_json

__all__ = ["SqlSettlement"]

_P = t.payments
_R = t.refunds
_I = st.settlement_items


def _claimed(kind: ItemKind, ref: Any) -> ColumnElement[bool]:
    return exists().where(_I.c.kind == kind.value, _I.c.ref_id == ref)


def reconciled(payment: Any = _P) -> ColumnElement[bool]:
    """A payment is reconciled when the current statement of its channel and business date
    (for its merchant id, or for the whole channel) has been reconciled, or another day's
    statement matched it, and no open discrepancy names it."""
    r = st.recon_runs.c
    d = st.recon_discrepancies.c
    cc = t.channel_configs.c
    run = st.recon_runs.alias("settle_run")
    merchants = select(cc.merchant_id).where(
        cc.biller_id == payment.c.biller_id, cc.channel == payment.c.channel
    )
    statement = exists().where(
        r.kind == RunKind.CHANNEL.value,
        r.status == RunStatus.CURRENT.value,
        r.channel == payment.c.channel,
        r.business_date == payment.c.business_date,
        or_(r.merchant_id == "", r.merchant_id.in_(merchants)),
    )
    elsewhere = exists().where(
        d.payment_id == payment.c.id,
        d.code == Code.CROSS_DAY.value,
        run.c.id == d.run_id,
        run.c.status == RunStatus.CURRENT.value,
    )
    still_open = exists().where(
        d.payment_id == payment.c.id, d.status == DiscrepancyStatus.OPEN.value
    )
    return and_(or_(statement, elsewhere), ~still_open)


def _payments_due(
    batch_id: int, biller_id: int, day: date, settle_unreconciled: bool
) -> Select[Any]:
    """Payments credited to the biller by ``day`` that no batch has claimed (reconciled ones
    only, unless the biller settles unreconciled payments)."""
    payments = select(
        literal(batch_id), literal(ItemKind.PAYMENT.value), _P.c.id, _P.c.amount_fen, _P.c.fee_fen
    ).where(
        _P.c.biller_id == biller_id,
        _P.c.status == "credited",
        _P.c.business_date <= day,
        ~_claimed(ItemKind.PAYMENT, _P.c.id),
    )
    return payments if settle_unreconciled else payments.where(reconciled())


def _reversals_due(batch_id: int, biller_id: int) -> Select[Any]:
    """Reversals of payments an earlier batch already settled."""
    return select(
        literal(batch_id),
        literal(ItemKind.REVERSAL.value),
        _P.c.id,
        -_P.c.amount_fen,
        -_P.c.fee_fen,
    ).where(
        _P.c.biller_id == biller_id,
        _P.c.status == "reversed",
        _claimed(ItemKind.PAYMENT, _P.c.id),
        ~_claimed(ItemKind.REVERSAL, _P.c.id),
    )


def _refunds_due(batch_id: int, biller_id: int, before: datetime) -> Select[Any]:
    """Refunds of the biller's credited payments decided before ``before``, unclaimed."""
    return (
        select(
            literal(batch_id),
            literal(ItemKind.REFUND.value),
            _R.c.id,
            -_R.c.amount_fen,
            -_R.c.fee_fen,
        )
        .join(_P, _P.c.id == _R.c.payment_id)
        .where(
            _P.c.biller_id == biller_id,
            _R.c.kind == "credited",
            _R.c.created_at < before,
            ~_claimed(ItemKind.REFUND, _R.c.id),
        )
    )


class SqlSettlement:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_biller(self, biller_id: int) -> None:
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"settle/{biller_id}"}
            )

    # -- profiles ---------------------------------------------------------------------------
    def profile(self, biller_id: int) -> tuple[bool, Remainder, list[SplitRule]] | None:
        row = self.conn.execute(
            select(st.settlement_profiles).where(st.settlement_profiles.c.biller_id == biller_id)
        ).first()
        if row is None:
            return None
        return (
            bool(row.settle_unreconciled),
            Remainder(row.remainder_rule),
            rules_from_json(row.splits),
        )

    def save_profile(
        self,
        biller_id: int,
        settle_unreconciled: bool,
        remainder: Remainder,
        splits_json: str,
        now: datetime,
    ) -> None:
        values = {
            "settle_unreconciled": settle_unreconciled,
            "remainder_rule": remainder.value,
            "splits": splits_json,
            "updated_at": now,
        }
        done = self.conn.execute(
            update(st.settlement_profiles)
            .where(st.settlement_profiles.c.biller_id == biller_id)
            .values(**values)
        ).rowcount
        if done == 0:
            self.conn.execute(st.settlement_profiles.insert().values(biller_id=biller_id, **values))

    # -- batches ----------------------------------------------------------------------------
    def batch(
        self, *, batch_no: str | None = None, biller_id: int | None = None, day: date | None = None
    ) -> SettlementBatch | None:
        """The batch ``batch_no`` (or the biller's for ``day``), its row locked on
        PostgreSQL until the transaction ends."""
        b = st.settlement_batches.c
        q = select(st.settlement_batches, t.billers.c.code.label("biller_code")).join(
            t.billers, t.billers.c.id == b.biller_id
        )
        if batch_no is not None:
            q = q.where(b.batch_no == batch_no)
        else:
            q = q.where(b.biller_id == biller_id, b.business_date == day)
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update(of=st.settlement_batches)
        row = self.conn.execute(q).first()
        return None if row is None else self._batch(row)

    def _batch(self, row: Row[Any]) -> SettlementBatch:
        p = st.settlement_parts.c
        parts = self.conn.execute(
            select(st.settlement_parts).where(p.batch_id == row.id).order_by(p.position)
        )
        return SettlementBatch(
            batch_no=row.batch_no,
            biller_id=int(row.biller_id),
            biller_code=row.biller_code,
            business_date=row.business_date,
            status=BatchStatus(row.status),
            totals=BatchTotals(
                payment_count=int(row.payment_count),
                gross_fen=int(row.gross_fen),
                refund_count=int(row.refund_count),
                refund_fen=int(row.refund_fen),
                fee_fen=int(row.fee_fen),
                held_back_count=int(row.held_back_count),
                held_back_fen=int(row.held_back_fen),
            ),
            settle_unreconciled=bool(row.settle_unreconciled),
            created_by=row.created_by,
            created_at=row.created_at,
            parts=[
                Part(
                    SplitRule(x.account_no, x.account_name, x.bank_name, SplitKind.REST, 0, x.memo),
                    int(x.amount_fen),
                )
                for x in parts
            ],
            id=int(row.id),
            approved_by=row.approved_by,
            approved_at=row.approved_at,
            paid_by=row.paid_by,
            paid_at=row.paid_at,
            confirmed_by=row.confirmed_by,
            confirmed_at=row.confirmed_at,
        )

    def batch_nos(
        self,
        *,
        biller_id: int | None = None,
        day: date | None = None,
        status: BatchStatus | None = None,
    ) -> list[str]:
        b = st.settlement_batches.c
        q = select(b.batch_no).order_by(b.business_date, b.biller_id)
        if biller_id is not None:
            q = q.where(b.biller_id == biller_id)
        if day is not None:
            q = q.where(b.business_date == day)
        if status is not None:
            q = q.where(b.status == status.value)
        return [str(no) for no in self.conn.execute(q).scalars()]

    def insert_batch(self, values: dict[str, Any]) -> int:
        return int(
            self.conn.execute(
                st.settlement_batches.insert()
                .values(**values)
                .returning(st.settlement_batches.c.id)
            ).scalar_one()
        )

    def set_totals(self, batch_id: int, totals: BatchTotals) -> None:
        self.conn.execute(
            update(st.settlement_batches)
            .where(st.settlement_batches.c.id == batch_id)
            .values(
                payment_count=totals.payment_count,
                gross_fen=totals.gross_fen,
                refund_count=totals.refund_count,
                refund_fen=totals.refund_fen,
                fee_fen=totals.fee_fen,
                net_fen=totals.net_fen,
                held_back_count=totals.held_back_count,
                held_back_fen=totals.held_back_fen,
            )
        )

    def release(self, batch_id: int) -> None:
        """Give a draft's items back (they may go into a later batch) and drop its split."""
        self.conn.execute(delete(_I).where(_I.c.batch_id == batch_id))
        self.conn.execute(
            delete(st.settlement_parts).where(st.settlement_parts.c.batch_id == batch_id)
        )

    def delete_batch(self, batch_id: int) -> None:
        self.release(batch_id)
        self.conn.execute(
            delete(st.settlement_batches).where(st.settlement_batches.c.id == batch_id)
        )

    def transition(
        self, batch_id: int, expected: BatchStatus, new: BatchStatus, **values: Any
    ) -> bool:
        b = st.settlement_batches.c
        done = self.conn.execute(
            update(st.settlement_batches)
            .where(b.id == batch_id, b.status == expected.value)
            .values(status=new.value, **values)
        ).rowcount
        return bool(done == 1)

    # -- items ------------------------------------------------------------------------------
    def claim(
        self,
        batch_id: int,
        biller_id: int,
        day: date,
        refunds_before: datetime,
        settle_unreconciled: bool,
    ) -> BatchTotals:
        """Claim every unsettled payment, refund and reversal of the biller due by ``day``."""
        cols = ("batch_id", "kind", "ref_id", "amount_fen", "fee_fen")
        due = (
            _payments_due(batch_id, biller_id, day, settle_unreconciled),
            _reversals_due(batch_id, biller_id),
            _refunds_due(batch_id, biller_id, refunds_before),
        )
        for query in due:
            self.conn.execute(insert(_I).from_select(cols, query))
        return self.totals(batch_id, biller_id, day)

    def totals(self, batch_id: int, biller_id: int, day: date) -> BatchTotals:
        rows = self.conn.execute(
            select(
                _I.c.kind,
                func.count(),
                func.coalesce(func.sum(_I.c.amount_fen), 0),
                func.coalesce(func.sum(_I.c.fee_fen), 0),
            )
            .where(_I.c.batch_id == batch_id)
            .group_by(_I.c.kind)
        ).all()
        by_kind = {str(k): (int(n), int(amount), int(fee)) for k, n, amount, fee in rows}
        pay = by_kind.get(ItemKind.PAYMENT.value, (0, 0, 0))
        back = [by_kind.get(k.value, (0, 0, 0)) for k in (ItemKind.REFUND, ItemKind.REVERSAL)]
        held_count, held_fen = self.conn.execute(
            select(func.count(), func.coalesce(func.sum(_P.c.amount_fen), 0)).where(
                _P.c.biller_id == biller_id,
                _P.c.status == "credited",
                _P.c.business_date <= day,
                ~_claimed(ItemKind.PAYMENT, _P.c.id),
            )
        ).one()
        return BatchTotals(
            payment_count=pay[0],
            gross_fen=pay[1],
            refund_count=sum(b[0] for b in back),
            refund_fen=-sum(b[1] for b in back),
            fee_fen=pay[2] + sum(b[2] for b in back),
            held_back_count=int(held_count),
            held_back_fen=int(held_fen),
        )

    def items(self, batch_id: int) -> list[dict[str, Any]]:
        q = select(_I).where(_I.c.batch_id == batch_id).order_by(_I.c.kind, _I.c.ref_id)
        return [dict(row._mapping) for row in self.conn.execute(q)]

    # -- the split --------------------------------------------------------------------------
    def insert_parts(self, batch_id: int, parts: Sequence[Part]) -> None:
        rows = [
            {
                "batch_id": batch_id,
                "position": position,
                "account_no": part.rule.account_no,
                "account_name": part.rule.account_name,
                "bank_name": part.rule.bank_name,
                "amount_fen": part.amount_fen,
                "memo": part.rule.memo[:100],
            }
            for position, part in enumerate(parts, start=1)
        ]
        if rows:
            self.conn.execute(st.settlement_parts.insert(), rows)
