"""The bank leg in the database: the promises of reconciled channel runs and the bank
settlements that pay them (part of :class:`billfold.adapters.db.recon.SqlRecon`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from billfold.adapters.db.schema import settlement as st
from billfold.settlement.banking import Promise
from billfold.settlement.run import RunKind, RunStatus

__all__ = ["SqlBankLeg"]


class SqlBankLeg:
    conn: Connection

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
