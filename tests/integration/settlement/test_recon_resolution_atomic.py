"""Resolving a discrepancy moves the money and closes the discrepancy in one transaction
(issue 12): a failure between the two — here, the audit record of the resolution cannot be
written — leaves neither the money moved nor the discrepancy closed."""

from __future__ import annotations

from typing import Any, Self

import pytest
from recon_fixtures import DAY, Desk, wx_bill, wx_payment  # type: ignore[import-not-found]

from billfold import Engine, OrderStatus
from billfold.adapters.db.ledger import SqlAudit
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.settlement.discrepancy import Action, Code, DiscrepancyStatus
from billfold.settlement.reconciler import Reconciler


class _AuditDown(SqlAudit):
    def append(self, **values: Any) -> None:
        if values["action"] == "resolve_discrepancy":
            raise RuntimeError("the audit log is down")
        super().append(**values)


class _CrashingUnitOfWork(SqlUnitOfWork):
    def __enter__(self) -> Self:
        super().__enter__()
        self.audit = _AuditDown(self.conn)
        return self


class _CrashingEngine(Engine):
    """The real engine and database; only the resolution's audit record fails."""

    def uow(self) -> SqlUnitOfWork:
        return _CrashingUnitOfWork(self.db)


def test_a_failed_credit_resolution_leaves_no_payment_and_the_discrepancy_open(
    desk: Desk,
) -> None:
    desk.school()
    (a,) = desk.orders("30.00")
    lost = desk.recon.reconcile(
        wx_bill(wx_payment("W9", a.order_no, 3000, 18)),
        format="wechatpay",
        business_date=DAY,
        auto_resolve=False,
    )
    (found,) = lost.discrepancies
    assert found.code is Code.CHANNEL_ONLY and found.id is not None
    books = desk.engine.trial_balance()
    crashing = Reconciler(_CrashingEngine(desk.engine.db, desk.clock))
    with pytest.raises(RuntimeError, match="the audit log is down"):
        crashing.resolve(found.id, Action.CREDIT, by="clerk", reason="lost notification")
    assert desk.recon.discrepancy(found.id).status is DiscrepancyStatus.OPEN
    assert desk.engine.order(a.order_no).status is not OrderStatus.PAID
    assert desk.engine.trial_balance() == books
    with desk.engine.uow() as uow:
        assert uow.payments.find("wechatpay", "W9") is None

    done = desk.recon.resolve(found.id, Action.CREDIT, by="clerk", reason="lost notification")
    assert done.status is DiscrepancyStatus.RESOLVED
    assert desk.engine.order(a.order_no).status is OrderStatus.PAID
    assert desk.engine.check_books() == []


def test_a_failed_write_off_posts_nothing(desk: Desk) -> None:
    desk.school()
    (a,) = desk.orders("30.00")
    desk.pay(a, "W1")
    (missing,) = desk.recon.reconcile(
        wx_bill(), format="wechatpay", business_date=DAY
    ).discrepancies
    assert missing.id is not None
    books = desk.engine.trial_balance()
    crashing = Reconciler(_CrashingEngine(desk.engine.db, desk.clock))
    with pytest.raises(RuntimeError):
        crashing.resolve(missing.id, Action.WRITE_OFF, by="clerk", reason="never paid")
    assert desk.engine.trial_balance() == books
    assert desk.recon.discrepancy(missing.id).status is DiscrepancyStatus.OPEN
