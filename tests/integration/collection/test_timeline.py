"""A bill's timeline on SQLite and PostgreSQL: created, changed, waived, its orders,
payments, refunds, a cancelled order and reminders, in time order with who and why; another
biller's caller is told the bill does not exist."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billfold import Biller, BillerKind, Engine
from billfold.adapters.outbox.fanout import fan_out
from billfold.adapters.outbox.reminders import api as reminders
from billfold.clock import FixedClock
from billfold.collection.bill_actions import BillChange
from billfold.collection.reminder import ReminderChannel, ReminderSettings
from billfold.collection.timeline import Happening
from billfold.errors import NotFound

CSV = """\
bill_no,payer_id,payer_name,payer_phone,amount,due_date,allow_partial
T1,1001,张三,13812345671,100.00,2026-09-30,yes
T2,1002,李四,13812345672,50.00,2026-09-30,no
"""

SMS = ReminderSettings(
    ReminderChannel.SMS,
    {"issued": "SMS_1", "due_soon": "SMS_2", "overdue": "SMS_3", "paid": "SMS_4"},
    sign_name="一中",
    credentials={"access_key_id": "LTAI5tTest", "access_key_secret_env": "S1_SMS_SECRET"},
)


def test_the_timeline_tells_what_happened_in_order_with_who_and_why(
    engine: Engine, clock: FixedClock
) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", CSV.encode())
    step = timedelta(minutes=1)
    clock.advance(step)
    engine.change_bill(BillChange("s1", "T1", reason="按新标准", by="王老师", amount_fen=12000))
    clock.advance(step)
    engine.waive("s1", "T1", 2000, reason="困难补助", granted_by="李主任", request_id="w1")
    clock.advance(step)
    dropped = engine.create_order("s1", ["T1"], amount_fen=1000)
    clock.advance(step)
    engine.cancel_order(dropped.order_no, reason="重复下单", by="王老师")
    clock.advance(step)
    order = engine.create_order("s1", ["T1"], amount_fen=4000)
    clock.advance(step)
    paid = engine.confirm("counter", "TX-1", order.order_no, 4000)
    clock.advance(step)
    refund = engine.refund(
        paid.payment.id, 500, request_id="r1", reason="多缴", requested_by="赵会计"
    )
    clock.advance(step)
    reminders.configure(engine, "s1", SMS, actor="admin")
    reminders.remind_bills(engine, "s1", ["T1", "T2"], actor="王老师", reason="家长未回复")
    fan_out(engine.db, clock)  # the outbox turns the events into reminders

    bill, entries = engine.bill_timeline("s1", "T1")
    assert bill.bill_no == "T1"
    assert [e.kind for e in entries] == [
        Happening.BILL_CREATED,
        Happening.BILL_CHANGED,
        Happening.BILL_WAIVED,
        Happening.ORDER_CREATED,
        Happening.ORDER_CANCELLED,
        Happening.ORDER_CREATED,
        Happening.PAYMENT,
        Happening.REFUND,
        Happening.REMINDED_BY_HAND,
        Happening.REMINDER,
    ]
    created, changed, waived, first, cancelled, second, payment, refunded, asked, reminder = entries
    assert created.amount_fen == 10000
    assert (changed.actor, changed.reason) == ("王老师", "按新标准")
    assert (changed.before_fen, changed.amount_fen) == (10000, 12000)
    assert (waived.actor, waived.reason, waived.amount_fen) == ("李主任", "困难补助", 2000)
    assert (first.ref, first.amount_fen) == (dropped.order_no, 1000)
    assert (cancelled.ref, cancelled.actor, cancelled.reason) == (
        dropped.order_no,
        "王老师",
        "重复下单",
    )
    assert (second.ref, payment.ref, payment.channel, payment.status) == (
        order.order_no,
        str(paid.payment.id),
        "counter",
        "credited",
    )
    assert (refunded.ref, refunded.amount_fen, refunded.actor, refunded.reason) == (
        refund.refund_no,
        500,
        "赵会计",
        "多缴",
    )
    assert (asked.actor, asked.reason, asked.status) == ("王老师", "家长未回复", "queued")
    assert (reminder.ref, reminder.channel, reminder.status) == ("due_soon", "sms", "pending")
    assert [e.at for e in entries] == sorted(e.at for e in entries)

    _, other = engine.bill_timeline("s1", "T2")
    assert [e.kind for e in other] == [
        Happening.BILL_CREATED,
        Happening.REMINDED_BY_HAND,
        Happening.REMINDER,
    ]


def test_a_cancelled_bill_and_a_refund_paid_out_show_with_their_reasons(
    engine: Engine, clock: FixedClock
) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", CSV.encode())
    order = engine.create_order("s1", ["T2"])
    paid = engine.confirm("counter", "TX-2", order.order_no, 5000)
    refund = engine.refund(paid.payment.id, 5000, request_id="r", reason="退学", requested_by="王")
    clock.advance(timedelta(hours=1))
    engine.complete_refund(refund.refund_no, succeeded=True, channel_refund_id="CR-1")
    engine.cancel_bill("s1", "T1", reason="录入错误", by="王老师")
    _, entries = engine.bill_timeline("s1", "T2")
    assert [e.kind for e in entries][-2:] == [Happening.REFUND, Happening.REFUND_DONE]
    assert (entries[-1].status, entries[-1].amount_fen) == ("succeeded", 5000)
    _, cancelled = engine.bill_timeline("s1", "T1")
    assert [(e.kind, e.actor, e.reason) for e in cancelled][-1] == (
        Happening.BILL_CANCELLED,
        "王老师",
        "录入错误",
    )


def test_another_billers_bill_does_not_exist_for_a_tenant(engine: Engine) -> None:
    for code in ("s1", "s2"):
        engine.create_biller(Biller(code=code, name=code, kind=BillerKind.SCHOOL))
    engine.import_bills("s2", CSV.encode())
    s1 = engine.biller("s1").id
    with pytest.raises(NotFound, match="biller 's2' does not exist"):
        engine.bill_timeline("s2", "T1", tenant=s1)
    with pytest.raises(NotFound, match="bill 'T9' does not exist for biller s2"):
        engine.bill_timeline("s2", "T9")
