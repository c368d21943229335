"""Resolving discrepancies: each action through the engine's own paths, who/when/why kept,
bad resolutions refused by name; and payments that cross midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from recon_fixtures import (  # type: ignore[import-not-found]
    DAY,
    ChannelSays,
    Desk,
    wx_bill,
    wx_payment,
)

from billfold import BillStatus, OrderStatus, PaymentStatus
from billfold.channels.base import RemoteState
from billfold.errors import InvalidInput
from billfold.settlement.advice import ChannelWord
from billfold.settlement.discrepancy import Action, Code, DiscrepancyStatus


def _run(desk: Desk, *rows: str, day: date = DAY) -> list[object]:
    result = desk.recon.reconcile(
        wx_bill(*rows), format="wechatpay", business_date=day, file_name=f"wx-{day}.csv"
    )
    return list(result.discrepancies)


def test_writing_off_a_shortage_books_it_and_records_who_when_and_why(desk: Desk) -> None:
    desk.school()
    a, b = desk.orders("100.00", "30.00")
    desk.pay(a, "W0")
    desk.pay(b, "W1")
    (missing,) = desk.recon.reconcile(
        wx_bill(wx_payment("W0", a.order_no, 10000, 60)), format="wechatpay", business_date=DAY
    ).discrepancies
    assert missing.code is Code.ENGINE_ONLY and missing.id is not None
    desk.clock.advance(hours=3)
    done = desk.recon.resolve(
        missing.id, Action.WRITE_OFF, by="clerk-wang", reason="channel confirmed it never took it"
    )
    assert done.status is DiscrepancyStatus.RESOLVED and done.action is Action.WRITE_OFF
    assert done.resolved_by == "clerk-wang" and done.resolved_at == desk.clock.now()
    assert done.resolution == "channel confirmed it never took it"
    assert done.resolution_ref == "write-off -30.00 to clearing:wechatpay"
    balance = desk.engine.trial_balance()
    assert balance["recon_differences"] == 3000
    assert balance["clearing:wechatpay"] == 10000  # only what the channel really owes
    (record,) = desk.engine.audit_log("discrepancy", str(missing.id))
    assert record["actor"] == "clerk-wang" and record["after"]["action"] == "write_off"
    assert desk.engine.check_books() == []


def test_reversing_a_payment_the_channel_never_took_makes_the_bill_owed_again(
    desk: Desk,
) -> None:
    desk.school()
    (a,) = desk.orders("30.00")
    desk.pay(a, "W1")
    (missing,) = _run(desk)
    assert missing.code is Code.ENGINE_ONLY  # type: ignore[attr-defined]
    said = desk.recon.ask_channel(missing.id, ChannelSays(RemoteState.NOT_FOUND), by="clerk")  # type: ignore[attr-defined]
    assert said.word is ChannelWord.DENIES
    done = desk.recon.resolve(
        missing.id,  # type: ignore[attr-defined]
        Action.REVERSE,
        by="clerk",
        reason="forged notification",
    )
    assert done.action is Action.REVERSE and done.resolution_ref is not None
    assert desk.engine.order(a.order_no).status is OrderStatus.REVERSED
    bill = desk.engine.bill("s1", "B0001")
    assert bill.status(DAY) is BillStatus.OPEN and bill.outstanding_fen == 3000
    assert desk.engine.check_books() == []


def test_a_lost_notification_for_an_order_that_is_gone_goes_to_suspense_with_a_refund(
    desk: Desk,
) -> None:
    desk.school()
    (a,) = desk.orders("30.00")
    desk.engine.cancel_bill("s1", "B0001", reason="duplicate bill", by="clerk")
    result = desk.recon.reconcile(
        wx_bill(wx_payment("W7", "BF-NO-SUCH-ORDER", 3000, 18)),
        format="wechatpay",
        business_date=DAY,
    )
    (auto,) = result.auto_resolved
    assert auto.action is Action.CREDIT and auto.payment_id is not None
    assert "kept in suspense" in (auto.resolution or "")
    assert desk.engine.payment(auto.payment_id).status is PaymentStatus.SUSPENSE
    (refund,) = desk.engine.pending_refunds()
    assert refund.amount_fen == 3000
    assert desk.engine.order(a.order_no).status is OrderStatus.CREATED
    assert desk.engine.check_books() == []


def test_refunding_an_amount_mismatch_goes_through_the_engines_refund(desk: Desk) -> None:
    desk.school()
    (a,) = desk.orders("100.00")
    desk.pay(a, "W0")
    (found,) = _run(desk, wx_payment("W0", a.order_no, 12000, 72))
    assert found.code is Code.AMOUNT_MISMATCH  # type: ignore[attr-defined]
    done = desk.recon.resolve(
        found.id,  # type: ignore[attr-defined]
        Action.REFUND,
        by="clerk",
        reason="payer asked for the money back",
        amount_fen=2500,
    )
    (refund,) = desk.engine.pending_refunds()
    assert done.resolution_ref == refund.refund_no and refund.amount_fen == 2500
    assert refund.request_id == f"recon-{done.id}"
    assert desk.engine.check_books() == []


def test_bad_resolutions_are_refused_by_name_and_change_nothing(desk: Desk) -> None:
    desk.school()
    a, b = desk.orders("100.00", "100.00")
    desk.pay(a, "W0")
    desk.pay(b, "W1")
    found = _run(desk, wx_payment("W0", a.order_no, 10000, 90))
    fee = next(d for d in found if d.code is Code.FEE_MISMATCH)  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as wrong:
        desk.recon.resolve(fee.id, Action.WRITE_OFF, by="clerk", reason="x")  # type: ignore[attr-defined]
    assert wrong.value.message == (
        "action: write_off does not resolve a fee_mismatch discrepancy; use accept"
    )
    with pytest.raises(InvalidInput, match="^reason: say why"):
        desk.recon.resolve(fee.id, Action.ACCEPT, by="clerk", reason=" ")  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="^by: say who"):
        desk.recon.resolve(fee.id, Action.ACCEPT, by="", reason="contract rate")  # type: ignore[attr-defined]
    journal = desk.engine.trial_balance()
    desk.recon.resolve(fee.id, Action.ACCEPT, by="clerk", reason="new contract rate")  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as twice:
        desk.recon.resolve(fee.id, Action.ACCEPT, by="clerk", reason="again")  # type: ignore[attr-defined]
    assert twice.value.message == (
        f"discrepancy {fee.id} is resolved; only open ones can be resolved"  # type: ignore[attr-defined]
    )
    assert desk.engine.trial_balance() == journal
    assert len(desk.engine.audit_log("discrepancy")) == 1


def test_a_payment_after_midnight_in_yesterdays_statement_is_matched_across_days(
    desk: Desk,
) -> None:
    desk.school()
    late = datetime(2026, 9, 1, 16, 0, 1, tzinfo=UTC)  # 00:00:01 on 2 September in Shanghai
    desk.clock.set(late - timedelta(minutes=5))
    (a,) = desk.orders("30.00")
    desk.engine.confirm("wechatpay", "W9", a.order_no, 3000, paid_at=late)
    next_day = DAY + timedelta(days=1)
    (missing,) = _run(desk, day=next_day)  # the 2nd's statement does not have it
    assert missing.code is Code.ENGINE_ONLY  # type: ignore[attr-defined]
    # The channel booked it at 23:59:59 on the 1st: it is in the 1st's statement.
    (crossed,) = _run(
        desk, wx_payment("W9", a.order_no, 3000, 18, when=late - timedelta(seconds=2))
    )
    assert crossed.code is Code.CROSS_DAY  # type: ignore[attr-defined]
    assert crossed.status is DiscrepancyStatus.RESOLVED  # type: ignore[attr-defined]
    closed = desk.recon.discrepancy(missing.id)  # type: ignore[attr-defined]
    assert closed.status is DiscrepancyStatus.RESOLVED and closed.resolved_by == "billfold"
    assert (
        closed.resolution
        == "found in wx-2026-09-01.csv:2 (the statement for another business date)"
    )
    # A corrected statement for the 2nd: the payment is not missing there any more.
    revoked = wx_payment("W8", "BF-OTHER", 100, 0).replace("`SUCCESS", "`REVOKED")
    assert _run(desk, revoked, day=next_day) == []
