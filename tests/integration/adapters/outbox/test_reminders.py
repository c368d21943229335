"""Payer reminders on SQLite and PostgreSQL: from outbox events to sent SMS and WeChat
messages, once per bill, kind and day; opt-outs, quiet hours, retries, masked logs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import IntegrityError
from structlog.testing import capture_logs

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.reminders import reminders
from billfold.adapters.outbox.fanout import fan_out
from billfold.adapters.outbox.reminders import api
from billfold.adapters.outbox.reminders.api import RemindOutcome
from billfold.adapters.outbox.reminders.message import ReminderSender
from billfold.adapters.outbox.retry import RetryPolicy
from billfold.clock import FixedClock, SystemClock
from billfold.collection.bill import Bill, BillItem
from billfold.collection.payer import IdentifierKind, Payer
from billfold.collection.reminder import ReminderChannel, ReminderKind, ReminderSettings
from billfold.errors import InvalidInput, NotFound
from billfold.testing.sandbox.reminders import SandboxReminderApi, sandbox_senders

SECRET = "AliyunSecretValue-0123456789"
APP_SECRET = "WechatAppSecret-0123456789abcdef"
PHONES = {"T1": "13812345678", "T2": "13987654321", "T3": "13700001111"}
CSV = (
    "bill_no,payer_id,amount,payer_phone,due_date\n"
    "T1,2024001,4880.00,13812345678,2026-09-04\n"  # due in 3 days
    "T2,2024002,120.50,13987654321,2026-08-31\n"  # 1 day overdue
    "T3,2024003,99.00,13700001111,2026-09-20\n"
)
SMS_ALL = ReminderSettings(
    ReminderChannel.SMS,
    {"issued": "SMS_100", "due_soon": "SMS_101", "overdue": "SMS_102", "paid": "SMS_103"},
    sign_name="第一中学",
    credentials={"access_key_id": "LTAI5tTest", "access_key_secret_env": "S1_SMS_SECRET"},
)
#: without bill notices: the bills imported by school() would each get one
SMS = ReminderSettings(
    SMS_ALL.channel,
    {k: v for k, v in SMS_ALL.templates.items() if k != "issued"},
    sign_name=SMS_ALL.sign_name,
    credentials=SMS_ALL.credentials,
)


def school(engine: Engine, settings: ReminderSettings = SMS) -> None:
    engine.create_biller(Biller(code="s1", name="第一中学", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", CSV.encode())
    api.configure(engine, "s1", settings, actor="admin", reason="开通短信提醒")


def sandbox(engine: Engine) -> tuple[dict[str, ReminderSender], SandboxReminderApi]:
    box = SandboxReminderApi(sms_keys={"LTAI5tTest": SECRET}, wechat_apps={"wx1": APP_SECRET})
    senders, _ = sandbox_senders(
        engine.clock, {"S1_SMS_SECRET": SECRET, "S1_WX_SECRET": APP_SECRET}, box
    )
    return senders, box


def rows(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.db.connect() as conn:
        found = conn.execute(
            select(t.bills.c.bill_no, reminders.c.kind, reminders.c.status)
            .join(t.bills, t.bills.c.id == reminders.c.bill_id)
            .order_by(t.bills.c.bill_no, reminders.c.kind)
        )
        return [(r.bill_no, r.kind, r.status) for r in found]


def count(engine: Engine, table: Table) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# -- the duty's part: due soon and overdue ------------------------------------------------------


def test_due_soon_and_overdue_are_sent_once_each_with_chinese_texts_in_yuan(
    engine: Engine,
) -> None:
    school(engine)
    senders, box = sandbox(engine)

    first = api.run_reminders(engine, senders)
    again = api.run_reminders(engine, senders)

    assert (first["due_soon"], first["overdue"], first["sent"]) == (1, 1, 2)
    assert (again["due_soon"], again["overdue"], again["sent"]) == (0, 0, 0)
    assert rows(engine) == [("T1", "due_soon", "sent"), ("T2", "overdue", "sent")]
    [soon] = box.sent_to(PHONES["T1"])
    assert (soon.template, soon.sign_name) == ("SMS_101", "第一中学")
    assert soon.params == {
        "amount": "4880.00",
        "bill_no": "T1",
        "biller": "第一中学",
        "days": "3",
        "due_date": "2026-09-04",
    }
    texts = {r.bill_no: r.text for r in api.list_reminders(engine, "s1")}
    assert texts["T1"] == (
        "第一中学提醒：账单T1尚欠4880.00元，将于2026-09-04到期（还有3天），请及时缴纳。"
    )
    assert texts["T2"] == (
        "第一中学提醒：账单T2已于2026-08-31到期，尚欠120.50元，已逾期1天，请尽快缴纳。"
    )


def test_overdue_reminders_repeat_every_n_days_not_every_day(
    engine: Engine, clock: FixedClock
) -> None:
    school(engine)
    senders, box = sandbox(engine)
    sent_on = []
    for _ in range(9):  # 2026-09-01 .. 09-09: T2 is 1..9 days overdue
        api.run_reminders(engine, senders)
        sent_on.append(len(box.sent_to(PHONES["T2"])))
        clock.advance(timedelta(days=1))
    # day 1 and day 8 (every 7 days), nothing in between
    assert sent_on == [1, 1, 1, 1, 1, 1, 1, 2, 2]


# -- issued and paid receipts come from the bill's own events ----------------------------------


def test_an_issued_bill_and_its_payment_send_a_notice_and_a_receipt(engine: Engine) -> None:
    school(engine, SMS_ALL)
    senders, box = sandbox(engine)
    payer = Payer(IdentifierKind.STUDENT_NO, "2024009", phone="13655556666")
    bill = Bill(0, "T9", 0, [BillItem("tuition", "学费", 30000)], due_date=date(2026, 9, 30))
    engine.add_bill("s1", payer, bill)
    order = engine.create_order("s1", ["T9"])
    engine.confirm("counter", "C9", order.order_no, 30000)

    api.run_reminders(engine, senders)

    kinds = [m.template for m in box.sent_to("13655556666")]
    assert sorted(kinds) == ["SMS_100", "SMS_103"]
    paid = next(m for m in box.sent_to("13655556666") if m.template == "SMS_103")
    assert paid.params["amount"] == "300.00"
    receipt = next(r for r in api.list_reminders(engine, "s1") if r.kind == "paid")
    assert receipt.text == "第一中学已收到账单T9缴费300.00元，感谢您的缴纳。"


def test_bills_imported_today_get_one_notice_each_and_none_the_next_day(
    engine: Engine, clock: FixedClock
) -> None:
    school(
        engine,
        ReminderSettings(
            SMS.channel, {"issued": "SMS_100"}, sign_name="第一中学", credentials=SMS.credentials
        ),
    )
    senders, box = sandbox(engine)

    first = api.run_reminders(engine, senders)
    again = api.run_reminders(engine, senders)
    clock.advance(timedelta(days=1))
    engine.import_bills("s1", b"bill_no,payer_id,amount,payer_phone\nT4,2024004,5.00,13600000000\n")
    later = api.run_reminders(engine, senders)

    assert (first["issued"], first["sent"], again["issued"], again["sent"]) == (3, 3, 0, 0)
    assert (later["issued"], later["sent"]) == (1, 1)  # only the bill imported that day
    assert sorted(m.address for m in box.messages) == sorted([*PHONES.values(), "13600000000"])
    texts = {r.bill_no: r.text for r in api.list_reminders(engine, "s1")}
    assert texts["T1"] == "第一中学账单T1已出，应缴4880.00元，请于2026-09-04前缴纳。"
    assert texts["T4"] == "第一中学账单T4已出，应缴5.00元，请于-前缴纳。"


def test_a_biller_without_settings_gets_no_reminders(engine: Engine) -> None:
    engine.create_biller(Biller(code="s2", name="二中", kind=BillerKind.SCHOOL))
    engine.import_bills("s2", CSV.encode())
    senders, box = sandbox(engine)
    payer = Payer(IdentifierKind.STUDENT_NO, "1", phone="13655556666")
    engine.add_bill("s2", payer, Bill(0, "X1", 0, [BillItem("a", "学费", 100)]))

    summary = api.run_reminders(engine, senders)

    assert (summary["due_soon"], summary["overdue"], summary["sent"]) == (0, 0, 0)
    assert count(engine, reminders) == 0 and box.requests == 0


# -- remind selected (the console's button) ---------------------------------------------------


def test_remind_selected_queues_each_bill_once_a_day_and_reports_the_rest(
    engine: Engine,
) -> None:
    school(engine)
    senders, box = sandbox(engine)
    engine.cancel_bill("s1", "T3", reason="退学", by="clerk")

    done = api.remind_bills(engine, "s1", ["T1", "T2", "T3", "NOPE", "T1"], actor="clerk")

    assert [(d.bill_no, d.outcome) for d in done] == [
        ("T1", RemindOutcome.QUEUED),
        ("T2", RemindOutcome.QUEUED),
        ("T3", RemindOutcome.NOT_PAYABLE),
        ("NOPE", RemindOutcome.NOT_FOUND),
    ]
    assert [d.kind for d in done[:2]] == [ReminderKind.DUE_SOON, ReminderKind.OVERDUE]
    summary = api.run_reminders(engine, senders)  # the duty finds them reminded already
    assert (summary["due_soon"], summary["overdue"], summary["sent"]) == (0, 0, 2)
    again = api.remind_bills(engine, "s1", ["T1"], actor="clerk")
    assert again[0].outcome is RemindOutcome.ALREADY_TODAY
    assert len(box.messages) == 2
    [entry] = [e for e in engine.audit_log("biller", "s1") if e["action"].endswith("by_hand")][:1]
    assert entry["actor"] == "clerk"


@pytest.mark.parametrize(
    ("biller", "bills", "actor", "error", "message"),
    [
        ("zz", ["T1"], "clerk", NotFound, "biller 'zz' does not exist"),
        ("s1", [" "], "clerk", InvalidInput, "bill_nos: select at least one bill"),
        ("s1", ["T1"], " ", InvalidInput, "actor: who reminds must be named"),
        ("s1", [f"B{i}" for i in range(1001)], "c", InvalidInput, "at most 1000 bills"),
    ],
)
def test_remind_selected_refuses_bad_input_and_writes_nothing(
    engine: Engine,
    biller: str,
    bills: list[str],
    actor: str,
    error: type[Exception],
    message: str,
) -> None:
    school(engine)
    before = count(engine, t.outbox_events)
    with pytest.raises(error, match=message):
        api.remind_bills(engine, biller, bills, actor=actor)
    assert count(engine, t.outbox_events) == before


def test_remind_selected_needs_active_settings(engine: Engine) -> None:
    school(engine, ReminderSettings(ReminderChannel.SMS, {}, active=False))
    with pytest.raises(InvalidInput, match="has no active reminder settings"):
        api.remind_bills(engine, "s1", ["T1"], actor="clerk")


# -- opt-out, quiet hours, retries -------------------------------------------------------------


def test_an_opted_out_phone_is_not_sent_to_and_opting_in_restores_it(
    engine: Engine, clock: FixedClock
) -> None:
    school(engine)
    senders, box = sandbox(engine)
    assert api.opt_out(engine, "s1", PHONES["T1"]) is True
    assert api.opt_out(engine, "s1", PHONES["T1"]) is False

    summary = api.run_reminders(engine, senders)

    assert summary["skipped"] == 1 and box.sent_to(PHONES["T1"]) == []
    assert ("T1", "due_soon", "skipped") in rows(engine)
    assert api.opt_in(engine, "s1", PHONES["T1"]) is True
    clock.advance(timedelta(days=1))
    api.remind_bills(engine, "s1", ["T1"], actor="clerk")
    api.run_reminders(engine, senders)
    assert len(box.sent_to(PHONES["T1"])) == 1


def test_a_reminder_due_in_quiet_hours_waits_until_they_end(db_url: str) -> None:
    # 2026-09-01 22:30 in Asia/Shanghai: inside 21:00-08:00
    with freeze_time("2026-09-01T14:30:00Z") as frozen:
        engine = Engine.from_url(db_url, clock=SystemClock())
        try:
            school(engine)
            senders, box = sandbox(engine)
            summary = api.run_reminders(engine, senders)
            assert (summary["sent"], summary["waiting"]) == (0, 2)
            with engine.db.connect() as conn:
                waits = set(conn.execute(select(reminders.c.next_attempt_at)).scalars())
            assert {w.astimezone(UTC) for w in waits} == {datetime(2026, 9, 2, 0, 0, tzinfo=UTC)}

            frozen.move_to("2026-09-01T23:59:00Z")  # 07:59 the next morning: still quiet
            assert api.run_reminders(engine, senders)["sent"] == 0
            assert box.messages == []

            frozen.move_to("2026-09-02T00:00:00Z")  # 08:00: the quiet hours are over
            assert api.run_reminders(engine, senders)["sent"] == 2
        finally:
            engine.close()


def test_a_provider_outage_is_retried_and_a_refused_number_is_dead(
    engine: Engine, clock: FixedClock
) -> None:
    school(engine)
    senders, box = sandbox(engine)
    box.fail_next(1)
    box.refuse(PHONES["T2"])
    policy = RetryPolicy(max_attempts=3)

    first = api.run_reminders(engine, senders, policy=policy)
    clock.advance(timedelta(minutes=5))
    second = api.run_reminders(engine, senders, policy=policy)

    assert (first["sent"], first["retried"], first["dead"]) == (0, 1, 1)
    assert (second["sent"], second["retried"], second["dead"]) == (1, 0, 0)
    assert sorted(rows(engine)) == [("T1", "due_soon", "sent"), ("T2", "overdue", "dead")]
    [dead] = api.list_reminders(engine, "s1", status="dead")
    assert dead.last_error is not None and "isv.MOBILE_NUMBER_ILLEGAL" in dead.last_error


def test_a_missing_secret_is_a_failed_attempt_naming_the_variable_not_a_secret(
    engine: Engine,
) -> None:
    school(engine)
    box = SandboxReminderApi()
    senders, _ = sandbox_senders(engine.clock, {}, box)
    api.run_reminders(engine, senders)
    errors = {r.last_error for r in api.list_reminders(engine, "s1")}
    assert errors == {
        "reminder settings (sms): access_key_secret_env names environment variable "
        "'S1_SMS_SECRET', which is not set"
    }
    assert box.requests == 0


# -- WeChat subscription messages --------------------------------------------------------------


def test_wechat_reminders_go_to_the_bound_openid_with_the_template_fields(
    engine: Engine,
) -> None:
    settings = ReminderSettings(
        ReminderChannel.WECHAT,
        {
            "due_soon": {
                "template_id": "tmpl-due",
                "fields": {"thing1": "biller", "amount2": "amount", "date3": "due_date"},
            }
        },
        credentials={"app_id": "wx1", "app_secret_env": "S1_WX_SECRET"},
    )
    school(engine, settings)
    api.bind_openid(engine, "s1", "T1", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    senders, box = sandbox(engine)

    api.run_reminders(engine, senders)

    [message] = box.messages
    assert (message.channel, message.address, message.template) == (
        "wechat",
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "tmpl-due",
    )
    assert message.params == {"thing1": "第一中学", "amount2": "4880.00元", "date3": "2026-09-04"}
    with pytest.raises(NotFound, match="bill 'NOPE' does not exist for biller s1"):
        api.bind_openid(engine, "s1", "NOPE", "oX")


def test_waiting_reminders_are_skipped_when_the_biller_switches_channel(engine: Engine) -> None:
    school(engine)
    senders, box = sandbox(engine)
    api.remind_bills(engine, "s1", ["T1"], actor="clerk")
    fan_out(engine.db, engine.clock)  # made as an SMS reminder, then the biller changes
    wechat = ReminderSettings(
        ReminderChannel.WECHAT,
        {"due_soon": {"template_id": "t", "fields": {"thing1": "biller"}}},
        credentials={"app_id": "wx1", "app_secret_env": "S1_WX_SECRET"},
    )
    api.configure(engine, "s1", wechat, actor="admin")
    api.run_reminders(engine, senders)
    [skipped] = api.list_reminders(engine, "s1", status="skipped")
    assert skipped.last_error == "the biller now reminds by wechat, not sms"
    assert box.messages == []
    with pytest.raises(InvalidInput, match="status: 'lost' is not one of pending, sent"):
        api.list_reminders(engine, "s1", status="lost")


def test_a_payer_without_a_phone_gets_a_skipped_reminder_saying_why(engine: Engine) -> None:
    school(engine)
    senders, _ = sandbox(engine)
    engine.add_bill(
        "s1",
        Payer(IdentifierKind.STUDENT_NO, "2024010"),
        Bill(0, "T10", 0, [BillItem("a", "学费", 100)], due_date=date(2026, 9, 4)),
    )
    api.run_reminders(engine, senders)
    skipped = {r.bill_no: r.last_error for r in api.list_reminders(engine, "s1", status="skipped")}
    assert skipped == {"T10": "the payer has no phone number"}


# -- logs: phone numbers masked, secrets never ---------------------------------------------------


def test_logs_show_phone_numbers_masked_and_never_a_secret(engine: Engine) -> None:
    school(engine)
    senders, box = sandbox(engine)
    box.fail_next(1)
    with capture_logs() as logs:
        api.run_reminders(engine, senders)
    written = repr(logs)
    assert "138****5678" in written and "139****4321" in written
    for phone in PHONES.values():
        assert phone not in written
    assert SECRET not in written and APP_SECRET not in written
    assert {e["event"] for e in logs} >= {"reminder.sent", "reminder.failed"}


# -- the database's own rules -------------------------------------------------------------------


def test_the_database_refuses_a_second_reminder_of_a_kind_for_a_bill_on_a_day(
    engine: Engine,
) -> None:
    school(engine)
    api.remind_bills(engine, "s1", ["T1"], actor="clerk")
    fan_out(engine.db, engine.clock)
    with engine.db.connect() as conn:
        first = conn.execute(select(reminders)).mappings().one()
    copy = {k: v for k, v in first.items() if k != "id"}
    insert = text(
        "INSERT INTO reminders (biller_id, bill_id, kind, day, channel, address, params, "
        "event_id, status, attempts, next_attempt_at, created_at) VALUES (:biller_id, "
        ":bill_id, :kind, :day, :channel, :address, :params, :event_id, 'pending', 0, "
        ":next_attempt_at, :created_at)"
    )
    with pytest.raises(IntegrityError), engine.db.begin() as conn:
        conn.execute(insert, copy)
    assert count(engine, reminders) == 1
    with pytest.raises(IntegrityError), engine.db.begin() as conn:
        conn.execute(insert, {**copy, "day": date(2026, 9, 2), "kind": "later"})
    with pytest.raises(IntegrityError), engine.db.begin() as conn:
        conn.execute(
            text("UPDATE reminders SET status = 'sent' WHERE id = :id"), {"id": first["id"]}
        )
    assert rows(engine) == [("T1", "due_soon", "pending")]


def test_settings_hold_references_and_the_audit_log_never_a_secret(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="never a secret itself"):
        ReminderSettings(ReminderChannel.SMS, {}, credentials={"access_key_secret": SECRET})
    school(engine)
    entries = engine.audit_log("biller", "s1")
    assert any(e["action"] == "reminders.configured" for e in entries)
    assert SECRET not in repr(entries)
    shown = api.settings_view(api.settings_of(engine, "s1"))
    assert shown is not None
    assert shown["credentials"] == {
        "access_key_id": "LTAI5tTest",
        "access_key_secret_env": "S1_SMS_SECRET",
    }
