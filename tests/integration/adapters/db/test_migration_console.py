"""Migration 0021 on SQLite and PostgreSQL: the console's sessions and lockouts. A database
at the head with a live session and a lockout in it goes down to 0019 (the tables go, every
session with them) and up again: the tables are back, empty, and a user logs in again. The
database itself refuses a session row or a lockout that breaks their rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.adapters.db.schema.console import console_lockouts, console_sessions
from billfold.adapters.http.console.sessions import ConsoleUser, Refused, SessionRules, login
from billfold.adapters.http.users import create_user, set_password
from billfold.clock import FixedClock
from billfold.engine import Engine

PASSWORD = "correct horse battery staple"
RULES = SessionRules(max_failures=5)


def _user(engine: Engine) -> None:
    create_user(engine, "wang", "王会计", "reconciler", biller_code=None, actor="t", reason="t")
    set_password(engine, "wang", PASSWORD, actor="t", reason="t")


def test_down_to_0019_and_up_again_drops_the_sessions_and_logs_in_afresh(
    db_url: str, clock: FixedClock
) -> None:
    engine = Engine.from_url(db_url, clock=clock)
    try:
        _user(engine)
        assert isinstance(login(engine, RULES, "wang", "not the password"), Refused)
        assert not isinstance(login(engine, RULES, "wang", PASSWORD), Refused)
        assert isinstance(login(engine, RULES, "wang", "not the password"), Refused)
    finally:
        engine.close()
    db = make_engine(db_url)
    migrate.downgrade(db, "0019")
    with db.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert not {"console_sessions", "console_lockouts"} & tables
    assert "backoffice_users" in tables
    migrate.upgrade(db)
    assert migrate.current(db) == migrate.head()
    with db.connect() as conn:
        assert conn.execute(select(console_sessions.c.id)).all() == []
        assert conn.execute(select(console_lockouts.c.id)).all() == []
    db.dispose()
    engine = Engine.from_url(db_url, clock=clock)
    try:
        outcome = login(engine, RULES, "wang", PASSWORD)
        assert not isinstance(outcome, Refused)
        assert isinstance(outcome[1], ConsoleUser) and outcome[1].username == "wang"
    finally:
        engine.close()


FORBIDDEN = {
    "a session token kept in clear": (
        "INSERT INTO console_sessions (token_sha256, user_id, csrf_token, created_at, "
        "last_seen_at) VALUES ('abc', :user, :csrf, :now, :now)"
    ),
    "a short CSRF token": (
        "INSERT INTO console_sessions (token_sha256, user_id, csrf_token, created_at, "
        "last_seen_at) VALUES (:hash, :user, 'short', :now, :now)"
    ),
    "a session seen before it began": (
        "INSERT INTO console_sessions (token_sha256, user_id, csrf_token, created_at, "
        "last_seen_at) VALUES (:hash, :user, :csrf, :now, :before)"
    ),
    "a negative count of failures": (
        "INSERT INTO console_lockouts (user_id, failures, last_failure_at) VALUES (:user, -1, :now)"
    ),
}


@pytest.mark.parametrize("case", sorted(FORBIDDEN))
def test_the_database_refuses_a_forbidden_console_row(
    db_url: str, clock: FixedClock, case: str
) -> None:
    engine = Engine.from_url(db_url, clock=clock)
    try:
        _user(engine)
    finally:
        engine.close()
    db = make_engine(db_url)
    now = clock.now()
    params = {
        "user": 1, "csrf": "c" * 43, "hash": "a" * 64, "now": now,
        "before": now - timedelta(seconds=1),
    }  # fmt: skip
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(text(FORBIDDEN[case]), params)
    with db.connect() as conn:
        assert conn.execute(select(console_sessions.c.id)).all() == []
        assert conn.execute(select(console_lockouts.c.id)).all() == []
    db.dispose()
