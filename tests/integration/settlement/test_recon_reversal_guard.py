"""An engine-only payment (短款) is reversed only after its channel has been asked and said it
does not exist (issue 11): a statement that does not show a payment is no proof the payer
never paid. Every refusal names why and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from recon_fixtures import DAY, ChannelSays, Desk, wx_bill  # type: ignore[import-not-found]

from billfold import OrderStatus
from billfold.channels.base import ChannelEvent, EventKind, RemoteState
from billfold.errors import InvalidInput
from billfold.settlement.advice import ChannelWord
from billfold.settlement.discrepancy import Action, Code, Discrepancy, DiscrepancyStatus


def _missing(desk: Desk) -> tuple[Discrepancy, str]:
    desk.school()
    (a,) = desk.orders("4000.00")
    desk.pay(a, "W1")
    (missing,) = desk.recon.reconcile(
        wx_bill(), format="wechatpay", business_date=DAY
    ).discrepancies
    assert missing.code is Code.ENGINE_ONLY and missing.id is not None
    return missing, a.order_no


def _unchanged(desk: Desk, missing: Discrepancy, order_no: str) -> None:
    assert missing.id is not None
    assert desk.recon.discrepancy(missing.id).status is DiscrepancyStatus.OPEN
    assert desk.engine.order(order_no).status is OrderStatus.PAID
    assert desk.engine.trial_balance()["clearing:wechatpay"] == 400_000


def test_reverse_is_neither_advised_nor_allowed_before_the_channel_is_asked(desk: Desk) -> None:
    missing, order_no = _missing(desk)
    assert missing.id is not None
    assert Action.REVERSE not in desk.recon.advice(missing.id)
    with pytest.raises(InvalidInput) as refused:
        desk.recon.resolve(missing.id, Action.REVERSE, by="clerk", reason="not on the statement")
    assert refused.value.message.startswith("action: 冲正前须先向渠道查询 (ask the channel first)")
    assert f"billfold reconcile ask {missing.id}" in refused.value.message
    _unchanged(desk, missing, order_no)


def test_a_payment_the_channel_confirms_is_never_reversed(desk: Desk) -> None:
    missing, order_no = _missing(desk)
    assert missing.id is not None
    paid = ChannelEvent(
        "wechatpay", EventKind.PAID, order_no, "W1", 400_000, datetime(2026, 9, 1, tzinfo=UTC)
    )
    channel = ChannelSays(RemoteState.PAID, paid)
    answer = desk.recon.ask_channel(missing.id, channel, by="clerk-li")
    assert channel.asked == [order_no]
    assert (answer.state, answer.word, answer.channel_txn_id) == (
        "paid",
        ChannelWord.CONFIRMS,
        "W1",
    )
    assert Action.REVERSE not in desk.recon.advice(missing.id)
    with pytest.raises(InvalidInput) as refused:
        desk.recon.resolve(missing.id, Action.REVERSE, by="clerk", reason="not on the statement")
    assert refused.value.message.startswith(
        "action: 渠道确认该笔支付存在，不能冲正 (the channel confirms payment W1 (4000.00))"
    )
    _unchanged(desk, missing, order_no)
    (asked,) = [a for a in desk.engine.audit_log("discrepancy", str(missing.id))]
    assert asked["actor"] == "clerk-li" and asked["after"]["word"] == "confirms"


def test_a_channel_still_pending_leaves_the_payment_alone(desk: Desk) -> None:
    missing, order_no = _missing(desk)
    assert missing.id is not None
    desk.recon.ask_channel(missing.id, ChannelSays(RemoteState.PENDING), by="clerk")
    with pytest.raises(InvalidInput) as refused:
        desk.recon.resolve(missing.id, Action.REVERSE, by="clerk", reason="not on the statement")
    assert "渠道尚无定论" in refused.value.message
    _unchanged(desk, missing, order_no)


def test_a_channel_that_denies_the_payment_allows_a_reversal_with_a_reason(desk: Desk) -> None:
    missing, order_no = _missing(desk)
    assert missing.id is not None
    desk.recon.ask_channel(missing.id, ChannelSays(RemoteState.NOT_FOUND), by="clerk")
    assert Action.REVERSE in desk.recon.advice(missing.id)
    with pytest.raises(InvalidInput) as no_reason:
        desk.recon.resolve(missing.id, Action.REVERSE, by="clerk", reason="  ")
    assert no_reason.value.message == "reason: say why the discrepancy is resolved this way"
    _unchanged(desk, missing, order_no)
    done = desk.recon.resolve(missing.id, Action.REVERSE, by="clerk", reason="forged notice")
    assert done.action is Action.REVERSE and done.status is DiscrepancyStatus.RESOLVED
    assert desk.engine.order(order_no).status is OrderStatus.REVERSED
    assert desk.engine.check_books() == []


def test_only_an_open_engine_only_payment_is_asked_about(desk: Desk) -> None:
    missing, _ = _missing(desk)
    assert missing.id is not None
    desk.recon.resolve(missing.id, Action.ACCEPT, by="clerk", reason="in tomorrow's file")
    channel = ChannelSays(RemoteState.NOT_FOUND)
    with pytest.raises(InvalidInput) as refused:
        desk.recon.ask_channel(missing.id, channel, by="clerk")
    assert "the channel is asked about open engine_only payments" in refused.value.message
    assert channel.asked == []
