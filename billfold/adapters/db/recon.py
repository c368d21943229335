"""Reconciliation in the database: runs, discrepancies, bank settlements, and the set-based
matching of a staged statement against the engine's payments and refunds.

The matching is two joins on the channel's transaction id. On SQLite both are driven by
indexes (the staging table's ``(grp, txn)`` and the unique ``payments (channel,
channel_txn_id)``); PostgreSQL hashes both sides, with the ``work_mem`` the run sets for its
transaction (:data:`~.statement_ingest.RUN_SETTINGS`):

* statement → engine: the payment lines that do *not* match cleanly, with the payment they
  name (if any). A clean match is one successful payment line per transaction, a payment
  holding the same amount in the same currency on the run's business date and, when fees
  are checked, the same fee. Clean matches are only counted, never fetched.
* engine → statement: the payments of the day the statement does not mention (短款).

Everything fetched goes to the pure rules in :mod:`billfold.settlement.reconcile`. These
joins serve a statement staged in the table; a big bill read column by column is matched
with the same predicates in polars (:mod:`.statement_match`), and
:class:`~.statement_ingest.SqlStatements` picks the one that applies.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from billfold.adapters.db.bulk import among
from billfold.adapters.db.recon_bank import SqlBankLeg
from billfold.adapters.db.recon_discrepancies import SqlDiscrepancies
from billfold.adapters.db.schema import settlement as st
from billfold.adapters.db.statement_stage import STAGE, line_from_row
from billfold.settlement.discrepancy import Code, DiscrepancyStatus
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


class SqlRecon(SqlDiscrepancies, SqlBankLeg):
    """Runs, the run's scope and the set-based matching; discrepancies and the bank leg
    come from :mod:`.recon_discrepancies` and :mod:`.recon_bank`."""

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
            .where(*_current_runs(kind, channel, day), r.file_sha256 == sha256)
            .order_by(r.id)
        ).first()
        return _run(row)

    def any_current(self, kind: RunKind, channel: str, day: date) -> bool:
        found = self.conn.execute(
            select(st.recon_runs.c.id).where(*_current_runs(kind, channel, day)).limit(1)
        ).first()
        return found is not None

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

    def channel_billers(
        self, channel: str, day: date, paying: Sequence[int] | None = None
    ) -> list[tuple[int, str]]:
        """(biller id, merchant id) of every biller that takes ``channel`` or has a payment
        on it on ``day``; the merchant id is '' when the biller's configuration names none
        (or it has none). ``paying``: the billers with a payment on it that day, when the
        caller has them (the day's payments read for the matching): not looked up again."""
        cc = t.channel_configs.c
        configured = self.conn.execute(
            select(cc.biller_id, cc.merchant_id).where(cc.channel == channel)
        ).all()
        found = {(int(b), str(m or "")) for b, m in configured}
        known = {b for b, _ in found}
        if paying is None:
            paying = (
                self.conn.execute(
                    select(_P.c.biller_id)
                    .where(
                        _P.c.channel == channel,
                        _P.c.business_date == day,
                        _P.c.biller_id.is_not(None),
                    )
                    .distinct()
                )
                .scalars()
                .all()
            )
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
        for wanted in among(self.conn, d.payment_id, list(payment_ids)):
            q = (
                select(d.payment_id)
                .join(st.recon_runs, r.id == d.run_id)
                .where(d.code == Code.CROSS_DAY.value, r.status == RunStatus.CURRENT.value, wanted)
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
            for wanted in among(self.conn, column, sorted(set(values))):
                q = base.where(_P.c.channel == channel, wanted)
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


def _current_runs(kind: RunKind, channel: str, day: date) -> tuple[Any, ...]:
    """The conditions of a current run of ``kind`` on ``channel`` and ``day``, any merchant."""
    r = st.recon_runs.c
    return (
        r.kind == kind.value,
        r.channel == channel,
        r.business_date == day,
        r.status == RunStatus.CURRENT.value,
    )
