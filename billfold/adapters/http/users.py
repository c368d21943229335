"""Back-office users: the people the web console logs in (roles, a biller or every biller,
an argon2id password hash). Creating, disabling, changing roles and setting a password are
audited with who and why; a password itself never reaches the database, a log or the audit.

``verify_password`` answers only yes or no, spending the same argon2 work for an unknown or
disabled user as for a known one, so timing does not tell which usernames exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Row, Select, select

from billfold.adapters.db.schema import billers
from billfold.adapters.db.schema.access import backoffice_users
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.engine import Engine
from billfold.errors import Conflict, InvalidInput, NotFound
from billfold.merchants.roles import Role, format_roles, parse_roles

__all__ = [
    "BackofficeUser",
    "create_user",
    "disable_user",
    "list_users",
    "set_password",
    "set_roles",
    "verify_password",
]

_U = backoffice_users
_USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")
_HASHER = PasswordHasher()  # argon2id with the library's (RFC 9106) defaults
_DUMMY = _HASHER.hash("not a password anyone has")
MIN_PASSWORD = 12


@dataclass(frozen=True, slots=True)
class BackofficeUser:
    username: str
    display_name: str
    roles: frozenset[Role]
    biller_code: str | None  # None: every biller
    created_at: datetime
    disabled_at: datetime | None
    has_password: bool

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def create_user(
    engine: Engine,
    username: str,
    display_name: str,
    roles: str | list[str],
    *,
    biller_code: str | None,
    actor: str,
    reason: str,
) -> BackofficeUser:
    """A new user (no password yet: ``set_password`` gives one)."""
    username = username.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            f"username: {username[:70]!r} must be 2-64 of a-z, 0-9, '.', '_', '-', "
            "starting with a letter"
        )
    display_name = display_name.strip()
    if not display_name or len(display_name) > 100:
        raise InvalidInput("display name: 1 to 100 characters")
    wanted = parse_roles(roles)
    biller_id = engine.biller(biller_code).id if biller_code is not None else None
    now = engine.clock.now()
    with engine.uow() as uow:
        if uow.conn.execute(select(_U.c.id).where(_U.c.username == username)).first():
            raise Conflict(f"user {username!r} exists already")
        uow.conn.execute(
            _U.insert().values(
                username=username, display_name=display_name, roles=format_roles(wanted),
                biller_id=biller_id, created_at=now,
            )
        )  # fmt: skip
        after = {"display_name": display_name, "roles": format_roles(wanted), "biller": biller_code}
        _audit(uow, actor, "user.create", username, reason, None, after, now)
        found = _user(_row(uow, username))
        uow.commit()
    return found


def list_users(engine: Engine, *, include_disabled: bool = False) -> list[BackofficeUser]:
    query = _select().order_by(_U.c.username)
    if not include_disabled:
        query = query.where(_U.c.disabled_at.is_(None))
    with engine.uow() as uow:
        return [_user(r) for r in uow.conn.execute(query)]


def disable_user(engine: Engine, username: str, *, actor: str, reason: str) -> BackofficeUser:
    """The user may no longer log in (their history stays); disabling twice keeps the first."""
    now = engine.clock.now()
    with engine.uow() as uow:
        row = _row(uow, username)
        if row.disabled_at is None:
            uow.conn.execute(_U.update().where(_U.c.id == row.id).values(disabled_at=now))
            _audit(uow, actor, "user.disable", row.username, reason, None, None, now)
        found = _user(_row(uow, username))
        uow.commit()
    return found


def set_roles(
    engine: Engine, username: str, roles: str | list[str], *, actor: str, reason: str
) -> BackofficeUser:
    wanted = format_roles(parse_roles(roles))
    now = engine.clock.now()
    with engine.uow() as uow:
        row = _row(uow, username)
        uow.conn.execute(_U.update().where(_U.c.id == row.id).values(roles=wanted))
        before, after = {"roles": row.roles}, {"roles": wanted}
        _audit(uow, actor, "user.roles", row.username, reason, before, after, now)
        found = _user(_row(uow, username))
        uow.commit()
    return found


def set_password(
    engine: Engine, username: str, password: str, *, actor: str, reason: str
) -> BackofficeUser:
    """Store the password's argon2id hash (never the password)."""
    if len(password) < MIN_PASSWORD or len(password) > 200:
        raise InvalidInput(f"password: {MIN_PASSWORD} to 200 characters")
    hashed = _HASHER.hash(password)
    now = engine.clock.now()
    with engine.uow() as uow:
        row = _row(uow, username)
        uow.conn.execute(_U.update().where(_U.c.id == row.id).values(password_hash=hashed))
        _audit(uow, actor, "user.password", row.username, reason, None, None, now)
        found = _user(_row(uow, username))
        uow.commit()
    return found


def verify_password(engine: Engine, username: str, password: str) -> BackofficeUser | None:
    """The user, if ``password`` is theirs and they are active; otherwise ``None``."""
    with engine.uow() as uow:
        row = uow.conn.execute(_select().where(_U.c.username == username.strip().lower())).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY
    try:
        _HASHER.verify(stored, password)
        matches = stored is not _DUMMY
    except (VerificationError, InvalidHashError):
        matches = False
    if row is None or not matches or row.disabled_at is not None:
        return None
    return _user(row)


def _select() -> Select[Any]:
    return select(_U, billers.c.code).select_from(
        _U.outerjoin(billers, billers.c.id == _U.c.biller_id)
    )


def _row(uow: SqlUnitOfWork, username: str) -> Row[Any]:
    row = uow.conn.execute(_select().where(_U.c.username == username.strip().lower())).first()
    if row is None:
        raise NotFound(f"user {username!r} does not exist")
    return row


def _user(row: Row[Any]) -> BackofficeUser:
    return BackofficeUser(
        row.username, row.display_name, parse_roles(row.roles), row.code, row.created_at,
        row.disabled_at, row.password_hash is not None,
    )  # fmt: skip


def _audit(
    uow: SqlUnitOfWork,
    actor: str,
    action: str,
    username: str,
    reason: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    actor, reason = actor.strip(), reason.strip()
    if not actor or not reason:
        raise InvalidInput("actor and reason: say who does this and why")
    uow.audit.append(
        actor=actor[:100], action=action, target_type="user", target_id=username,
        reason=reason[:500], before=before, after=after, now=now,
    )  # fmt: skip
