"""Logging in to the console: a lockout after repeated failures (per user, in the database),
sessions that end after idle time and after their absolute limit, logout, and the cookie's
flags. Time is the engine's injected clock, moved by the test (no sleeping)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from console_world import PASSWORD, Session, World, console_world  # type: ignore[import-not-found]
from sqlalchemy import select

from billfold import Engine
from billfold.adapters.db.schema.console import console_lockouts, console_sessions
from billfold.adapters.http.console import SessionRules
from billfold.adapters.http.users import disable_user
from billfold.clock import FixedClock

RULES = SessionRules(
    idle=timedelta(minutes=30),
    absolute=timedelta(hours=12),
    max_failures=3,
    lockout=timedelta(minutes=15),
)
REFUSED = "用户名或密码不正确"


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with console_world(engine, RULES) as made:
        yield made


def _try(world: World, username: str, password: str) -> tuple[int, str]:
    world.client.cookies.clear()
    form = world.client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    answer = world.client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
    )
    return answer.status_code, answer.text


def _lock(world: World, username: str) -> tuple[int, object] | None:
    with world.engine.uow() as uow:
        row = uow.conn.execute(
            select(console_lockouts.c.failures, console_lockouts.c.locked_until)
        ).first()
    return None if row is None else (row.failures, row.locked_until)


def _audit_actions(world: World) -> list[str]:
    return [a["action"] for a in world.engine.audit_log("user", "reconciler")]


def test_repeated_wrong_passwords_lock_the_user_out_even_for_the_right_one(
    world: World, clock: FixedClock
) -> None:
    for _ in range(2):
        status, page = _try(world, "reconciler", "wrong password!!")
        assert status == 401 and REFUSED in page
    assert _lock(world, "reconciler") == (2, None)
    status, _ = _try(world, "reconciler", "wrong password!!")
    assert status == 401
    _, until = _lock(world, "reconciler") or (None, None)
    assert until == clock.now() + timedelta(minutes=15)
    status, page = _try(world, "reconciler", PASSWORD)  # locked: the right password too
    assert status == 401 and REFUSED in page
    assert _audit_actions(world).count("console.login_failed") == 2
    assert "console.locked" in _audit_actions(world)
    clock.advance(minutes=14)
    assert _try(world, "reconciler", PASSWORD)[0] == 401
    clock.advance(minutes=2)
    assert _try(world, "reconciler", PASSWORD)[0] == 303
    assert _lock(world, "reconciler") is None  # a success starts the count again


def test_an_unknown_user_is_answered_like_a_wrong_password_and_locks_nothing(
    world: World,
) -> None:
    status, page = _try(world, "nobody", PASSWORD)
    assert status == 401 and REFUSED in page
    assert _lock(world, "nobody") is None


def test_a_session_ends_after_its_idle_time(world: World, clock: FixedClock) -> None:
    me = world.login("bursar")
    for _ in range(3):  # each request starts the idle time again
        clock.advance(minutes=29)
        assert world.request("GET", "/console/", me).status_code == 200
    clock.advance(minutes=30)
    answer = world.request("GET", "/console/", me)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    with world.engine.uow() as uow:
        ended = uow.conn.execute(select(console_sessions.c.ended_at)).scalar()
    assert ended == clock.now()


def test_a_session_ends_after_its_absolute_limit_however_busy(
    world: World, clock: FixedClock
) -> None:
    me = world.login("bursar")
    for _ in range(35):  # 11 h 40 min of work, a request every 20 minutes
        clock.advance(minutes=20)
        assert world.request("GET", "/console/", me).status_code == 200
    clock.advance(minutes=20)
    assert world.request("GET", "/console/", me).status_code == 303


def test_logging_out_ends_the_session_for_good(world: World) -> None:
    me = world.login("admin")
    answer = world.request("POST", "/console/logout", me, {"csrf_token": me.csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    assert world.request("GET", "/console/", me).status_code == 303
    assert "console.logout" in [a["action"] for a in world.engine.audit_log("user", "admin")]


def test_a_disabled_user_is_logged_out_at_once(world: World) -> None:
    me = world.login("bursar")
    disable_user(world.engine, "bursar", actor="李管理员", reason="离职")
    assert world.request("GET", "/console/", me).status_code == 303
    assert _try(world, "bursar", PASSWORD)[0] == 401


def test_a_forged_or_tampered_cookie_opens_nothing(world: World) -> None:
    me = world.login("admin")
    token, _, signature = me.cookie.rpartition(".")
    for cookie in (f"{token}.{signature[:-2]}AA", f"{token}x.{signature}", token, ""):
        forged = Session("admin", cookie, me.csrf)
        assert world.request("GET", "/console/", forged).status_code == 303


def test_the_session_cookie_is_http_only_strict_and_secure_over_https(world: World) -> None:
    world.client.cookies.clear()
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        world.client.base_url = base  # type: ignore[assignment]
        form = world.client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        answer = world.client.post(
            "/console/login",
            data={"username": "viewer", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("bf_console=")
        )
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "path=/console", "samesite=strict"} <= flags
        assert ("secure" in flags) is secure
        world.client.cookies.clear()
