"""Supervised presale projects, milestones, contracts, the escrow book and the bureau pushes
in the database.

The book (``escrow_entries``) numbers, dates and references each movement; its money is the
journal entry the row points at (``journal_entry_id``), so :meth:`SqlPresale.entries` reads
every amount from the journal's postings. The journal port returns no ids: the entry just
posted is found by its memo, unique per project and number
(:func:`billfold.settlement.escrow.journal_memo`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import presale as s
from billfold.collection.payment import PaymentStatus
from billfold.collection.refund import RefundStatus
from billfold.errors import InvariantViolated
from billfold.merchants.presale import Contract, Milestone, Project
from billfold.settlement.escrow import ContractPayment, ContractRefund, EntryKind, EscrowEntry

__all__ = ["PushRow", "SqlPresale"]

_P, _M, _C, _E, _U = (
    s.presale_projects,
    s.presale_milestones,
    s.presale_contracts,
    s.escrow_entries,
    s.bureau_pushes,
)

PushRow = Row[Any]


def _project(row: Row[Any]) -> Project:
    return Project(
        row.developer,
        row.project_code,
        row.bureau_code,
        row.name,
        row.escrow_bank,
        row.escrow_account_no,
        int(row.id),
    )


_J, _JP = t.journal_entries, t.journal_postings
#: Per journal entry, its amount: what its postings debit (= what they credit).
_AMOUNTS = (
    select(_JP.c.entry_id, func.sum(_JP.c.amount_fen).label("amount_fen"))
    .where(_JP.c.amount_fen > 0)
    .group_by(_JP.c.entry_id)
    .subquery()
)
_BOOK = select(_E, _AMOUNTS.c.amount_fen).join(
    _AMOUNTS, _AMOUNTS.c.entry_id == _E.c.journal_entry_id
)


def _entry(row: Row[Any]) -> EscrowEntry:
    return EscrowEntry(
        int(row.seq),
        EntryKind(row.kind),
        row.channel,
        row.ref,
        row.contract_no,
        int(row.amount_fen),
        row.business_date,
        row.occurred_at,
        row.note,
        row.payment_id,
    )


class SqlPresale:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- projects ------------------------------------------------------------------------
    def _projects(self) -> Any:
        return select(_P, t.billers.c.code.label("developer")).join(
            t.billers, t.billers.c.id == _P.c.biller_id
        )

    def add_project(self, biller_id: int, project: Project, now: datetime) -> int:
        pk = self.conn.execute(
            _P.insert().values(
                biller_id=biller_id,
                project_code=project.project_code,
                bureau_code=project.bureau_code,
                name=project.name,
                escrow_bank=project.escrow_bank,
                escrow_account_no=project.escrow_account_no,
                created_at=now,
            )
        ).inserted_primary_key
        if pk is None:
            raise InvariantViolated("pk is missing")
        return int(pk[0])

    def project(self, bureau_code: str, *, lock: bool = False) -> Project | None:
        query = self._projects().where(_P.c.bureau_code == bureau_code)
        if lock:
            query = query.with_for_update(of=_P)
        row = self.conn.execute(query).first()
        return _project(row) if row else None

    def project_of(self, biller_id: int, project_code: str) -> Project | None:
        query = self._projects().where(
            _P.c.biller_id == biller_id, _P.c.project_code == project_code
        )
        row = self.conn.execute(query).first()
        return _project(row) if row else None

    def projects(self) -> list[Project]:
        return [_project(r) for r in self.conn.execute(self._projects().order_by(_P.c.id))]

    # -- milestones ----------------------------------------------------------------------
    def set_milestones(self, project_pk: int, stages: list[Milestone]) -> None:
        self.conn.execute(_M.delete().where(_M.c.project_pk == project_pk))
        self.conn.execute(
            _M.insert(),
            [
                {
                    "project_pk": project_pk,
                    "stage": m.stage,
                    "name": m.name,
                    "position": i,
                    "cumulative_bps": m.cumulative_bps,
                    "reached_on": m.reached_on,
                }
                for i, m in enumerate(stages, start=1)
            ],
        )

    def milestones(self, project_pk: int) -> list[Milestone]:
        rows = self.conn.execute(
            select(_M).where(_M.c.project_pk == project_pk).order_by(_M.c.position)
        )
        return [Milestone(r.stage, r.name, int(r.cumulative_bps), r.reached_on) for r in rows]

    def reach(self, project_pk: int, stage: str, day: date) -> bool:
        changed = self.conn.execute(
            update(_M)
            .where(_M.c.project_pk == project_pk, _M.c.stage == stage, _M.c.reached_on.is_(None))
            .values(reached_on=day)
        ).rowcount
        return bool(changed)

    # -- contracts -----------------------------------------------------------------------
    def add_contract(
        self, project_pk: int, contract: Contract, bill_id: int, now: datetime
    ) -> None:
        self.conn.execute(
            _C.insert().values(
                project_pk=project_pk,
                contract_no=contract.contract_no,
                unit_no=contract.unit_no,
                total_fen=contract.total_fen,
                buyer_name=contract.buyer_name,
                bill_id=bill_id,
                created_at=now,
            )
        )

    def contracts(self, project_pk: int) -> list[Contract]:
        rows = self.conn.execute(
            select(_C).where(_C.c.project_pk == project_pk).order_by(_C.c.contract_no)
        )
        return [Contract(r.contract_no, r.unit_no, int(r.total_fen), r.buyer_name) for r in rows]

    def contract_project(self, contract_no: str) -> int | None:
        pk = self.conn.execute(
            select(_C.c.project_pk).where(_C.c.contract_no == contract_no)
        ).scalar()
        return None if pk is None else int(pk)

    # -- the escrow ledger ---------------------------------------------------------------
    def entries(self, project_pk: int) -> list[EscrowEntry]:
        """The project's book, in order, every amount read from the journal."""
        rows = self.conn.execute(_BOOK.where(_E.c.project_pk == project_pk).order_by(_E.c.seq))
        return [_entry(r) for r in rows]

    def has_entry(self, kind: EntryKind, channel: str, ref: str) -> bool:
        query = select(_E.c.id).where(
            _E.c.kind == kind.value, _E.c.channel == channel, _E.c.ref == ref
        )
        return self.conn.execute(query).first() is not None

    def entry(self, kind: EntryKind, channel: str, ref: str) -> tuple[int, EscrowEntry] | None:
        """The entry booked as (kind, channel, ref), with its project's key."""
        query = _BOOK.where(_E.c.kind == kind.value, _E.c.channel == channel, _E.c.ref == ref)
        row = self.conn.execute(query).first()
        return None if row is None else (int(row.project_pk), _entry(row))

    def next_seq(self, project_pk: int) -> int:
        top = self.conn.execute(
            select(func.max(_E.c.seq)).where(_E.c.project_pk == project_pk)
        ).scalar()
        return int(top or 0) + 1

    def add_entry(self, project_pk: int, entry: EscrowEntry, journal_memo: str) -> int:
        """Number the entry whose journal entry (memo ``journal_memo``) was just posted in this
        transaction. A second entry with the same (kind, channel, ref) — a release request id
        again — or the same number is refused by the database (IntegrityError)."""
        journal_id = self.conn.execute(
            select(func.max(_J.c.id)).where(_J.c.memo == journal_memo)
        ).scalar()
        if journal_id is None:
            raise LookupError(f"no journal entry {journal_memo!r} to book")
        pk = self.conn.execute(
            _E.insert()
            .values(
                project_pk=project_pk,
                seq=entry.seq,
                kind=entry.kind.value,
                channel=entry.channel,
                ref=entry.ref,
                payment_id=entry.payment_id,
                contract_no=entry.contract_no,
                journal_entry_id=int(journal_id),
                business_date=entry.business_date,
                occurred_at=entry.occurred_at,
                note=entry.note[:300],
            )
            .returning(_E.c.id)
        ).scalar_one()
        return int(pk)

    def contract_bill(self, contract_no: str) -> int | None:
        bill_id = self.conn.execute(
            select(_C.c.bill_id).where(_C.c.contract_no == contract_no)
        ).scalar()
        return None if bill_id is None else int(bill_id)

    def contract_payments(self) -> list[ContractPayment]:
        """Every credited or reversed payment of a contract bill, with its project."""
        p, o, ol = t.payments, t.orders, t.order_lines
        query = (
            select(
                p.c.id,
                p.c.channel,
                p.c.channel_txn_id,
                p.c.amount_fen,
                p.c.paid_at,
                p.c.status,
                _C.c.contract_no,
                _C.c.project_pk,
            )
            .join(o, o.c.id == p.c.order_id)
            .join(ol, ol.c.order_id == o.c.id)
            .join(_C, _C.c.bill_id == ol.c.bill_id)
            .where(p.c.status.in_([PaymentStatus.CREDITED.value, PaymentStatus.REVERSED.value]))
            .distinct()
            .order_by(p.c.id)
        )
        return [
            ContractPayment(
                int(r.id),
                r.channel,
                r.channel_txn_id,
                int(r.amount_fen),
                r.paid_at,
                r.status,
                r.contract_no,
                int(r.project_pk),
            )
            for r in self.conn.execute(query)
        ]

    def contract_refunds(self) -> list[ContractRefund]:
        """Every succeeded refund of a contract bill's payment, with the payment's channel
        transaction and its project, in the order the refunds were made."""
        r, p, o, ol = t.refunds, t.payments, t.orders, t.order_lines
        query = (
            select(
                r.c.id,
                r.c.refund_no,
                r.c.amount_fen,
                r.c.completed_at,
                r.c.created_at,
                r.c.payment_id,
                p.c.channel,
                p.c.channel_txn_id,
                _C.c.contract_no,
                _C.c.project_pk,
            )
            .join(p, p.c.id == r.c.payment_id)
            .join(o, o.c.id == p.c.order_id)
            .join(ol, ol.c.order_id == o.c.id)
            .join(_C, _C.c.bill_id == ol.c.bill_id)
            .where(r.c.status == RefundStatus.SUCCEEDED.value)
            .distinct()
            .order_by(r.c.id)
        )
        return [
            ContractRefund(
                int(r.id),
                r.refund_no,
                int(r.amount_fen),
                r.completed_at or r.created_at,
                int(r.payment_id),
                r.channel,
                r.channel_txn_id,
                r.contract_no,
                int(r.project_pk),
            )
            for r in self.conn.execute(query)
        ]

    # -- pushes to the bureau ------------------------------------------------------------
    def add_push(
        self, entry_pk: int, project_pk: int, seq: int, push_id: str, payload: str, now: datetime
    ) -> None:
        self.conn.execute(
            _U.insert().values(
                entry_pk=entry_pk,
                project_pk=project_pk,
                seq=seq,
                push_id=push_id,
                payload=payload,
                status="pending",
                attempts=0,
                next_attempt_at=now,
            )
        )

    def heads(self) -> list[Row[Any]]:
        """Per project, its first push not yet acknowledged (pending or dead)."""
        first = (
            select(_U.c.project_pk, func.min(_U.c.seq).label("seq"))
            .where(_U.c.status != "acked")
            .group_by(_U.c.project_pk)
            .subquery()
        )
        query = (
            select(_U)
            .join(first, (first.c.project_pk == _U.c.project_pk) & (first.c.seq == _U.c.seq))
            .order_by(_U.c.project_pk)
        )
        return list(self.conn.execute(query))

    def claim(self, push_pk: int, attempts: int, lease_until: datetime) -> bool:
        changed = self.conn.execute(
            update(_U)
            .where(_U.c.id == push_pk, _U.c.status == "pending", _U.c.attempts == attempts)
            .values(attempts=attempts + 1, next_attempt_at=lease_until)
        ).rowcount
        return bool(changed)

    def record(self, push_pk: int, attempt: int, values: dict[str, Any], *, acked: bool) -> bool:
        where = [_U.c.id == push_pk, _U.c.status == "pending"]
        if not acked:
            where.append(_U.c.attempts == attempt)
        return bool(self.conn.execute(update(_U).where(*where).values(**values)).rowcount)

    def pushes(self, project_pk: int | None = None, status: str | None = None) -> list[Row[Any]]:
        query = select(_U, _P.c.bureau_code).join(_P, _P.c.id == _U.c.project_pk)
        if project_pk is not None:
            query = query.where(_U.c.project_pk == project_pk)
        if status is not None:
            query = query.where(_U.c.status == status)
        return list(self.conn.execute(query.order_by(_U.c.project_pk, _U.c.seq)))

    def requeue(self, push_id: str, now: datetime) -> bool:
        changed = self.conn.execute(
            update(_U)
            .where(_U.c.push_id == push_id, _U.c.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now)
        ).rowcount
        return bool(changed)
