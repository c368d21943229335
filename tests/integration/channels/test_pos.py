"""POS terminals — presale supervision terminals included — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from billfold import Biller, BillerKind, Engine, PaymentStatus, SubUnit, SubUnitKind
from billfold.adapters.db import schema as t
from billfold.channels.pos import PosChannel, PosDecline, Reversal, Sale, Void
from billfold.channels.pos_batch import BatchLine, BatchTotals, PosKind, TerminalStatus
from billfold.clock import FixedClock
from billfold.errors import InvalidInput, NotFound
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing.pos import FakeTerminal

# House-purchase money of two supervised projects, and a bill of no project.
BILLS = b"""bill_no,payer_id,amount,sub_unit
HT-001,C-001,200000.00,P1
HT-002,C-002,150000.00,P1
HT-101,C-101,300000.00,P2
FEE-1,C-900,500.00,
"""


@pytest.fixture
def pos(engine: Engine) -> PosChannel:
    projects = (
        SubUnit("P1", "一期", SubUnitKind.PROJECT),
        SubUnit("P2", "二期", SubUnitKind.PROJECT),
    )
    engine.create_biller(
        Biller(code="dev1", name="安居置业", kind=BillerKind.HOUSING_DEVELOPER, sub_units=projects)
    )
    engine.import_bills("dev1", BILLS)
    channel = PosChannel(engine)
    channel.register_terminal("T1000001", "dev1", sub_unit="P1", actor="ops")
    channel.register_terminal("T2000002", "dev1", actor="ops")
    return channel


@pytest.fixture
def t1(pos: PosChannel) -> FakeTerminal:
    return FakeTerminal(pos, "T1000001")


def payments(engine: Engine) -> list[tuple[str, str, int]]:
    with engine.uow() as uow:
        rows = uow.conn.execute(
            select(
                t.payments.c.channel_txn_id, t.payments.c.status, t.payments.c.amount_fen
            ).order_by(t.payments.c.id)
        ).all()
    return [(r.channel_txn_id, r.status, r.amount_fen) for r in rows]


def events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    with engine.uow() as uow:
        rows = uow.conn.execute(
            select(t.outbox_events.c.payload).where(t.outbox_events.c.event_type == kind)
        ).scalars()
        return [json.loads(row)["data"] for row in rows]


def test_a_sale_for_a_bill_of_the_terminals_project_is_approved_once(
    pos: PosChannel, t1: FakeTerminal
) -> None:
    engine = pos.engine
    answer = t1.sale(20_000_000, bill_ref="HT-001")
    assert answer is not None and answer.approved and answer.response_code == "00"
    assert engine.bill("dev1", "HT-001").paid_fen == 20_000_000
    assert payments(engine) == [("T1000001:000001:000001", "credited", 20_000_000)]

    again = pos.sale(Sale("T1000001", "000001", "000001", 20_000_000, bill_ref="HT-001"))
    assert again == answer
    assert len(payments(engine)) == 1 and engine.check_books() == []


def test_an_approved_sale_writes_its_pos_sale_event_with_the_credit(
    pos: PosChannel, t1: FakeTerminal
) -> None:
    t1.sale(20_000_000, bill_ref="HT-001")
    [sale_event] = events(pos.engine, "pos.sale")
    assert sale_event["project"] == "P1" and sale_event["card"] == "622202******7890"


def test_a_sale_for_an_order_checks_biller_amount_and_state(
    pos: PosChannel, t1: FakeTerminal
) -> None:
    engine = pos.engine
    order = engine.create_order("dev1", ["HT-002"])
    short = t1.sale(100, order_no=order.order_no)
    assert short is not None and short.decline is PosDecline.AMOUNT_MISMATCH
    assert short.message == f"order {order.order_no} is for 150000.00, not 1.00"
    assert short.response_code == "13"
    paid = t1.sale(15_000_000, order_no=order.order_no)
    assert paid is not None and paid.approved and paid.order_no == order.order_no
    late = t1.sale(15_000_000, order_no=order.order_no)
    assert late is not None and late.decline is PosDecline.NOT_PAYABLE
    assert late.message == f"order {order.order_no} is paid; it takes no payment"
    unknown = t1.sale(100, order_no="BF-NOPE")
    assert unknown is not None and unknown.decline is PosDecline.NOT_FOUND
    assert unknown.response_code == "25"
    assert engine.check_books() == []


def test_a_project_terminal_refuses_bills_of_another_project(
    pos: PosChannel, t1: FakeTerminal
) -> None:
    other = t1.sale(30_000_000, bill_ref="HT-101")
    assert other is not None and not other.approved
    assert other.decline is PosDecline.WRONG_PROJECT and other.response_code == "58"
    assert other.message == (
        "terminal T1000001 takes payments for project P1 only; bill HT-101 belongs to project P2"
    )
    none = t1.sale(50_000, bill_ref="FEE-1")
    assert none is not None and none.message.endswith("bill FEE-1 belongs to no project")
    assert payments(pos.engine) == [] and pos.engine.bill("dev1", "HT-101").paid_fen == 0
    unbound = FakeTerminal(pos, "T2000002").sale(50_000, bill_ref="FEE-1")
    assert unbound is not None and unbound.approved


def test_unknown_and_disabled_terminals_are_declined(pos: PosChannel) -> None:
    stranger = FakeTerminal(pos, "T9").sale(100, bill_ref="FEE-1")
    assert stranger is not None and stranger.decline is PosDecline.UNKNOWN_TERMINAL
    assert stranger.message == "terminal T9 is not registered" and stranger.response_code == "03"
    pos.set_terminal_status("T2000002", TerminalStatus.DISABLED, actor="ops", reason="stolen")
    off = FakeTerminal(pos, "T2000002").sale(50_000, bill_ref="FEE-1")
    assert off is not None and off.decline is PosDecline.TERMINAL_DISABLED
    assert off.message == "terminal T2000002 is disabled" and payments(pos.engine) == []


def test_a_sale_through_a_biller_that_takes_only_another_channel_is_declined(
    pos: PosChannel, t1: FakeTerminal
) -> None:
    pos.engine.set_channel_config(
        "dev1", ChannelConfig("mobile_banking", sole=True), actor="ops", reason="contract"
    )
    answer = t1.sale(20_000_000, bill_ref="HT-001")
    assert answer is not None and answer.decline is PosDecline.CHANNEL_REFUSED
    assert "dev1 collects only through mobile_banking" in answer.message


def test_a_same_day_void_before_the_close_reverses_the_sale(
    pos: PosChannel, t1: FakeTerminal
) -> None:
    engine = pos.engine
    t1.sale(20_000_000, bill_ref="HT-001")
    void = t1.void("000001")
    assert void.approved and void.trace_no == "000002"
    assert engine.bill("dev1", "HT-001").paid_fen == 0
    assert payments(engine) == [("T1000001:000001:000001", "reversed", 20_000_000)]
    assert pos.void(Void("T1000001", "000001", "000002", "000001", 20_000_000)) == void
    second = t1.void("000001", 20_000_000)
    assert second.decline is PosDecline.REFUSED
    assert second.message == "sale 000001 was voided by trace 000002"
    wrong = t1.void("000099", 100)
    assert wrong.decline is PosDecline.NOT_FOUND
    assert wrong.message == "no approved sale 000099 in batch 000001 of terminal T1000001"
    assert engine.check_books() == []


def test_a_void_of_a_whole_sale_only(pos: PosChannel, t1: FakeTerminal) -> None:
    t1.sale(20_000_000, bill_ref="HT-001")
    part = t1.void("000001", 100)
    assert part.decline is PosDecline.AMOUNT_MISMATCH
    assert part.message == "a void is for the whole sale: 200000.00, not 1.00"


def test_a_void_on_another_day_or_after_the_close_points_to_a_refund(
    pos: PosChannel, t1: FakeTerminal, clock: FixedClock
) -> None:
    t1.sale(20_000_000, bill_ref="HT-001")
    clock.advance(hours=14)  # 2026-09-02 00:00 in Shanghai; the batch is still open
    late = t1.void("000001")
    assert late.decline is PosDecline.USE_REFUND
    assert late.message == (
        "sale 000001 was made on 2026-09-01; only same-day sales can be voided — refund it instead"
    )
    clock.set(clock.now() - timedelta(hours=14))
    t1.settle()
    closed = pos.void(Void("T1000001", "000001", "000009", "000001", 20_000_000))
    assert closed.decline is PosDecline.USE_REFUND
    assert closed.message == (
        "batch 000001 of terminal T1000001 is closed; "
        "a settled sale cannot be voided — refund it (退货) instead"
    )
    assert pos.engine.bill("dev1", "HT-001").paid_fen == 20_000_000


def test_a_reversal_after_a_lost_answer_undoes_the_sale_and_repeats_safely(
    pos: PosChannel, t1: FakeTerminal
) -> None:
    engine = pos.engine
    assert t1.sale(20_000_000, bill_ref="HT-001", lose="answer") is None
    assert engine.bill("dev1", "HT-001").paid_fen == 20_000_000  # billfold took it
    first = t1.reverse_unanswered()
    assert first.approved and first.message == "approved"
    assert engine.bill("dev1", "HT-001").paid_fen == 0
    again = pos.reverse(Reversal("T1000001", "000001", "000001", 20_000_000))
    assert again == first
    assert payments(engine) == [("T1000001:000001:000001", "reversed", 20_000_000)]
    assert engine.check_books() == []


def test_a_reversal_before_the_sale_arrives_makes_the_late_sale_credit_nothing(
    pos: PosChannel, t1: FakeTerminal
) -> None:
    engine = pos.engine
    assert t1.sale(20_000_000, bill_ref="HT-001", lose="request") is None
    lost = t1.unanswered
    assert lost is not None
    answer = t1.reverse_unanswered()
    assert answer.approved and answer.message == "approved; nothing had been taken"
    late = pos.sale(lost)  # the network delivers the sale after all
    assert not late.approved and late.decline is PosDecline.REVERSED
    assert late.message == "sale 000001 was reversed (冲正) before it arrived; nothing was taken"
    assert engine.bill("dev1", "HT-001").paid_fen == 0
    assert payments(engine) == [("T1000001:000001:000001", "reversed", 0)]
    assert engine.trial_balance() == {} and engine.check_books() == []


def test_a_refund_after_settlement_and_not_before(pos: PosChannel, t1: FakeTerminal) -> None:
    engine = pos.engine
    t1.sale(20_000_000, bill_ref="HT-001")
    early = t1.refund("000001", "000001", 5_000_000)
    assert early.decline is PosDecline.USE_VOID
    assert early.message.startswith("batch 000001 is not settled yet; void the sale the same day")
    assert t1.settle().agreed
    refund = t1.refund("000001", "000001", 5_000_000)
    assert refund.approved and refund.refund_no and refund.trace_no == "000003"
    assert engine.bill("dev1", "HT-001").paid_fen == 15_000_000
    assert engine.pending_refunds() == []  # paid out by the acquirer at once
    too_much = t1.refund("000001", "000001", 15_000_001)
    assert too_much.decline is PosDecline.AMOUNT_MISMATCH
    assert too_much.message.startswith("amount: 150000.01 is more than the 150000.00 left")
    other = FakeTerminal(pos, "T2000002").refund(
        "000001", "000001", 100, original_terminal_id="T1000001"
    )
    assert other.approved  # any terminal of the same biller may refund
    result = t1.settle()
    assert result.agreed and result.billfold == BatchTotals(refund_count=1, refund_fen=5_000_000)
    assert engine.check_books() == []


def test_a_batch_close_agrees_with_the_engines_totals(pos: PosChannel, t1: FakeTerminal) -> None:
    engine = pos.engine
    t1.sale(20_000_000, bill_ref="HT-001")
    t1.sale(15_000_000, bill_ref="HT-002")
    t1.void("000002")
    t1.sale(30_000_000, bill_ref="HT-001", lose="answer")  # HT-001 is paid: declined anyway
    t1.reverse_unanswered()
    uploaded = [BatchLine(trace, kind, fen) for (trace, kind), fen in t1.lines.items()]
    result = t1.settle()
    assert result.agreed and result.differences == ()
    assert result.billfold == BatchTotals(2, 35_000_000, 1, 15_000_000, 0, 0)
    assert result.terminal == result.billfold
    [closed] = events(engine, "pos.batch_closed")
    assert closed["agreed"] is True and closed["billfold"]["sale_fen"] == 35_000_000
    after = pos.sale(Sale("T1000001", "000001", "000009", 100, bill_ref="FEE-1"))
    assert after.decline is PosDecline.BATCH_CLOSED
    assert after.message == "batch 000001 of terminal T1000001 is closed"
    again = pos.close_batch("T1000001", "000001", result.terminal, uploaded)
    assert again.already_closed and again.agreed
    assert len(events(engine, "pos.batch_closed")) == 1


def test_a_batch_close_that_disagrees_lists_the_differing_traces(
    pos: PosChannel, t1: FakeTerminal
) -> None:
    t1.sale(20_000_000, bill_ref="HT-001")
    t1.sale(15_000_000, bill_ref="HT-002")
    t1.lines[("000002", PosKind.SALE)] = 14_000_000  # the terminal misrecorded it
    t1.lines[("000007", PosKind.SALE)] = 500  # approved offline, never reached billfold
    result = t1.settle()
    assert not result.agreed
    assert result.differing_traces == ["000002", "000007"]
    assert [str(d) for d in result.differences] == [
        "trace 000002 sale: terminal 140000.00, billfold 150000.00",
        "trace 000007 sale: terminal 5.00, billfold nothing",
    ]
    [closed] = events(pos.engine, "pos.batch_closed")
    assert closed["agreed"] is False and closed["differing_traces"] == ["000002", "000007"]


def test_batch_close_mistakes_are_refused_with_the_reason(pos: PosChannel) -> None:
    line = BatchLine("000001", PosKind.SALE, 100)
    with pytest.raises(InvalidInput, match=r"totals: the terminal's totals \(sales 2/2.00"):
        pos.close_batch("T1000001", "000001", BatchTotals(2, 200), [line])
    with pytest.raises(InvalidInput, match="line 2: trace 000001 sale repeats"):
        pos.close_batch("T1000001", "000001", BatchTotals(2, 200), [line, line])
    with pytest.raises(InvalidInput, match="line 1: trace_no: '1' must be exactly 6 digits"):
        pos.close_batch(
            "T1000001", "000001", BatchTotals(1, 100), [BatchLine("1", PosKind.SALE, 100)]
        )
    with pytest.raises(NotFound, match="terminal 'T404' is not registered"):
        pos.close_batch("T404", "000001", BatchTotals(), [])


def test_terminal_messages_and_registrations_are_checked(pos: PosChannel) -> None:
    with pytest.raises(InvalidInput, match="sale: give either order_no or bill_ref"):
        Sale("T1000001", "000001", "000001", 100)
    with pytest.raises(InvalidInput, match="trace_no: '12' must be exactly 6 digits"):
        Sale("T1000001", "000001", "12", 100, bill_ref="X")
    with pytest.raises(InvalidInput, match="card: only a masked card number"):
        Sale("T1000001", "000001", "000001", 100, bill_ref="X", card_masked="6222021234567890")
    with pytest.raises(InvalidInput, match="amount: must be a positive integer number of fen"):
        Sale("T1000001", "000001", "000001", 0, bill_ref="X")
    with pytest.raises(InvalidInput, match="terminal_id: 'T-1' must be 1-16 letters or digits"):
        pos.register_terminal("T-1", "dev1", actor="ops")
    with pytest.raises(InvalidInput, match="terminal T1000001 is already registered"):
        pos.register_terminal("T1000001", "dev1", actor="ops")
    with pytest.raises(InvalidInput, match="sub_unit: dev1 has no sub-unit 'P9'"):
        pos.register_terminal("T3", "dev1", sub_unit="P9", actor="ops")
    with pytest.raises(NotFound, match="biller 'nope' does not exist"):
        pos.register_terminal("T3", "nope", actor="ops")
    audit = pos.engine.audit_log("pos_terminal", "T1000001")
    assert audit[0]["after"] == {"status": "active", "sub_unit": "P1"}


def test_the_same_sale_sent_twice_at_once_is_taken_once(pos: PosChannel) -> None:
    sale = Sale("T1000001", "000001", "000001", 20_000_000, bill_ref="HT-001")
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda: answers.append(pos.sale(sale))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(answers) == 3 and all(a.approved for a in answers)
    assert [p[1] for p in payments(pos.engine)] == [PaymentStatus.CREDITED.value]
    assert pos.engine.check_books() == []


def test_a_sale_credited_before_a_crash_is_approved_when_the_terminal_repeats_it(
    pos: PosChannel,
) -> None:
    engine = pos.engine
    order = engine.create_order("dev1", ["HT-002"])
    first = engine.confirm("pos", "T1000001:000001:000004", order.order_no, 15_000_000)
    # billfold died before it kept the terminal's message; the terminal sends it again
    answer = pos.sale(Sale("T1000001", "000001", "000004", 15_000_000, order_no=order.order_no))
    assert answer.approved and answer.payment_id == first.payment.id
    assert len(payments(engine)) == 1 and engine.check_books() == []
