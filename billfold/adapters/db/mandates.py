"""Auto-debit mandates and their debits in the database.

Lock order, everywhere: a debit row is claimed first (``FOR UPDATE SKIP LOCKED``), then its
mandate (``FOR UPDATE``); whoever changes a mandate and its debits together (revoke,
resume, expire) locks the mandate and only touches debits nobody holds (``SKIP LOCKED``),
so the two can never wait on each other. A claimed debit whose mandate was revoked
meanwhile sees the revocation once it gets the mandate's lock, and cancels itself.
On SQLite every write transaction is serialized by ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from billfold.adapters.db.orders import _insert
from billfold.adapters.db.schema import mandates as m
from billfold.collection.mandate import (
    DUE_DEBIT_STATES,
    Debit,
    DebitStatus,
    Mandate,
    MandateStatus,
)
from billfold.errors import InvariantViolated

__all__ = ["SqlMandates"]

_M, _D = m.mandates, m.mandate_debits
LIVE = [MandateStatus.PENDING.value, MandateStatus.ACTIVE.value, MandateStatus.SUSPENDED.value]


def _mandate(row: Row[Any]) -> Mandate:
    return Mandate(
        id=row.id,
        mandate_no=row.mandate_no,
        biller_id=row.biller_id,
        payer_id=row.payer_id,
        account_masked=row.account_masked,
        agreement_no=row.agreement_no,
        per_debit_limit_fen=row.per_debit_limit_fen,
        monthly_limit_fen=row.monthly_limit_fen,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        status=MandateStatus(row.status),
        status_reason=row.status_reason,
    )


def _debit(row: Row[Any]) -> Debit:
    return Debit(
        id=row.id,
        debit_no=row.debit_no,
        mandate_id=row.mandate_id,
        bill_id=row.bill_id,
        status=DebitStatus(row.status),
        amount_fen=row.amount_fen,
        noticed_fen=row.noticed_fen,
        noticed_at=row.noticed_at,
        due_at=row.due_at,
        next_attempt_at=row.next_attempt_at,
        attempts=row.attempts,
        order_no=row.order_no,
        bank_txn_id=row.bank_txn_id,
        reason=row.reason,
        debited_on=row.debited_on,
    )


class SqlMandates:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._pg = conn.dialect.name == "postgresql"

    # -- mandates ----------------------------------------------------------------------
    def add(self, mandate: Mandate, now: datetime) -> int:
        mandate_id = self.conn.execute(
            _M.insert()
            .values(
                mandate_no=mandate.mandate_no,
                biller_id=mandate.biller_id,
                payer_id=mandate.payer_id,
                account_masked=mandate.account_masked,
                agreement_no=mandate.agreement_no,
                per_debit_limit_fen=mandate.per_debit_limit_fen,
                monthly_limit_fen=mandate.monthly_limit_fen,
                valid_from=mandate.valid_from,
                valid_until=mandate.valid_until,
                status=mandate.status.value,
                status_reason=mandate.status_reason,
                created_at=now,
                updated_at=now,
            )
            .returning(_M.c.id)
        ).scalar_one()
        mandate.id = int(mandate_id)
        return mandate.id

    def get(self, mandate_id: int, *, lock: bool = False) -> Mandate | None:
        q = select(_M).where(_M.c.id == mandate_id)
        if lock and self._pg:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return _mandate(row) if row else None

    def get_by_no(self, mandate_no: str, *, lock: bool = False) -> Mandate | None:
        q = select(_M).where(_M.c.mandate_no == mandate_no)
        if lock and self._pg:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return _mandate(row) if row else None

    def find(
        self, biller_id: int | None = None, statuses: Iterable[MandateStatus] | None = None
    ) -> list[Mandate]:
        q = select(_M).order_by(_M.c.id)
        if biller_id is not None:
            q = q.where(_M.c.biller_id == biller_id)
        if statuses is not None:
            q = q.where(_M.c.status.in_([s.value for s in statuses]))
        return [_mandate(row) for row in self.conn.execute(q)]

    def live_for(self, biller_id: int, payer_id: int) -> list[Mandate]:
        """Mandates of this payer with this biller that are not revoked or expired."""
        q = select(_M).where(
            _M.c.biller_id == biller_id, _M.c.payer_id == payer_id, _M.c.status.in_(LIVE)
        )
        return [_mandate(row) for row in self.conn.execute(q.order_by(_M.c.id))]

    def save_state(self, mandate: Mandate, expected: MandateStatus, now: datetime) -> bool:
        """Write the mandate's status (and agreement number) only if it is still ``expected``."""
        if mandate.id is None:
            raise InvariantViolated("mandate.id is missing")
        done = self.conn.execute(
            update(_M)
            .where(_M.c.id == mandate.id, _M.c.status == expected.value)
            .values(
                status=mandate.status.value,
                status_reason=mandate.status_reason,
                agreement_no=mandate.agreement_no,
                updated_at=now,
            )
        ).rowcount
        return bool(done == 1)

    def past_validity(self, before: date) -> list[Mandate]:
        """Live mandates whose validity ended before ``before`` (a date in UTC or later)."""
        q = select(_M).where(_M.c.status.in_(LIVE), _M.c.valid_until < before).order_by(_M.c.id)
        return [_mandate(row) for row in self.conn.execute(q)]

    # -- debits ------------------------------------------------------------------------
    def add_debit(self, values: dict[str, Any]) -> int | None:
        """Insert a debit unless this mandate has one for this bill; ``None`` if it had."""
        stmt = (
            _insert(self.conn, _D)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["mandate_id", "bill_id"])
            .returning(_D.c.id)
        )
        found = self.conn.execute(stmt).scalar_one_or_none()
        return int(found) if found is not None else None

    def debit(self, debit_id: int) -> Debit | None:
        row = self.conn.execute(select(_D).where(_D.c.id == debit_id)).first()
        return _debit(row) if row else None

    def debits(self, mandate_id: int) -> list[Debit]:
        q = select(_D).where(_D.c.mandate_id == mandate_id).order_by(_D.c.id)
        return [_debit(row) for row in self.conn.execute(q)]

    def debited_bill_ids(self, mandate_id: int) -> set[int]:
        q = select(_D.c.bill_id).where(_D.c.mandate_id == mandate_id)
        return {int(x) for x in self.conn.execute(q).scalars()}

    def claim_due(self, now: datetime, skip: Iterable[int] = ()) -> Debit | None:
        """The next debit whose time has come, locked for this transaction; concurrent runs
        skip it. Also a debit left ``submitting`` past its lease (its run died)."""
        waiting = _D.c.status.in_([s.value for s in DUE_DEBIT_STATES]) & (
            _M.c.status == MandateStatus.ACTIVE.value
        )
        q = (
            select(_D)
            .join(_M, _M.c.id == _D.c.mandate_id)
            .where(
                waiting | (_D.c.status == DebitStatus.SUBMITTING.value),
                _D.c.next_attempt_at <= now,
            )
            .order_by(_D.c.next_attempt_at, _D.c.id)
            .limit(1)
        )
        skipped = list(skip)
        if skipped:
            q = q.where(_D.c.id.not_in(skipped))
        if self._pg:
            q = q.with_for_update(skip_locked=True, of=_D)
        row = self.conn.execute(q).first()
        return _debit(row) if row else None

    def update_debit(
        self,
        debit_id: int,
        expected: Iterable[DebitStatus],
        *,
        at_attempt: int | None = None,
        **values: Any,
    ) -> bool:
        """Conditional update: only if the debit is still in an ``expected`` state (and, when
        given, still at attempt ``at_attempt`` — a late answer cannot overwrite a newer attempt)."""
        where = [_D.c.id == debit_id, _D.c.status.in_([s.value for s in expected])]
        if at_attempt is not None:
            where.append(_D.c.attempts == at_attempt)
        if "status" in values and isinstance(values["status"], DebitStatus):
            values["status"] = values["status"].value
        done = self.conn.execute(update(_D).where(*where).values(**values)).rowcount
        return bool(done == 1)

    def open_debits(self, mandate_id: int) -> list[Debit]:
        """Debits still waiting (scheduled or retrying) that no run holds, locked for us."""
        q = (
            select(_D)
            .where(
                _D.c.mandate_id == mandate_id,
                _D.c.status.in_([s.value for s in DUE_DEBIT_STATES]),
            )
            .order_by(_D.c.id)
        )
        if self._pg:
            q = q.with_for_update(skip_locked=True)
        return [_debit(row) for row in self.conn.execute(q)]

    def month_used(self, mandate_id: int, since: date, exclude_debit_id: int) -> int:
        """Debited since ``since`` under the mandate, counting debits being sent right now."""
        q = select(func.coalesce(func.sum(_D.c.amount_fen), 0)).where(
            _D.c.mandate_id == mandate_id,
            _D.c.id != exclude_debit_id,
            (
                (_D.c.status == DebitStatus.SUCCEEDED.value) & (_D.c.debited_on >= since)
                | (_D.c.status == DebitStatus.SUBMITTING.value)
            ),
        )
        return int(self.conn.execute(q).scalar_one())
