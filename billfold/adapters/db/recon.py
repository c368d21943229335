"""Reconciliation in the database: runs, discrepancies, bank settlements, and the set-based
matching of a staged statement against the engine's payments and refunds.

The matching is two joins on the channel's transaction id, both driven by indexes (the
staging table's ``(grp, txn)`` and the unique ``payments (channel, channel_txn_id)``):

* statement → engine: the payment lines that do *not* match cleanly, with the payment they
  name (if any). A clean match is one successful payment line per transaction, a payment
  holding the same amount in the same currency on the run's business date and, when fees
  are checked, the same fee. Clean matches are only counted, never fetched.
* engine → statement: the payments of the day the statement does not mention (短款).

Everything fetched goes to the pure rules in :mod:`billfold.settlement.reconcile`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    and_,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import settlement as st
from billfold.adapters.db.statement_stage import STAGE, line_from_row
from billfold.settlement.banking import Promise
from billfold.settlement.discrepancy import Action, Code, Discrepancy, DiscrepancyStatus
from billfold.settlement.engine_records import HOLDING, EnginePayment, EngineRefund
from billfold.settlement.run import ReconRun, RunKind, RunStatus
from billfold.settlement.statement import StatementLine
from billfold.settlement.totals import StatementTotals

__all__ = ["SqlRecon", "stage"]

stage = Table(
    STAGE,
    MetaData(),
    Column("seq", BigInteger, primary_key=True),
    Column("grp", String(1)),
    Column("txn", String(64)),
    Column("type", String(12)),
    Column("status", String(8)),
    Column("direction", String(8)),
    Column("amount_fen", BigInteger),
    Column("fee_fen", BigInteger),
    Column("currency", String(3)),
    Column("order_no", String(64)),
    Column("refund_id", String(64)),
    Column("occurred_at", String(40)),
    Column("source_line", Integer),
    Column("merchant_id", String(64)),
    Column("counterparty", String(128)),
)

_P = t.payments
_HOLDING = sorted(HOLDING)
_IN_CHUNK = 500


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i : i + _IN_CHUNK]


def _payment(row: Any, prefix: str = "p_") -> EnginePayment | None:
    if getattr(row, f"{prefix}id") is None:
        return None
    return EnginePayment(
        id=int(getattr(row, f"{prefix}id")),
        channel_txn_id=getattr(row, f"{prefix}channel_txn_id"),
        order_no=getattr(row, f"{prefix}order_no"),
        amount_fen=int(getattr(row, f"{prefix}amount_fen")),
        fee_fen=int(getattr(row, f"{prefix}fee_fen")),
        status=getattr(row, f"{prefix}status"),
        business_date=getattr(row, f"{prefix}business_date"),
        currency=getattr(row, f"{prefix}currency"),
        biller_id=getattr(row, f"{prefix}biller_id"),
    )


def _payment_columns() -> list[Any]:
    names = (
        "id",
        "channel_txn_id",
        "order_no",
        "amount_fen",
        "fee_fen",
        "status",
        "business_date",
        "currency",
        "biller_id",
    )
    return [_P.c[name].label(f"p_{name}") for name in names]


class SqlRecon:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgresql = conn.dialect.name == "postgresql"

    # -- slots and runs ---------------------------------------------------------------------
    def lock_slot(self, kind: RunKind, channel: str, merchant_id: str, day: date) -> None:
        """Serialize runs of one slot (SQLite's write transactions already run one at a
        time; PostgreSQL takes a transaction-scoped advisory lock)."""
        if self.postgresql:
            key = f"recon/{kind.value}/{channel}/{merchant_id}/{day.isoformat()}"
            self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})

    def current_run(
        self, kind: RunKind, channel: str, merchant_id: str, day: date
    ) -> ReconRun | None:
        r = st.recon_runs.c
        row = self.conn.execute(
            select(st.recon_runs).where(
                r.kind == kind.value,
                r.channel == channel,
                r.merchant_id == merchant_id,
                r.business_date == day,
                r.status == RunStatus.CURRENT.value,
            )
        ).first()
        return _run(row)

    def current_with_file(
        self, kind: RunKind, channel: str, day: date, sha256: str
    ) -> ReconRun | None:
        """A current run of any merchant of ``channel`` on ``day`` made from this very file."""
        r = st.recon_runs.c
        row = self.conn.execute(
            select(st.recon_runs)
            .where(
                r.kind == kind.value,
                r.channel == channel,
                r.business_date == day,
                r.file_sha256 == sha256,
                r.status == RunStatus.CURRENT.value,
            )
            .order_by(r.id)
        ).first()
        return _run(row)

    def next_revision(self, kind: RunKind, channel: str, merchant_id: str, day: date) -> int:
        r = st.recon_runs.c
        top = self.conn.execute(
            select(func.max(r.revision)).where(
                r.kind == kind.value,
                r.channel == channel,
                r.merchant_id == merchant_id,
                r.business_date == day,
            )
        ).scalar_one_or_none()
        return int(top or 0) + 1

    def insert_run(self, values: dict[str, Any]) -> int:
        return int(
            self.conn.execute(
                st.recon_runs.insert().values(**values).returning(st.recon_runs.c.id)
            ).scalar_one()
        )

    def supersede(self, run_id: int, by_run_id: int, now: datetime) -> int:
        """Mark a run superseded; its open discrepancies go with it. Returns how many."""
        self.conn.execute(
            update(st.recon_runs)
            .where(st.recon_runs.c.id == run_id)
            .values(status=RunStatus.SUPERSEDED.value, superseded_at=now, superseded_by=by_run_id)
        )
        d = st.recon_discrepancies.c
        done = self.conn.execute(
            update(st.recon_discrepancies)
            .where(d.run_id == run_id, d.status == DiscrepancyStatus.OPEN.value)
            .values(status=DiscrepancyStatus.SUPERSEDED.value)
        ).rowcount
        return int(done)

    def run(self, run_id: int) -> ReconRun | None:
        row = self.conn.execute(select(st.recon_runs).where(st.recon_runs.c.id == run_id)).first()
        return _run(row)

    def runs(
        self,
        *,
        kind: RunKind | None = None,
        channel: str | None = None,
        day: date | None = None,
        current_only: bool = False,
    ) -> list[ReconRun]:
        r = st.recon_runs.c
        q = select(st.recon_runs).order_by(r.business_date, r.channel, r.merchant_id, r.revision)
        if kind is not None:
            q = q.where(r.kind == kind.value)
        if channel is not None:
            q = q.where(r.channel == channel)
        if day is not None:
            q = q.where(r.business_date == day)
        if current_only:
            q = q.where(r.status == RunStatus.CURRENT.value)
        return [run for run in (_run(row) for row in self.conn.execute(q)) if run is not None]

    # -- scope ------------------------------------------------------------------------------
    def merchant_billers(self, channel: str, merchant_id: str) -> list[tuple[int, str]]:
        """(biller id, timezone) of the billers taking ``channel`` under ``merchant_id``."""
        cc = t.channel_configs.c
        rows = self.conn.execute(
            select(t.billers.c.id, t.billers.c.timezone)
            .join(t.channel_configs, cc.biller_id == t.billers.c.id)
            .where(cc.channel == channel, cc.merchant_id == merchant_id)
            .order_by(t.billers.c.id)
        ).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    def channel_billers(self, channel: str, day: date) -> list[tuple[int, str]]:
        """(biller id, merchant id) of every biller that takes ``channel`` or has a payment
        on it on ``day``; the merchant id is '' when the biller's configuration names none
        (or it has none)."""
        cc = t.channel_configs.c
        configured = self.conn.execute(
            select(cc.biller_id, cc.merchant_id).where(cc.channel == channel)
        ).all()
        found = {(int(b), str(m or "")) for b, m in configured}
        known = {b for b, _ in found}
        paying = self.conn.execute(
            select(_P.c.biller_id)
            .where(_P.c.channel == channel, _P.c.business_date == day, _P.c.biller_id.is_not(None))
            .distinct()
        ).scalars()
        found.update((int(b), "") for b in paying if int(b) not in known)
        return sorted(found)

    def timezones(self) -> list[str]:
        return sorted(
            str(tz) for tz in self.conn.execute(select(t.billers.c.timezone).distinct()).scalars()
        )

    def _scope(self, column: Any, channel: str, merchant_id: str) -> ColumnElement[bool] | None:
        if not merchant_id:
            return None
        cc = t.channel_configs.c
        scope: ColumnElement[bool] = column.in_(
            select(cc.biller_id).where(cc.channel == channel, cc.merchant_id == merchant_id)
        )
        return scope

    # -- the staged statement ---------------------------------------------------------------
    def stage_merchants(self, limit: int = 3) -> list[str]:
        q = (
            select(stage.c.merchant_id)
            .where(stage.c.merchant_id.is_not(None))
            .distinct()
            .limit(limit)
        )
        return [str(m) for m in self.conn.execute(q).scalars()]

    def stage_totals(self) -> list[tuple[str, str, str, int, int, int]]:
        s = stage.c
        q = select(
            s.type,
            s.status,
            s.direction,
            func.count(),
            func.coalesce(func.sum(s.amount_fen), 0),
            func.coalesce(func.sum(s.fee_fen), 0),
        ).group_by(s.type, s.status, s.direction)
        return [
            (str(a), str(b), str(c), int(n), int(amount), int(fee))
            for a, b, c, n, amount, fee in self.conn.execute(q)
        ]

    def payment_exceptions(
        self, channel: str, day: date, check_fees: bool, source_file: str
    ) -> list[tuple[StatementLine, EnginePayment | None]]:
        """Payment and reversal lines that do not match cleanly, with the payment named."""
        s = stage.c
        # Transactions listed more than once: a small derived table, joined (an IN over a
        # subquery makes PostgreSQL rescan it for every line when it misjudges its size).
        repeated = (
            select(s.txn.label("txn")).where(s.grp == "P").group_by(s.txn).having(func.count() > 1)
        ).subquery("repeated")
        unclean: list[ColumnElement[bool]] = [
            _P.c.id.is_(None),
            s.type != "PAYMENT",
            s.status != "SUCCESS",
            _P.c.amount_fen != s.amount_fen,
            _P.c.currency != s.currency,
            _P.c.status.not_in(_HOLDING),
            _P.c.business_date != day,
            repeated.c.txn.is_not(None),
        ]
        if check_fees:
            unclean.append(_P.c.fee_fen != s.fee_fen)
        joined = stage.outerjoin(
            _P, and_(_P.c.channel == channel, _P.c.channel_txn_id == s.txn)
        ).outerjoin(repeated, repeated.c.txn == s.txn)
        q = (
            select(stage, *_payment_columns())
            .select_from(joined)
            .where(s.grp == "P", or_(*unclean))
            .order_by(s.seq)
        )
        return [
            (line_from_row(row, channel, source_file), _payment(row))
            for row in self.conn.execute(q)
        ]

    def engine_only_payments(
        self, channel: str, merchant_id: str, day: date
    ) -> list[EnginePayment]:
        """Payments of ``day`` holding money that no payment or reversal line mentions."""
        s = stage.c
        q = select(*_payment_columns()).where(
            _P.c.channel == channel,
            _P.c.business_date == day,
            _P.c.status.in_(_HOLDING),
            _P.c.amount_fen > 0,
            ~exists().where(s.grp == "P", s.txn == _P.c.channel_txn_id),
        )
        scope = self._scope(_P.c.biller_id, channel, merchant_id)
        if scope is not None:
            q = q.where(scope)
        found = [_payment(row) for row in self.conn.execute(q.order_by(_P.c.id))]
        return [p for p in found if p is not None]

    def engine_totals(self, channel: str, merchant_id: str, day: date) -> tuple[int, int]:
        q = select(func.count(), func.coalesce(func.sum(_P.c.amount_fen), 0)).where(
            _P.c.channel == channel,
            _P.c.business_date == day,
            _P.c.status.in_(_HOLDING),
            _P.c.amount_fen > 0,
        )
        scope = self._scope(_P.c.biller_id, channel, merchant_id)
        if scope is not None:
            q = q.where(scope)
        count, total = self.conn.execute(q).one()
        return int(count), int(total)

    def claimed_elsewhere(self, payment_ids: Sequence[int], run_id: int | None) -> set[int]:
        """Payments matched across days by another current run (so not missing here)."""
        d = st.recon_discrepancies.c
        r = st.recon_runs.c
        found: set[int] = set()
        for chunk in _chunks(list(payment_ids)):
            q = (
                select(d.payment_id)
                .join(st.recon_runs, r.id == d.run_id)
                .where(
                    d.code == Code.CROSS_DAY.value,
                    r.status == RunStatus.CURRENT.value,
                    d.payment_id.in_(chunk),
                )
            )
            if run_id is not None:
                q = q.where(r.id != run_id)
            found.update(int(x) for x in self.conn.execute(q).scalars())
        return found

    def refund_lines(self, channel: str, source_file: str) -> list[StatementLine]:
        q = select(stage).where(stage.c.grp == "R").order_by(stage.c.seq)
        return [line_from_row(row, channel, source_file) for row in self.conn.execute(q)]

    def engine_refunds(
        self, channel: str, refund_nos: Sequence[str], channel_ids: Sequence[str]
    ) -> list[EngineRefund]:
        """Engine refunds on ``channel`` by our refund number or the channel's refund id."""
        r = t.refunds.c
        base = select(
            t.refunds, _P.c.channel_txn_id.label("pay_txn"), _P.c.biller_id.label("pay_biller")
        ).join(_P, _P.c.id == r.payment_id)
        seen: dict[int, EngineRefund] = {}
        for column, values in ((r.refund_no, refund_nos), (r.channel_refund_id, channel_ids)):
            for chunk in _chunks(sorted(set(values))):
                q = base.where(_P.c.channel == channel, column.in_(chunk))
                for row in self.conn.execute(q):
                    seen[int(row.id)] = _refund(row)
        return list(seen.values())

    def engine_only_refunds(
        self, channel: str, merchant_id: str, start: datetime, end: datetime
    ) -> list[EngineRefund]:
        """Refunds recorded as paid out between ``start`` and ``end`` on ``channel``."""
        r = t.refunds.c
        q = (
            select(
                t.refunds,
                _P.c.channel_txn_id.label("pay_txn"),
                _P.c.biller_id.label("pay_biller"),
            )
            .join(_P, _P.c.id == r.payment_id)
            .where(
                _P.c.channel == channel,
                r.status == "succeeded",
                r.completed_at >= start,
                r.completed_at < end,
            )
            .order_by(r.id)
        )
        scope = self._scope(_P.c.biller_id, channel, merchant_id)
        if scope is not None:
            q = q.where(scope)
        return [_refund(row) for row in self.conn.execute(q)]

    # -- discrepancies ----------------------------------------------------------------------
    def insert_discrepancies(
        self, run_id: int, found: Sequence[Discrepancy], now: datetime, resolver: str
    ) -> None:
        rows = [_discrepancy_row(run_id, d, now, resolver) for d in found]
        for i in range(0, len(rows), 5000):
            self.conn.execute(st.recon_discrepancies.insert(), rows[i : i + 5000])

    def discrepancy(self, discrepancy_id: int, *, lock: bool = False) -> Discrepancy | None:
        """One discrepancy; ``lock`` holds its row (PostgreSQL) until the transaction ends."""
        q = select(st.recon_discrepancies).where(st.recon_discrepancies.c.id == discrepancy_id)
        if lock and self.postgresql:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return _discrepancy(row) if row is not None else None

    def discrepancies(
        self,
        *,
        run_id: int | None = None,
        status: DiscrepancyStatus | None = None,
        code: Code | None = None,
        auto_only: bool = False,
        limit: int | None = None,
    ) -> list[Discrepancy]:
        d = st.recon_discrepancies.c
        q = select(st.recon_discrepancies).order_by(d.id)
        if run_id is not None:
            q = q.where(d.run_id == run_id)
        if status is not None:
            q = q.where(d.status == status.value)
        if code is not None:
            q = q.where(d.code == code.value)
        if auto_only:
            q = q.where(d.auto_action.is_not(None))
        if limit is not None:
            q = q.limit(limit)
        return [_discrepancy(row) for row in self.conn.execute(q)]

    def open_engine_only(self, payment_id: int) -> list[Discrepancy]:
        d = st.recon_discrepancies.c
        q = select(st.recon_discrepancies).where(
            d.payment_id == payment_id,
            d.code == Code.ENGINE_ONLY.value,
            d.status == DiscrepancyStatus.OPEN.value,
        )
        return [_discrepancy(row) for row in self.conn.execute(q)]

    def resolve(
        self,
        discrepancy_id: int,
        *,
        action: Action,
        by: str,
        at: datetime,
        reason: str,
        ref: str | None = None,
        payment_id: int | None = None,
    ) -> bool:
        """Close an open discrepancy (conditional: ``False`` if someone else closed it)."""
        d = st.recon_discrepancies.c
        values: dict[str, Any] = {
            "status": DiscrepancyStatus.RESOLVED.value,
            "action": action.value,
            "resolved_by": by[:100],
            "resolved_at": at,
            "resolution": reason[:500],
            "resolution_ref": ref[:64] if ref else None,
        }
        if payment_id is not None:
            values["payment_id"] = payment_id
        done = self.conn.execute(
            update(st.recon_discrepancies)
            .where(d.id == discrepancy_id, d.status == DiscrepancyStatus.OPEN.value)
            .values(**values)
        ).rowcount
        return bool(done == 1)

    def count_open(self, run_id: int) -> int:
        d = st.recon_discrepancies.c
        return int(
            self.conn.execute(
                select(func.count()).where(
                    d.run_id == run_id, d.status == DiscrepancyStatus.OPEN.value
                )
            ).scalar_one()
        )

    # -- the bank leg -----------------------------------------------------------------------
    def open_promises(self, as_of: date, exclude_bank_run: int | None = None) -> list[Promise]:
        """Current channel runs up to ``as_of`` that no current bank run has settled."""
        r = st.recon_runs.c
        b = st.bank_settlements.c
        bank = st.recon_runs.alias("bank_run")
        settled = (
            select(b.channel_run_id)
            .join(bank, bank.c.id == b.bank_run_id)
            .where(bank.c.status == RunStatus.CURRENT.value, b.channel_run_id.is_not(None))
        )
        if exclude_bank_run is not None:
            settled = settled.where(bank.c.id != exclude_bank_run)
        q = (
            select(st.recon_runs)
            .where(
                r.kind == RunKind.CHANNEL.value,
                r.status == RunStatus.CURRENT.value,
                r.business_date <= as_of,
                r.id.not_in(settled),
            )
            .order_by(r.business_date, r.id)
        )
        return [
            Promise(
                int(row.id),
                row.channel,
                row.merchant_id,
                row.business_date,
                int(row.net_fen),
                int(row.fee_fen),
            )
            for row in self.conn.execute(q)
        ]

    def insert_bank_settlements(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(st.bank_settlements.insert(), list(rows))

    def bank_settlements(self, bank_run_id: int) -> list[dict[str, Any]]:
        b = st.bank_settlements.c
        q = select(st.bank_settlements).where(b.bank_run_id == bank_run_id).order_by(b.id)
        return [dict(row._mapping) for row in self.conn.execute(q)]


def _run(row: Row[Any] | None) -> ReconRun | None:
    if row is None:
        return None
    return ReconRun(
        id=int(row.id),
        kind=RunKind(row.kind),
        channel=row.channel,
        merchant_id=row.merchant_id,
        business_date=row.business_date,
        revision=int(row.revision),
        status=RunStatus(row.status),
        format=row.format,
        file_name=row.file_name,
        file_sha256=row.file_sha256,
        timezone=row.timezone,
        check_fees=bool(row.check_fees),
        totals=StatementTotals(
            line_count=int(row.line_count),
            payment_count=int(row.payment_count),
            payment_fen=int(row.payment_fen),
            refund_count=int(row.refund_count),
            refund_fen=int(row.refund_fen),
            fee_fen=int(row.fee_fen),
            net_fen=int(row.net_fen),
        ),
        quarantined=int(row.quarantined),
        matched_count=int(row.matched_count),
        matched_fen=int(row.matched_fen),
        engine_count=int(row.engine_count),
        engine_fen=int(row.engine_fen),
        discrepancy_count=int(row.discrepancy_count),
        created_by=row.created_by,
        created_at=row.created_at,
        superseded_at=row.superseded_at,
        superseded_by=row.superseded_by,
    )


def _refund(row: Any) -> EngineRefund:
    return EngineRefund(
        id=int(row.id),
        refund_no=row.refund_no,
        payment_id=int(row.payment_id),
        channel_txn_id=row.pay_txn,
        amount_fen=int(row.amount_fen),
        fee_fen=int(row.fee_fen),
        status=row.status,
        channel_refund_id=row.channel_refund_id,
        biller_id=row.pay_biller,
    )


_FIELDS = (
    "message",
    "channel",
    "source_file",
    "source_line",
    "channel_txn_id",
    "order_no",
    "refund_no",
    "payment_id",
    "refund_id",
    "biller_id",
    "line_amount_fen",
    "engine_amount_fen",
    "line_fee_fen",
    "engine_fee_fen",
    "difference_fen",
    "line_status",
    "engine_status",
    "currency",
    "occurred_at",
    "counterparty",
)
_LIMITS = {
    "message": 500,
    "source_file": 255,
    "channel_txn_id": 64,
    "order_no": 64,
    "refund_no": 64,
    "counterparty": 128,
}


def _discrepancy_row(run_id: int, d: Discrepancy, now: datetime, resolver: str) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(d, name) for name in _FIELDS}
    for name, limit in _LIMITS.items():
        if row[name] is not None:
            row[name] = str(row[name])[:limit]
    row.update(
        run_id=run_id,
        code=d.code.value,
        auto_action=d.auto_action.value if d.auto_action else None,
        status=DiscrepancyStatus.OPEN.value,
        action=None,
        resolved_by=None,
        resolved_at=None,
        resolution=None,
        resolution_ref=None,
        created_at=now,
    )
    if d.closed:
        row.update(
            status=DiscrepancyStatus.RESOLVED.value,
            action=Action.ACCEPT.value,
            resolved_by=resolver,
            resolved_at=now,
            resolution="closed when found: " + d.code.value.replace("_", " "),
        )
    return row


def _discrepancy(row: Any) -> Discrepancy:
    values = {name: getattr(row, name) for name in _FIELDS}
    return Discrepancy(
        code=Code(row.code),
        id=int(row.id),
        run_id=int(row.run_id),
        status=DiscrepancyStatus(row.status),
        auto_action=Action(row.auto_action) if row.auto_action else None,
        action=Action(row.action) if row.action else None,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
        resolution_ref=row.resolution_ref,
        **values,
    )
