"""Each background duty, run twice and on two threads at once: nothing happens twice.

Two threads on one database stand for two workers (on PostgreSQL they claim work with
SKIP LOCKED and conditional updates, as two processes would)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.reminders import reminders
from billfold.adapters.db.schema.settlement import settlement_batches
from billfold.adapters.outbox import dispatcher as outbox
from billfold.adapters.outbox.reminders import api as reminding
from billfold.channels.collect import Collector
from billfold.channels.qr import QrChannel
from billfold.channels.secrets import DictSecrets
from billfold.clock import FixedClock
from billfold.collection.order import OrderStatus
from billfold.collection.reminder import ReminderChannel, ReminderSettings
from billfold.jobs.config import parse_config
from billfold.jobs.duties import Duties, Ports
from billfold.merchants.channel_config import ChannelConfig
from billfold.testing.sandbox.gateway import Chaos, SandboxGateway
from billfold.testing.sandbox.qr import SandboxAcquirer
from billfold.testing.sandbox.reminders import SandboxReminderApi, sandbox_senders
from billfold.testing.webhooks import FakeTransport

SECRET = "jobs-webhook-secret-0123456789"
KEY = "stall-1-notify-key-0123456789abcd"


def at_once(job: Callable[[], Any], times: int = 2) -> list[Any]:
    """``job`` on ``times`` threads released together; their results (errors re-raised)."""
    gate = threading.Barrier(times)
    results: list[Any] = [None] * times
    errors: list[BaseException] = []

    def run(i: int) -> None:
        gate.wait()
        try:
            results[i] = job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(times)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return results


def duties(engine: Engine, ports: Ports | None = None, **config: Any) -> Duties:
    return Duties(engine, parse_config(config), ports or Ports())


def school(engine: Engine, bills: int = 3) -> list[str]:
    """A school with ``bills`` bills, each in an order; the order numbers."""
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    rows = "".join(f"T{i},2024{i:03d},10.00\n" for i in range(bills))
    engine.import_bills("s1", ("bill_no,payer_id,amount\n" + rows).encode())
    return [engine.create_order("s1", [f"T{i}"]).order_no for i in range(bills)]


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


# -- outbox ------------------------------------------------------------------------------------


def test_outbox_twice_and_at_once_delivers_each_event_once(engine: Engine) -> None:
    orders = school(engine, bills=4)
    for n, order_no in enumerate(orders):
        engine.confirm("counter", f"C{n}", order_no, 1000)
    outbox.add_endpoint(engine, "s1", "https://s1.example/hooks", SECRET, "*", actor="t")
    fake = FakeTransport()
    jobs = duties(engine, Ports(webhooks=fake))

    at_once(jobs.outbox)
    jobs.outbox()

    ids = fake.event_ids()
    assert len(ids) == len(set(ids)) == count(engine, t.outbox_events) == 8
    assert count(engine, t.outbox_deliveries, t.outbox_deliveries.c.status == "delivered") == 8


def test_outbox_without_a_transport_does_nothing_and_says_so(engine: Engine) -> None:
    assert duties(engine).outbox() == {"skipped": "no webhook transport"}


# -- expiry ------------------------------------------------------------------------------------


def test_expiry_twice_and_at_once_expires_each_order_once(
    engine: Engine, clock: FixedClock
) -> None:
    orders = school(engine, bills=5)
    clock.advance(timedelta(days=2))
    jobs = duties(engine)

    first = at_once(jobs.expiry)
    assert sum(r["expired"] for r in first) == 5
    assert jobs.expiry() == {"expired": 0}
    assert {engine.order(o).status for o in orders} == {OrderStatus.EXPIRED}
    assert engine.check_books() == []


# -- nonces ------------------------------------------------------------------------------------


def test_nonces_twice_and_at_once_forgets_each_old_nonce_once(
    engine: Engine, clock: FixedClock
) -> None:
    for n in range(6):
        engine.remember_nonce("wechatpay", f"n{n}")
    clock.advance(timedelta(minutes=61))
    engine.remember_nonce("wechatpay", "fresh")
    jobs = duties(engine)

    assert sum(r["forgotten"] for r in at_once(jobs.nonces)) == 6
    assert jobs.nonces() == {"forgotten": 0}
    assert count(engine, t.channel_nonces) == 1


def test_nonces_are_kept_at_least_ten_minutes_whatever_the_setting(
    engine: Engine, clock: FixedClock
) -> None:
    engine.remember_nonce("wechatpay", "n1")
    clock.advance(timedelta(minutes=9))
    assert duties(engine).nonces() == {"forgotten": 0}


# -- requery and refunds (an aggregated-QR stall through the sandbox aggregator) --------------


def stall(engine: Engine, clock: FixedClock) -> tuple[SandboxGateway, dict[str, QrChannel]]:
    engine.create_biller(Biller(code="stall1", name="刘记水果摊", kind=BillerKind.MARKET_STALL))
    settings = {
        "merchant_name_en": "LIU FRUIT STALL",
        "merchant_city_en": "HANGZHOU",
        "mcc": "5411",
        "notify_key_env": "STALL1_QR_KEY",
    }
    config = ChannelConfig("qr", merchant_id="M100001", settings=settings)
    engine.set_channel_config("stall1", config, actor="ops", reason="onboard")
    rows = "".join(f"P{i},A-{i},12.34\n" for i in range(3))
    engine.import_bills("stall1", ("bill_no,payer_id,amount\n" + rows).encode())
    gateway = SandboxGateway(clock, Chaos.calm(), seed=7)
    acquirer = SandboxAcquirer(gateway, {"M100001": KEY.encode()})
    channel = QrChannel.for_engine(
        engine, acquirer, DictSecrets({"STALL1_QR_KEY": KEY}), render=False
    )
    return gateway, {"qr": channel}


def paid_quietly(engine: Engine, gateway: SandboxGateway, channels: dict[str, QrChannel]) -> str:
    """Orders paid at the aggregator whose notifications never arrive."""
    collector = Collector(engine, channels)
    for i in range(3):
        order = engine.create_order("stall1", [f"P{i}"])
        collector.start(order.order_no, "qr")
        gateway.pay("qr", order.order_no)
    gateway.due()  # the notifications are lost
    return "stall1"


def test_requery_twice_and_at_once_credits_each_stuck_order_once(
    engine: Engine, clock: FixedClock
) -> None:
    gateway, channels = stall(engine, clock)
    paid_quietly(engine, gateway, channels)
    clock.advance(timedelta(minutes=11))
    jobs = duties(engine, Ports(channels=channels))

    results = at_once(jobs.requery)
    jobs.requery()

    assert sum(r["settled"] for r in results) == 3
    assert count(engine, t.payments) == 3
    assert engine.check_books() == []


def test_requery_without_channels_is_skipped_saying_why(engine: Engine) -> None:
    assert duties(engine).requery() == {"skipped": "no channels (--channels or BILLFOLD_CHANNELS)"}


def test_refunds_twice_and_at_once_pay_each_refund_once(engine: Engine, clock: FixedClock) -> None:
    gateway, channels = stall(engine, clock)
    paid_quietly(engine, gateway, channels)
    clock.advance(timedelta(minutes=11))
    jobs = duties(engine, Ports(channels=channels))
    jobs.requery()
    for payment_id in range(1, 4):
        engine.refund(payment_id, 234, request_id=f"r{payment_id}", reason="找零", requested_by="t")

    at_once(jobs.refunds)
    jobs.refunds()

    remote = [r for o in gateway.orders.values() for r in o.refunds]
    assert len(remote) == len({r.refund_no for r in remote}) == 3
    assert engine.pending_refunds() == []
    assert count(engine, t.refunds, t.refunds.c.status == "succeeded") == 3
    assert engine.check_books() == []


# -- settlement drafts ---------------------------------------------------------------------------


def test_settle_twice_and_at_once_leaves_one_draft_per_biller(
    engine: Engine, clock: FixedClock
) -> None:
    orders = school(engine, bills=2)
    for n, order_no in enumerate(orders):
        engine.confirm("counter", f"C{n}", order_no, 1000)
    jobs = duties(engine)
    day = str(engine.today())

    at_once(lambda: jobs.settle(day))
    again = jobs.settle(day)

    assert again == {"date": day, "drafted": 1, "kept": 0}
    assert count(engine, settlement_batches) == 1


# -- bureau ------------------------------------------------------------------------------------


def test_bureau_without_a_url_books_but_pushes_nothing(engine: Engine) -> None:
    assert duties(engine).bureau() == {
        "payments": 0,
        "reversals": 0,
        "refunds": 0,
        "pushes": "skipped: no bureau url, secret or transport",
    }


@pytest.mark.parametrize("name", ["outbox", "expiry", "nonces", "settle", "reconcile"])
def test_run_logs_the_summary_and_returns_it(engine: Engine, name: str) -> None:
    from billfold.testing import capture_logs

    with capture_logs() as logs:
        summary = duties(engine).run(name)
    [line] = [x for x in logs if x["event"] == "jobs.duty"]
    assert line["duty"] == name
    assert all(line[k] == v for k, v in summary.items())


# -- auto-debit ----------------------------------------------------------------------------------


def test_autodebit_twice_and_at_once_notices_and_debits_each_bill_once(
    engine: Engine, clock: FixedClock
) -> None:
    from datetime import UTC, datetime

    from billfold.channels.autodebit import AutoDebit
    from billfold.testing.sandbox.autodebit import SandboxBank

    engine.create_biller(Biller(code="w1", name="自来水公司", kind=BillerKind.UTILITY))
    engine.import_bills("w1", b"bill_no,payer_id,amount,due_date\nW1,H001,120.50,2026-09-03\n")
    bank = SandboxBank(SandboxGateway(clock))
    auto = AutoDebit(engine, bank)
    mandate = auto.sign(
        "w1", "H001", "6222 0212 3456 7890", per_debit_limit_fen=50_000,
        monthly_limit_fen=100_000, actor="teller",
    )  # fmt: skip
    auto.activate(mandate.mandate_no, agreement_no="AGR-1", actor="bank")
    jobs = duties(engine, Ports(bank=bank))

    clock.set(datetime(2026, 9, 1, 16, 0, tzinfo=UTC))  # the notice is due
    assert sum(r["noticed"] for r in at_once(jobs.autodebit)) == 1
    assert jobs.autodebit()["noticed"] == 0
    clock.set(datetime(2026, 9, 2, 16, 0, tzinfo=UTC))  # the debit is due
    assert sum(r["debited"] for r in at_once(jobs.autodebit)) == 1
    assert jobs.autodebit()["debited"] == 0

    assert [r.amount_fen for r in bank.requests] == [12_050]
    assert engine.bill("w1", "W1").paid_fen == 12_050
    assert engine.check_books() == []


# -- reminders ---------------------------------------------------------------------------------


def test_reminders_twice_and_at_once_remind_each_bill_once(engine: Engine) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    rows = "".join(f"R{i},2024{i:03d},10.00,1381234{i:04d},2026-09-04\n" for i in range(6))
    engine.import_bills("s1", ("bill_no,payer_id,amount,payer_phone,due_date\n" + rows).encode())
    settings = ReminderSettings(
        ReminderChannel.SMS,
        {"due_soon": "SMS_1"},
        sign_name="一中",
        credentials={"access_key_id": "LTAI", "access_key_secret_env": "SMS_SECRET"},
    )
    reminding.configure(engine, "s1", settings, actor="admin")
    box = SandboxReminderApi(sms_keys={"LTAI": "sms-secret-value"})
    senders, _ = sandbox_senders(engine.clock, {"SMS_SECRET": "sms-secret-value"}, box)
    jobs = duties(engine, Ports(reminders=senders))

    first = at_once(jobs.reminders)
    again = jobs.reminders()

    assert sum(r["due_soon"] for r in first) == 6 and again["due_soon"] == 0
    assert sum(r["sent"] for r in first) + again["sent"] == 6
    phones = [m.address for m in box.messages]
    assert len(phones) == len(set(phones)) == 6
    assert count(engine, reminders, reminders.c.status == "sent") == 6
    assert count(engine, t.outbox_events, t.outbox_events.c.event_type == "reminder.due_soon") == 6


def test_reminders_without_senders_make_them_but_send_nothing(engine: Engine) -> None:
    summary = duties(engine).reminders()
    assert summary == {
        "issued": 0,
        "due_soon": 0,
        "overdue": 0,
        "events": 0,
        "sending": "skipped: no reminder channels",
    }
