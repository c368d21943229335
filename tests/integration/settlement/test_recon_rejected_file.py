"""A statement with a bad line, reconciled with ``on_error="reject"``, is refused as a whole
with the file, line and field named — and nothing of it is stored, on SQLite and PostgreSQL.
The same file in quarantine mode is reconciled, the bad line kept as a discrepancy."""

from __future__ import annotations

import pytest
from recon_fixtures import DAY, Desk, wx_bill, wx_payment  # type: ignore[import-not-found]
from sqlalchemy import func, select

from billfold.adapters.db import schema as t
from billfold.adapters.db.schema import settlement as st
from billfold.settlement.discrepancy import Code
from billfold.settlement.statement import StatementError


def _state(desk: Desk) -> tuple[object, ...]:
    with desk.engine.uow() as uow:
        counts = tuple(
            int(uow.conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (st.recon_runs, st.recon_discrepancies, t.payments, t.audit_log)
        )
    return (*counts, desk.engine.trial_balance())


def test_a_rejected_statement_stores_nothing_and_a_quarantined_one_keeps_the_bad_line(
    desk: Desk,
) -> None:
    desk.school()
    a, b = desk.orders("10.00", "20.00")
    desk.pay(a, "W0")
    bad = wx_payment("W1", b.order_no, 2000, 12).replace("`20.00", "`20.001")
    bill = wx_bill(wx_payment("W0", a.order_no, 1000, 6), bad, wx_payment("W9", "BF-X", 500, 3))
    before = _state(desk)
    with pytest.raises(StatementError) as refused:
        desk.recon.reconcile(
            bill, format="wechatpay", business_date=DAY, file_name="wx.csv", on_error="reject"
        )
    assert refused.value.message == "wx.csv:3: 订单金额: '20.001' has more than two decimals"
    assert _state(desk) == before
    assert desk.recon.runs() == []

    kept = desk.recon.reconcile(bill, format="wechatpay", business_date=DAY, file_name="wx.csv")
    assert kept.created and kept.run.quarantined == 1
    found = {(d.code, d.source) for d in kept.discrepancies}
    assert found == {(Code.UNREADABLE_LINE, "wx.csv:3"), (Code.CHANNEL_ONLY, "wx.csv:4")}
