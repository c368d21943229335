"""Back-office users: made with roles and a scope, a password kept only as its argon2id hash
and checked in constant work, disabled (no login after), roles changed; each change audited
with who and why; bad input refused, changing nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.access import backoffice_users
from billfold.adapters.http.users import (
    create_user,
    disable_user,
    list_users,
    set_password,
    set_roles,
    verify_password,
)
from billfold.errors import Conflict, InvalidInput, NotFound
from billfold.merchants.roles import Role

PASSWORD = "正确的马电池订书钉-2026"


@pytest.fixture
def engine_with_biller(engine: Engine) -> Engine:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    return engine


def _count(engine: Engine, table: object) -> int:
    with engine.uow() as uow:
        return len(uow.conn.execute(select(table)).all())  # type: ignore[call-overload]


def test_a_user_logs_in_with_their_password_until_disabled(engine_with_biller: Engine) -> None:
    engine = engine_with_biller
    made = create_user(
        engine, "Zhang.San", "张三", "bursar", biller_code="s1", actor="admin", reason="入职"
    )
    assert (made.username, made.roles, made.biller_code) == ("zhang.san", {Role.BURSAR}, "s1")
    assert not made.has_password and verify_password(engine, "zhang.san", "") is None
    set_password(engine, "zhang.san", PASSWORD, actor="admin", reason="首次设置")
    with engine.uow() as uow:
        (stored,) = uow.conn.execute(select(backoffice_users.c.password_hash)).scalars()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    user = verify_password(engine, "ZHANG.SAN", PASSWORD)
    assert user is not None and user.display_name == "张三"
    assert verify_password(engine, "zhang.san", PASSWORD + "x") is None
    assert verify_password(engine, "nobody", PASSWORD) is None
    moved = set_roles(engine, "zhang.san", "bursar,reconciler", actor="admin", reason="兼岗")
    assert moved.roles == {Role.BURSAR, Role.RECONCILER}
    disable_user(engine, "zhang.san", actor="admin", reason="离职")
    assert verify_password(engine, "zhang.san", PASSWORD) is None
    assert list_users(engine) == [] and len(list_users(engine, include_disabled=True)) == 1
    trail = [(e["action"], e["reason"]) for e in engine.audit_log("user", "zhang.san")]
    assert trail == [
        ("user.create", "入职"), ("user.password", "首次设置"), ("user.roles", "兼岗"),
        ("user.disable", "离职"),
    ]  # fmt: skip
    assert all(PASSWORD not in str(e) for e in engine.audit_log("user"))


def test_bad_user_input_is_refused_and_changes_nothing(engine_with_biller: Engine) -> None:
    engine = engine_with_biller
    create_user(engine, "li", "李四", "admin", biller_code=None, actor="a", reason="r")
    before = _count(engine, backoffice_users), _count(engine, t.audit_log)
    cases = (
        (lambda: create_user(engine, "1x", "x", "admin", biller_code=None, actor="a", reason="r"),
         InvalidInput, "username: '1x' must be"),
        (lambda: create_user(engine, "wu", "吴", "boss", biller_code=None, actor="a", reason="r"),
         InvalidInput, "roles: 'boss' is not a role"),
        (lambda: create_user(engine, "wu", "吴", "admin", biller_code="zz", actor="a", reason="r"),
         NotFound, "biller"),
        (lambda: create_user(engine, "li", "李", "admin", biller_code=None, actor="a", reason="r"),
         Conflict, "user 'li' exists already"),
        (lambda: create_user(engine, "wu", "吴", "admin", biller_code=None, actor="a", reason=""),
         InvalidInput, "say who does this and why"),
        (lambda: set_password(engine, "li", "short", actor="a", reason="r"),
         InvalidInput, "password: 12 to 200 characters"),
        (lambda: set_roles(engine, "nobody", "admin", actor="a", reason="r"),
         NotFound, "user 'nobody' does not exist"),
    )  # fmt: skip
    for call, error, message in cases:
        with pytest.raises(error) as refused:
            call()
        assert message in refused.value.message
    assert (_count(engine, backoffice_users), _count(engine, t.audit_log)) == before
