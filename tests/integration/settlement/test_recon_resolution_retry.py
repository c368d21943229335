"""A resolution retried with its request id (after a lost answer, or a crash after the commit)
answers the resolved discrepancy and moves no money again; another request is still refused."""

from __future__ import annotations

import pytest
from recon_fixtures import DAY, Desk, wx_bill, wx_payment  # type: ignore[import-not-found]

from billfold import OrderStatus
from billfold.errors import Conflict, InvalidInput
from billfold.settlement.discrepancy import Action, Code, Discrepancy, DiscrepancyStatus


def _lost_payment(desk: Desk) -> Discrepancy:
    desk.school()
    (a,) = desk.orders("30.00")
    run = desk.recon.reconcile(
        wx_bill(wx_payment("W9", a.order_no, 3000, 18)),
        format="wechatpay",
        business_date=DAY,
        auto_resolve=False,
    )
    (found,) = run.discrepancies
    assert found.code is Code.CHANNEL_ONLY and found.id is not None
    return found


def test_a_retried_resolution_answers_the_first_and_credits_once(desk: Desk) -> None:
    found = _lost_payment(desk)
    assert found.id is not None
    first = desk.recon.resolve(
        found.id, Action.CREDIT, by="clerk", reason="lost notification", request_id="RS-1"
    )
    books, audit = desk.engine.trial_balance(), desk.engine.audit_log("discrepancy")
    again = desk.recon.resolve(
        found.id, Action.CREDIT, by="clerk", reason="lost notification", request_id="RS-1"
    )
    assert again == first and again.status is DiscrepancyStatus.RESOLVED
    assert desk.engine.trial_balance() == books
    assert desk.engine.audit_log("discrepancy") == audit
    assert desk.engine.check_books() == []
    (order,) = [desk.engine.order(found.order_no or "")]
    assert order.status is OrderStatus.PAID


def test_the_same_request_id_with_another_action_is_refused(desk: Desk) -> None:
    found = _lost_payment(desk)
    assert found.id is not None
    desk.recon.resolve(found.id, Action.CREDIT, by="clerk", reason="lost", request_id="RS-1")
    books = desk.engine.trial_balance()
    with pytest.raises(Conflict) as refused:
        desk.recon.resolve(found.id, Action.REFUND, by="clerk", reason="x", request_id="RS-1")
    assert refused.value.message == (
        f"request_id: RS-1 resolved discrepancy {found.id} by credit, not refund"
    )
    assert desk.engine.trial_balance() == books


def test_another_request_for_a_resolved_discrepancy_is_refused(desk: Desk) -> None:
    found = _lost_payment(desk)
    assert found.id is not None
    desk.recon.resolve(found.id, Action.CREDIT, by="clerk", reason="lost", request_id="RS-1")
    books = desk.engine.trial_balance()
    with pytest.raises(InvalidInput) as refused:
        desk.recon.resolve(found.id, Action.CREDIT, by="clerk", reason="x", request_id="RS-2")
    assert refused.value.message == (
        f"discrepancy {found.id} is resolved; only open ones can be resolved"
    )
    assert desk.engine.trial_balance() == books


@pytest.mark.parametrize("request_id", [" ", "x" * 65])
def test_a_bad_request_id_is_refused_and_the_discrepancy_stays_open(
    desk: Desk, request_id: str
) -> None:
    found = _lost_payment(desk)
    assert found.id is not None
    with pytest.raises(InvalidInput) as refused:
        desk.recon.resolve(found.id, Action.CREDIT, by="c", reason="r", request_id=request_id)
    assert refused.value.message == "request_id: 1-64 characters"
    assert desk.recon.discrepancy(found.id).status is DiscrepancyStatus.OPEN
