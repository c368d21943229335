"""Migration 0015 on SQLite and PostgreSQL: a database at the revision before it with keys of every
kind (a biller's read and write keys, back-office read and write keys) is upgraded; each key
keeps what it could do, now as roles, and still opens the API; going down gives each its
scope back."""

from __future__ import annotations

from sqlalchemy import text

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.adapters.http.keys import Scope, authenticate, create_key
from billfold.clock import FixedClock
from billfold.merchants.roles import Role


def test_upgrading_from_0010_gives_old_keys_their_roles(db_url: str, clock: FixedClock) -> None:
    engine = Engine.from_url(db_url, clock=clock)
    try:
        engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
        made = {
            (code, scope): create_key(engine, code, scope)
            for code in ("s1", None)
            for scope in (Scope.READ, Scope.WRITE)
        }
    finally:
        engine.close()
    db = make_engine(db_url)
    migrate.downgrade(db, "0014")
    with db.connect() as conn:
        scopes = dict(conn.execute(text("SELECT key_id, scope FROM api_keys")).all())
    assert sorted(scopes.values()) == ["read", "read", "write", "write"]
    migrate.upgrade(db)
    db.dispose()
    engine = Engine.from_url(db_url, clock=clock)
    try:
        roles = {
            where: found.roles
            for where, key in made.items()
            if (found := authenticate(engine, key.secret)) is not None
        }
    finally:
        engine.close()
    assert roles == {
        ("s1", Scope.READ): {Role.VIEWER},
        ("s1", Scope.WRITE): {Role.BURSAR, Role.RECONCILER},
        (None, Scope.READ): {Role.VIEWER},
        (None, Scope.WRITE): {Role.BURSAR, Role.RECONCILER, Role.SUPERVISOR, Role.ADMIN},
    }
