"""The console's sessions: logging in (with a lockout after repeated failures), finding the
session a cookie names (ending it after idle time or its absolute limit), logging out.

A session is a random token handed to the browser once (in a signed cookie); the database
keeps only its SHA-256, so a copy of the table opens nothing. Each login makes a new token
and ends the session the browser presented, if any (no session fixation). Each session has
its own CSRF token, which every form sends back.

Failed logins are counted per user in the database (so every process sees them): after
``max_failures`` in a row the user is locked out for ``lockout`` — even the right password
is refused meanwhile — and a success resets the count. An unknown username is answered
exactly like a wrong password, after the same argon2 work.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select

from billfold.adapters.db.schema import billers
from billfold.adapters.db.schema.access import backoffice_users
from billfold.adapters.db.schema.console import console_lockouts, console_sessions
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.adapters.http.users import verify_password
from billfold.engine import Engine
from billfold.errors import InvariantViolated
from billfold.merchants.roles import Role, parse_roles

__all__ = ["ConsoleUser", "Refused", "SessionRules", "end", "login", "resume", "set_flash"]

_S, _L, _U = console_sessions, console_lockouts, backoffice_users


@dataclass(frozen=True, slots=True)
class SessionRules:
    """How long a session lives and how many failures lock a user out."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """Who is logged in: a back-office user, their roles and scope, and this session."""

    user_id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    biller_id: int | None  # None: every biller
    biller_code: str | None
    session_id: int
    csrf_token: str = field(repr=False)
    flash: str | None = None

    @property
    def back_office(self) -> bool:
        return self.biller_id is None

    @property
    def actor(self) -> str:
        """Who did it, for the audit log: the person's name and their username."""
        return f"{self.display_name} (console {self.username})"

    @property
    def identity(self) -> str:
        """Who this is for separation of duties (maker-checker)."""
        return f"user:{self.username}"

    def has(self, *roles: Role) -> bool:
        return not roles or bool(self.roles & set(roles))

    def sees(self, biller_id: int | None) -> bool:
        return self.back_office or (biller_id is not None and biller_id == self.biller_id)


@dataclass(frozen=True, slots=True)
class Refused:
    """A login refused: ``locked`` says the user is (now) locked out."""

    locked: bool


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(
    engine: Engine,
    rules: SessionRules,
    username: str,
    password: str,
    *,
    replacing: str | None = None,
) -> tuple[str, ConsoleUser] | Refused:
    """A new session token and its user, or :class:`Refused`. The session named by
    ``replacing`` (the token the browser had) ends either way."""
    now = engine.clock.now()
    found = verify_password(engine, username, password)  # the argon2 work, whoever asks
    with engine.uow() as uow:
        if replacing:
            _end(uow, replacing, now)
        row = uow.conn.execute(
            select(_U.c.id, _U.c.username).where(_U.c.username == username.strip().lower())
        ).first()
        lock = uow.conn.execute(select(_L).where(_L.c.user_id == row.id)).first() if row else None
        locked = lock is not None and lock.locked_until is not None and lock.locked_until > now
        if found is None or row is None or locked:
            refused = _failed(uow, rules, row, lock, now) if row is not None else Refused(False)
            uow.commit()
            return Refused(locked or refused.locked)
        uow.conn.execute(_L.delete().where(_L.c.user_id == row.id))
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        uow.conn.execute(
            _S.insert().values(
                token_sha256=_digest(token), user_id=row.id, csrf_token=csrf,
                created_at=now, last_seen_at=now,
            )
        )  # fmt: skip
        uow.audit.append(
            actor=f"{found.display_name} (console {found.username})", action="console.login",
            target_type="user", target_id=found.username, reason="登录", before=None,
            after=None, now=now,
        )  # fmt: skip
        user = _load(uow, token)
        uow.commit()
    if user is None:
        raise InvariantViolated("a session just made cannot be found")
    return token, user


def _failed(
    uow: SqlUnitOfWork, rules: SessionRules, user: Any, lock: Row[Any] | None, now: datetime
) -> Refused:
    """Count a failure against ``user``; lock them out when it is one too many."""
    if lock is not None and lock.locked_until is not None and lock.locked_until > now:
        return Refused(True)  # already locked: the lock is not extended by more tries
    failures = (lock.failures if lock is not None else 0) + 1
    until = now + rules.lockout if failures >= rules.max_failures else None
    values = {"failures": 0 if until else failures, "last_failure_at": now, "locked_until": until}
    if lock is None:
        uow.conn.execute(_L.insert().values(user_id=user.id, **values))
    else:
        uow.conn.execute(_L.update().where(_L.c.id == lock.id).values(**values))
    action = "console.locked" if until else "console.login_failed"
    reason = f"连续 {failures} 次密码错误" if until else "密码错误"
    uow.audit.append(
        actor="console", action=action, target_type="user", target_id=user.username,
        reason=reason, before=None, after=None, now=now,
    )  # fmt: skip
    return Refused(until is not None)


def resume(engine: Engine, rules: SessionRules, token: str) -> ConsoleUser | None:
    """The user of the live session ``token`` names, its last request now; ``None`` (and the
    session ended) past its idle time or absolute limit, for a disabled user, or unknown."""
    now = engine.clock.now()
    with engine.uow() as uow:
        row = uow.conn.execute(
            select(_S.c.id, _S.c.created_at, _S.c.last_seen_at, _U.c.disabled_at)
            .join(_U, _U.c.id == _S.c.user_id)
            .where(_S.c.token_sha256 == _digest(token), _S.c.ended_at.is_(None))
        ).first()
        if row is None:
            return None
        stale = now - row.last_seen_at >= rules.idle or now - row.created_at >= rules.absolute
        if stale or row.disabled_at is not None:
            _end(uow, token, now)
            uow.commit()
            return None
        user = _load(uow, token)
        uow.conn.execute(_S.update().where(_S.c.id == row.id).values(last_seen_at=now, flash=None))
        uow.commit()
    return user


def end(engine: Engine, token: str, user: ConsoleUser) -> None:
    """Log out: the session ends (its cookie opens nothing any more)."""
    now = engine.clock.now()
    with engine.uow() as uow:
        _end(uow, token, now)
        uow.audit.append(
            actor=user.actor, action="console.logout", target_type="user",
            target_id=user.username, reason="退出登录", before=None, after=None, now=now,
        )  # fmt: skip
        uow.commit()


def set_flash(engine: Engine, user: ConsoleUser, message: str) -> None:
    """A message shown once, on the next page this session opens."""
    with engine.uow() as uow:
        uow.conn.execute(_S.update().where(_S.c.id == user.session_id).values(flash=message[:500]))
        uow.commit()


def _end(uow: SqlUnitOfWork, token: str, now: datetime) -> None:
    uow.conn.execute(
        _S.update()
        .where(_S.c.token_sha256 == _digest(token), _S.c.ended_at.is_(None))
        .values(ended_at=now)
    )


def _load(uow: SqlUnitOfWork, token: str) -> ConsoleUser | None:
    row = uow.conn.execute(
        select(
            _S.c.id.label("session_id"),
            _S.c.csrf_token,
            _S.c.flash,
            _U.c.id.label("user_id"),
            _U.c.username,
            _U.c.display_name,
            _U.c.roles,
            _U.c.biller_id,
            billers.c.code,
        )
        .select_from(
            _S.join(_U, _U.c.id == _S.c.user_id).outerjoin(billers, billers.c.id == _U.c.biller_id)
        )
        .where(_S.c.token_sha256 == _digest(token))
    ).first()
    if row is None:
        return None
    return ConsoleUser(
        user_id=row.user_id, username=row.username, display_name=row.display_name,
        roles=parse_roles(row.roles), biller_id=row.biller_id, biller_code=row.code,
        session_id=row.session_id, csrf_token=row.csrf_token, flash=row.flash,
    )  # fmt: skip
