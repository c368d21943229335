"""Refunds paid back by bank transfer, in the database (see ``collection.refund_transfer``).

Each step is a conditional UPDATE on the transfer's row (recorded → approved by someone
else → filed → confirmed), so a retried or concurrent step changes nothing twice; the
database itself refuses an approval by the maker and a file entry without approval.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.dialects import postgresql, sqlite

from billfold.adapters.db import schema as t
from billfold.adapters.db.fastpath import as_utc
from billfold.adapters.db.schema import queues as qt
from billfold.collection.refund import RefundStatus
from billfold.collection.refund_transfer import PayeeAccount, RefundTransfer, TransferReason
from billfold.errors import InvariantViolated

__all__ = ["SqlRefundTransfers"]

_T = qt.refund_transfers.c
_R = t.refunds.c
_JOINED = (
    select(
        qt.refund_transfers,
        _R.refund_no,
        _R.payment_id,
        _R.amount_fen,
        _R.status.label("refund_status"),
        t.payments.c.biller_id,
    )
    .select_from(
        qt.refund_transfers.join(t.refunds, _R.id == _T.refund_id).join(
            t.payments, t.payments.c.id == _R.payment_id
        )
    )
    .order_by(_T.id)
)


def _record(row: Row[Any]) -> RefundTransfer:
    payee = None
    if row.payee_name and row.account_no and row.bank_name:
        payee = PayeeAccount(row.payee_name, row.account_no, row.bank_name)
    created = as_utc(row.created_at)
    if created is None:
        raise InvariantViolated("refund transfer has no created_at")
    return RefundTransfer(
        refund_id=row.refund_id,
        refund_no=row.refund_no,
        payment_id=row.payment_id,
        biller_id=row.biller_id,
        amount_fen=row.amount_fen,
        refund_status=RefundStatus(row.refund_status),
        reason=TransferReason(row.reason_code),
        channel_message=row.channel_message,
        payee=payee,
        recorded_by=row.recorded_by,
        approved_by=row.approved_by,
        file_no=row.file_no,
        confirmed_by=row.confirmed_by,
        confirm_reason=row.confirm_reason,
        statement_ref=row.statement_ref,
        created_at=created,
        confirmed_at=as_utc(row.confirmed_at),
    )


class SqlRefundTransfers:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _rows(self, q: Any) -> list[RefundTransfer]:
        return [_record(row) for row in self.conn.execute(q)]

    def add(self, refund_id: int, reason: TransferReason, message: str, now: datetime) -> bool:
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(qt.refund_transfers)
            .values(
                refund_id=refund_id,
                reason_code=reason.value,
                channel_message=message[:200],
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["refund_id"])
        )
        return bool(self.conn.execute(stmt).rowcount == 1)

    def get(self, refund_no: str, *, lock: bool = False) -> RefundTransfer | None:
        sel = _JOINED.where(_R.refund_no == refund_no)
        if lock and self.conn.dialect.name == "postgresql":
            sel = sel.with_for_update(of=qt.refund_transfers)
        found = self._rows(sel)
        return found[0] if found else None

    def record_payee(self, refund_id: int, payee: PayeeAccount, by: str, now: datetime) -> bool:
        done = self.conn.execute(
            update(qt.refund_transfers)
            .where(_T.refund_id == refund_id, _T.approved_by.is_(None), _T.file_no.is_(None))
            .values(
                payee_name=payee.name,
                account_no=payee.account_no,
                bank_name=payee.bank_name,
                recorded_by=by[:100],
                recorded_at=now,
            )
        ).rowcount
        return bool(done == 1)

    def approve(self, refund_id: int, by: str, now: datetime) -> bool:
        done = self.conn.execute(
            update(qt.refund_transfers)
            .where(
                _T.refund_id == refund_id,
                _T.approved_by.is_(None),
                _T.recorded_by.is_not(None),
                _T.recorded_by != by[:100],
            )
            .values(approved_by=by[:100], approved_at=now)
        ).rowcount
        return bool(done == 1)

    def ready(self, refund_nos: Sequence[str] | None = None) -> list[RefundTransfer]:
        q = _JOINED.where(
            _T.approved_by.is_not(None),
            _T.file_no.is_(None),
            _R.status == RefundStatus.NEEDS_TRANSFER.value,
        )
        if refund_nos is not None:
            q = q.where(_R.refund_no.in_(list(refund_nos)))
        return self._rows(q)

    def mark_filed(self, refund_id: int, file_no: str, now: datetime) -> bool:
        done = self.conn.execute(
            update(qt.refund_transfers)
            .where(_T.refund_id == refund_id, _T.file_no.is_(None), _T.approved_by.is_not(None))
            .values(file_no=file_no, filed_at=now)
        ).rowcount
        return bool(done == 1)

    def in_file(self, file_no: str) -> list[RefundTransfer]:
        return self._rows(_JOINED.where(_T.file_no == file_no))

    def in_transfer(self) -> list[RefundTransfer]:
        return self._rows(_JOINED.where(_R.status == RefundStatus.IN_TRANSFER.value))

    def mark_confirmed(
        self,
        refund_id: int,
        by: str,
        reason: str,
        statement_ref: str | None,
        now: datetime,
    ) -> None:
        self.conn.execute(
            update(qt.refund_transfers)
            .where(_T.refund_id == refund_id)
            .values(
                confirmed_by=by[:100],
                confirmed_at=now,
                confirm_reason=reason[:200],
                statement_ref=(statement_ref or None) and statement_ref[:64],
            )
        )

    def listing(self, biller_ids: Sequence[int] | None = None) -> list[RefundTransfer]:
        q = _JOINED
        if biller_ids is not None:
            q = q.where(t.payments.c.biller_id.in_(list(biller_ids)))
        return self._rows(q)
