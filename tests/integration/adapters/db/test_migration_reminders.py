"""Migration 0022 on SQLite and PostgreSQL: made at head with today's code, the reminder
tables go on a downgrade to 0021 (bills and billers stay) and come back, working, on the
upgrade; the rules they carry are the models' rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from billfold import Biller, BillerKind
from billfold.adapters.db import migrate
from billfold.adapters.db import schema as t
from billfold.adapters.db.connect import make_engine
from billfold.adapters.outbox.fanout import fan_out
from billfold.adapters.outbox.reminders import api
from billfold.clock import FixedClock
from billfold.collection.reminder import ReminderChannel, ReminderSettings
from billfold.engine import Engine

TABLES = {"reminder_settings", "reminder_opt_outs", "payer_openids", "reminders"}
SETTINGS = ReminderSettings(
    ReminderChannel.SMS,
    {"due_soon": "SMS_1"},
    sign_name="一中",
    credentials={"access_key_id": "LTAI", "access_key_secret_env": "X"},
)


def _with_reminders(url: str, clock: FixedClock) -> None:
    engine = Engine.from_url(url, clock=clock)
    try:
        engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
        engine.import_bills(
            "s1",
            b"bill_no,payer_id,amount,payer_phone,due_date\nT1,1,10.00,13812345678,2026-09-04\n",
        )
        api.configure(engine, "s1", SETTINGS, actor="admin")
        api.opt_out(engine, "s1", "13900000000")
        api.bind_openid(engine, "s1", "T1", "oABC")
        api.remind_bills(engine, "s1", ["T1"], actor="clerk")
        fan_out(engine.db, clock)
    finally:
        engine.close()


def test_downgrade_to_0021_and_upgrade_again_keeps_the_bills_and_works(
    db_url: str, clock: FixedClock
) -> None:
    _with_reminders(db_url, clock)
    db = make_engine(db_url)
    try:
        migrate.downgrade(db, "0021")
        assert not TABLES & set(inspect(db).get_table_names())
        with db.connect() as conn:
            assert conn.execute(select(func.count()).select_from(t.bills)).scalar() == 1
        migrate.upgrade(db)
        assert set(inspect(db).get_table_names()) >= TABLES
    finally:
        db.dispose()
    engine = Engine.from_url(db_url, clock=clock)
    try:
        assert api.settings_of(engine, "s1") is None  # the tables came back empty
        api.configure(engine, "s1", SETTINGS, actor="admin")
        # today's reminder event is still in the outbox: reminded again only tomorrow
        assert api.remind_bills(engine, "s1", ["T1"], actor="c")[0].outcome == "already_today"
        clock.advance(timedelta(days=1))
        assert api.remind_bills(engine, "s1", ["T1"], actor="clerk")[0].outcome == "queued"
        fan_out(engine.db, clock)
        assert [r.kind for r in api.list_reminders(engine, "s1")] == ["due_soon"]
    finally:
        engine.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE reminder_settings SET days_before = 61",
        "UPDATE reminder_settings SET quiet_start = '9pm'",
        "UPDATE reminder_settings SET channel = 'email'",
        "UPDATE reminders SET status = 'lost'",
        "UPDATE reminders SET attempts = -1",
        "UPDATE reminders SET sent_at = created_at",  # sent_at without being sent
        "UPDATE reminder_opt_outs SET address = ''",
        "UPDATE payer_openids SET openid = ''",
    ],
)
def test_the_database_refuses_rows_the_rules_forbid(
    db_url: str, clock: FixedClock, statement: str
) -> None:
    _with_reminders(db_url, clock)
    db = make_engine(db_url)
    try:
        with pytest.raises(IntegrityError), db.begin() as conn:
            conn.execute(text(statement))
        with db.connect() as conn:
            assert conn.execute(text("SELECT status FROM reminders")).scalar() == "pending"
            assert conn.execute(text("SELECT days_before FROM reminder_settings")).scalar() == 3
    finally:
        db.dispose()
