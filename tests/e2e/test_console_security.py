"""Every form of the console, from the app's own routes: a POST without the session's CSRF
token, by a role the page does not allow, or aimed at another biller's object is refused and
changes nothing; without a session the browser is sent to log in. A console POST route
missing from :data:`FORMS` fails this test — a new page's author adds its case here.

A case gives, for its route: the roles allowed; ``setup`` (make the objects it acts on,
into ``world.ids``); ``path`` (the path parameters of biller ``s1``'s object); ``data``
(a valid form, without the CSRF token); ``probe`` (what the action would change); ``other``
(the path parameters of biller ``s2``'s object, for pages a biller's user may use) or
``everywhere`` (back-office users only: a biller's user gets 403). The last step posts the
valid form as an allowed user and checks that the probe *did* change, so the refusals above
are proven to be refusals of an action that works.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from console_recon import (  # type: ignore[import-not-found]
    LOST,
    held_payment,
    limits_proposal,
    open_discrepancy,
    transfer_awaiting_approval,
)
from console_world import PASSWORD, World, console_world  # type: ignore[import-not-found]
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from billfold import Engine
from billfold.adapters.db.schema import audit_log
from billfold.adapters.db.schema.console import console_sessions
from billfold.adapters.http.keys import create_key, list_keys
from billfold.maker_checker import MakerChecker
from billfold.merchants.roles import Role
from billfold.settlement.reconciler import Reconciler

ANY = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})

Ids = Callable[[World], dict[str, str]]


@dataclass(frozen=True)
class FormCase:
    roles: frozenset[Role]
    data: Callable[[World], dict[str, Any]]
    probe: Callable[[World], object]
    setup: Callable[[World], None] = lambda w: None
    path: Ids = lambda w: {}
    other: Ids | None = None  # another biller's object: 404 for a biller's user
    everywhere: bool = False  # back-office users only
    files: Callable[[World], dict[str, Any]] | None = None  # a file upload (multipart)


def _keys_setup(w: World) -> None:
    w.ids["key"] = create_key(w.engine, "s1", [Role.BURSAR], "s1 系统").key.key_id
    w.ids["key_s2"] = create_key(w.engine, "s2", [Role.BURSAR], "s2 系统").key.key_id


def _keys(w: World) -> object:
    return [(k.key_id, k.revoked_at, k.previous_valid_until, k.label) for k in list_keys(w.engine)]


def _key_secret(w: World) -> object:
    from billfold.adapters.db.schema.api import api_keys

    with w.engine.uow() as uow:
        return uow.conn.execute(select(api_keys.c.key_id, api_keys.c.secret_sha256)).all()


def _runs(w: World) -> object:
    return [(r.id, r.file_sha256) for r in Reconciler(w.engine).runs()]


def _discrepancy_setup(w: World) -> None:
    w.ids["discrepancy"] = str(open_discrepancy(w.engine))


def _discrepancies(w: World) -> object:
    found = Reconciler(w.engine).discrepancies()
    return [(d.id, d.status, d.action) for d in found], len(MakerChecker(w.engine).list())


def _proposals_setup(w: World) -> None:
    w.ids["approval"] = str(limits_proposal(w.engine, "s1").id)
    w.ids["approval_s2"] = str(limits_proposal(w.engine, "s2").id)


def _proposals(w: World) -> object:
    return [(a.id, a.state, a.checker) for a in MakerChecker(w.engine).list()]


CHECKERS_OF_LIMITS = frozenset({Role.SUPERVISOR, Role.ADMIN})


def _transfer_setup(w: World) -> None:
    w.ids["refund"] = transfer_awaiting_approval(w.engine, "s1", "T2", "clerk-li")


def _transfer(w: World) -> object:
    from billfold.settlement.refund_transfer_desk import RefundTransferDesk

    found = RefundTransferDesk(w.engine).get(w.ids["refund"])
    return found.stage, found.approved_by


def _held_setup(w: World) -> None:
    w.ids["held"] = str(held_payment(w.engine))


def _held(w: World) -> object:
    payment = w.engine.payment(int(w.ids["held"]))
    return payment.status, w.engine.bill("s1", "T1").paid_fen


def _users(w: World) -> object:
    from billfold.adapters.db.schema.access import backoffice_users as u

    with w.engine.uow() as uow:
        query = select(u.c.username, u.c.roles, u.c.password_hash, u.c.disabled_at)
        return uow.conn.execute(query.order_by(u.c.username)).all()


def _approvals(w: World) -> object:
    from billfold.adapters.db.schema.access import pending_approvals as a

    with w.engine.uow() as uow:
        return uow.conn.execute(select(a.c.id, a.c.kind, a.c.state)).all()


def _hooks(w: World) -> object:
    from billfold.adapters.outbox.endpoints import list_endpoints

    return [
        (e.id, e.url, e.secret, e.active) for e in list_endpoints(w.engine, include_inactive=True)
    ]


def _hooks_setup(w: World, *, active: bool = True) -> None:
    from billfold.adapters.outbox.endpoints import add_endpoint, deactivate_endpoint, new_secret

    for code in ("s1", "s2"):
        made = add_endpoint(w.engine, code, f"https://{code}.example/hooks", new_secret())
        w.ids[f"hook_{code}"] = str(made.id)
        if not active:
            deactivate_endpoint(w.engine, made.id)


def _dead_setup(w: World) -> None:
    from billfold.adapters.db import schema as t

    _hooks_setup(w)
    now, biller_id = w.engine.clock.now(), w.engine.biller("s1").id
    with w.engine.uow() as uow:
        event = uow.conn.execute(
            t.outbox_events.insert().values(
                event_id="00000000-0000-0000-0000-000000000001", event_type="payment.credited",
                biller_id=biller_id, payload="{}", created_at=now, fanned_out=True,
            )
        ).inserted_primary_key[0]  # fmt: skip
        dead = uow.conn.execute(
            t.outbox_deliveries.insert().values(
                event_pk=event, endpoint_id=int(w.ids["hook_s1"]), status="dead", attempts=8,
                next_attempt_at=now, last_error="HTTP 500",
            )
        ).inserted_primary_key[0]  # fmt: skip
        uow.commit()
    w.ids["dead"] = str(dead)


def _deliveries(w: World) -> object:
    from billfold.adapters.db import schema as t

    with w.engine.uow() as uow:
        d = t.outbox_deliveries
        return uow.conn.execute(select(d.c.id, d.c.status, d.c.attempts)).all()


FORMS: dict[str, FormCase] = {
    "/console/logout": FormCase(
        roles=ANY,
        data=lambda w: {},
        probe=lambda w: _live_sessions(w.engine),
    ),
    "/console/admin/keys": FormCase(
        roles=ADMIN,
        everywhere=True,
        data=lambda w: {"roles": ["bursar"], "biller": "s1", "label": "新系统", "reason": "接入"},
        probe=_keys,
    ),
    "/console/admin/keys/{key_id}/rotate": FormCase(
        roles=ADMIN,
        everywhere=True,
        setup=_keys_setup,
        path=lambda w: {"key_id": w.ids["key"]},
        data=lambda w: {"grace_hours": "0", "reason": "泄露"},
        probe=_key_secret,
    ),
    "/console/admin/keys/{key_id}/revoke": FormCase(
        roles=ADMIN,
        everywhere=True,
        setup=_keys_setup,
        path=lambda w: {"key_id": w.ids["key"]},
        data=lambda w: {"reason": "停用"},
        probe=_keys,
    ),
    "/console/recon/runs": FormCase(
        roles=frozenset({Role.RECONCILER}),
        everywhere=True,
        data=lambda w: {
            "format": "wechatpay",
            "date": "2026-09-01",
            "whole_channel": "true",
            "content": LOST,
            "reason": "每日对账",
        },
        probe=_runs,
    ),
    "/console/recon/discrepancies/{discrepancy_id}/resolve": FormCase(
        roles=frozenset({Role.RECONCILER}),
        everywhere=True,
        setup=_discrepancy_setup,
        path=lambda w: {"discrepancy_id": w.ids["discrepancy"]},
        data=lambda w: {"action": "accept", "reason": "渠道确认为测试交易"},
        probe=_discrepancies,
    ),
    "/console/recon/suspense/{payment_id}/credit": FormCase(
        roles=frozenset({Role.RECONCILER}),
        everywhere=True,
        setup=_held_setup,
        path=lambda w: {"payment_id": w.ids["held"]},
        data=lambda w: {"reason": "家长多付，核实后入账并退回多余"},
        probe=_held,
    ),
    "/console/recon/refund-transfers/{refund_no}/approve": FormCase(
        roles=frozenset({Role.RECONCILER}),
        everywhere=True,
        setup=_transfer_setup,
        path=lambda w: {"refund_no": w.ids["refund"]},
        data=lambda w: {"reason": "账户核对无误"},
        probe=_transfer,
    ),
    "/console/approvals/{approval_id}/approve": FormCase(
        roles=CHECKERS_OF_LIMITS,  # the route lets every checker in; the kind's roles decide
        setup=_proposals_setup,
        path=lambda w: {"approval_id": w.ids["approval"]},
        other=lambda w: {"approval_id": w.ids["approval_s2"]},
        data=lambda w: {"reason": "同意"},
        probe=_proposals,
    ),
    "/console/approvals/{approval_id}/reject": FormCase(
        roles=CHECKERS_OF_LIMITS,
        setup=_proposals_setup,
        path=lambda w: {"approval_id": w.ids["approval"]},
        other=lambda w: {"approval_id": w.ids["approval_s2"]},
        data=lambda w: {"reason": "金额不符"},
        probe=_proposals,
    ),
    "/console/admin/users": FormCase(
        roles=ADMIN,
        everywhere=True,
        data=lambda w: {
            "username": "zhao.min",
            "display_name": "赵敏",
            "roles": ["viewer"],
            "password": "a long enough secret",
            "reason": "入职",
        },
        probe=_users,
    ),
    "/console/admin/users/{username}/roles": FormCase(
        roles=ADMIN,
        everywhere=True,
        path=lambda w: {"username": "viewer-s1"},
        data=lambda w: {"roles": ["viewer", "bursar"], "reason": "兼任收费"},
        probe=_users,
    ),
    "/console/admin/users/{username}/password": FormCase(
        roles=ADMIN,
        everywhere=True,
        path=lambda w: {"username": "viewer-s1"},
        data=lambda w: {"password": "another long secret", "reason": "忘记密码"},
        probe=_users,
    ),
    "/console/admin/users/{username}/disable": FormCase(
        roles=ADMIN,
        everywhere=True,
        path=lambda w: {"username": "viewer-s1"},
        data=lambda w: {"reason": "离职"},
        probe=_users,
    ),
    "/console/admin/billers/{code}/limits": FormCase(
        roles=ADMIN,
        everywhere=True,
        path=lambda w: {"code": "s1"},
        data=lambda w: {"daily": "5000.00", "reason": "开学高峰"},
        probe=_approvals,
    ),
    "/console/admin/billers/{code}/fees": FormCase(
        roles=ADMIN,
        everywhere=True,
        path=lambda w: {"code": "s1"},
        data=lambda w: {"channel": "wechatpay", "kind": "bps", "rate": "0.60", "reason": "签约"},
        probe=lambda w: w.engine.biller("s1").fee_rules,
    ),
    "/console/admin/billers/{code}/webhooks": FormCase(
        roles=ADMIN,
        everywhere=True,
        path=lambda w: {"code": "s1"},
        data=lambda w: {"url": "https://erp.s1.example/hooks", "events": "*", "reason": "接入"},
        probe=_hooks,
    ),
    "/console/admin/webhooks/{endpoint_id}/rotate": FormCase(
        roles=ADMIN,
        everywhere=True,
        setup=_hooks_setup,
        path=lambda w: {"endpoint_id": w.ids["hook_s1"]},
        data=lambda w: {"reason": "密钥泄露"},
        probe=_hooks,
    ),
    "/console/admin/webhooks/{endpoint_id}/deactivate": FormCase(
        roles=ADMIN,
        everywhere=True,
        setup=_hooks_setup,
        path=lambda w: {"endpoint_id": w.ids["hook_s1"]},
        data=lambda w: {"reason": "系统下线"},
        probe=_hooks,
    ),
    "/console/admin/webhooks/{endpoint_id}/reactivate": FormCase(
        roles=ADMIN,
        everywhere=True,
        setup=lambda w: _hooks_setup(w, active=False),
        path=lambda w: {"endpoint_id": w.ids["hook_s1"]},
        data=lambda w: {"reason": "系统恢复"},
        probe=_hooks,
    ),
    "/console/admin/deliveries/{delivery_id}/requeue": FormCase(
        roles=ADMIN,
        everywhere=True,
        setup=_dead_setup,
        path=lambda w: {"delivery_id": w.ids["dead"]},
        data=lambda w: {"reason": "对方已修复"},
        probe=_deliveries,
    ),
}
# -- the bursar's pages (billfold/adapters/http/console/bills.py, bill_import.py, chase.py) --
BURSAR = frozenset({Role.BURSAR})
S1_BILL = {"code": "s1", "bill_no": "T1"}
S2_BILL = {"code": "s2", "bill_no": "T1"}


def _bills(w: World) -> object:
    """Both billers' T1 (what an action on one of them could change), and every bill."""
    found = [w.engine.bill(code, "T1") for code in ("s1", "s2")]
    shown = [(b.principal_fen, b.waived_fen, b.cancelled, b.due_date) for b in found]
    return shown, sorted((r["biller"], r["bill_no"]) for r in w.engine.find("bills").rows)


def _unmasked_exports(w: World) -> object:
    return [a["target_id"] for a in w.engine.audit_log("list") if a["action"] == "export_unmasked"]


def _reminders_setup(w: World) -> None:
    from billfold.adapters.outbox.reminders.api import configure
    from billfold.collection.reminder import ReminderChannel, ReminderSettings

    sms = ReminderSettings(
        ReminderChannel.SMS,
        {"issued": "SMS_1", "due_soon": "SMS_2", "overdue": "SMS_3", "paid": "SMS_4"},
        sign_name="学校",
        credentials={"access_key_id": "LTAI5tTest", "access_key_secret_env": "SMS_SECRET"},
    )
    for code in ("s1", "s2"):
        configure(w.engine, code, sms, actor="t", reason="t")


def _reminder_events(w: World) -> object:
    from billfold.adapters.db.schema import outbox_events

    with w.engine.uow() as uow:
        query = select(outbox_events.c.biller_id, outbox_events.c.event_type)
        rows = uow.conn.execute(query.where(outbox_events.c.event_type.like("reminder%")))
        return sorted(tuple(r) for r in rows)


FORMS |= {
    "/console/billers/{code}/bills/{bill_no}/waive": FormCase(
        roles=BURSAR,
        path=lambda w: S1_BILL,
        other=lambda w: S2_BILL,
        data=lambda w: {"amount": "10.00", "request_id": "w-1", "reason": "困难补助"},
        probe=_bills,
    ),
    "/console/billers/{code}/bills/{bill_no}/change": FormCase(
        roles=BURSAR,
        path=lambda w: S1_BILL,
        other=lambda w: S2_BILL,
        data=lambda w: {"amount": "120.00", "due_date": "2026-10-15", "reason": "按新标准"},
        probe=_bills,
    ),
    "/console/billers/{code}/bills/{bill_no}/cancel": FormCase(
        roles=BURSAR,
        path=lambda w: S1_BILL,
        other=lambda w: S2_BILL,
        data=lambda w: {"reason": "已退学"},
        probe=_bills,
    ),
    "/console/billers/{code}/bills/import": FormCase(
        roles=BURSAR,
        path=lambda w: {"code": "s1"},
        other=lambda w: {"code": "s2"},
        data=lambda w: {},
        files=lambda w: {"file": ("新账单.csv", "账单号,学号,金额\nN1,2026009,10.00\n".encode())},
        probe=_bills,
    ),
    "/console/billers/{code}/chase/export": FormCase(
        roles=BURSAR,
        path=lambda w: {"code": "s1"},
        other=lambda w: {"code": "s2"},
        data=lambda w: {"format": "csv", "reason": "电话催缴"},
        probe=_unmasked_exports,
    ),
    "/console/billers/{code}/remind": FormCase(
        roles=BURSAR,
        setup=_reminders_setup,
        path=lambda w: {"code": "s1"},
        other=lambda w: {"code": "s2"},
        data=lambda w: {"bill_nos": ["T1", "T2"], "reason": "家长未回复"},
        probe=_reminder_events,
    ),
}
NOT_A_PAGE = {"/console/login"}  # its own CSRF token (before any session): tested below


def _live_sessions(engine: Engine) -> int:
    with engine.uow() as uow:
        query = select(func.count()).select_from(console_sessions)
        return int(uow.conn.execute(query.where(console_sessions.c.ended_at.is_(None))).scalar())


def _audits(engine: Engine) -> int:
    with engine.uow() as uow:
        return int(uow.conn.execute(select(func.count()).select_from(audit_log)).scalar())


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with console_world(engine) as made:
        yield made


def _routes(routes: list[Any]) -> Iterator[Any]:
    """The app's routes, through included routers (FastAPI 0.165 includes them lazily)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        yield from _routes(inner.routes) if inner is not None else (route,)


def console_posts(world: World) -> set[str]:
    return {
        r.path
        for r in _routes(world.app.routes)
        if isinstance(r, APIRoute) and r.path.startswith("/console") and "POST" in r.methods
    }


def test_every_console_form_has_a_case(world: World) -> None:
    found = console_posts(world) - NOT_A_PAGE
    assert found == set(FORMS), f"give each console POST route a FormCase: {found ^ set(FORMS)}"


def _url(template: str, params: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: params[m.group(1)], template)


@pytest.mark.parametrize("template", sorted(FORMS))
def test_a_form_is_refused_without_its_token_by_another_role_or_tenant_and_changes_nothing(
    world: World, template: str
) -> None:
    case = FORMS[template]
    case.setup(world)
    url = _url(template, case.path(world))
    allowed = next(r for r in Role if r in case.roles)

    def unchanged(answer: Any, status: int, what: str) -> None:
        assert answer.status_code == status, (what, answer.status_code, answer.text[:400])
        assert case.probe(world) == before and _audits(world.engine) == audits, what

    sessions = {r: world.login(r.value) for r in Role}
    scoped = world.login(f"{allowed.value}-s1")  # allowed, but for biller s1 only
    before, audits = case.probe(world), _audits(world.engine)
    data = case.data(world)
    files = case.files(world) if case.files is not None else None

    def post(to: str, session: Any, form: dict[str, Any]) -> Any:
        return world.request("POST", to, session, form, files)

    answer = post(url, None, data)
    unchanged(answer, 303, "no session")
    assert answer.headers["location"] == "/console/login"
    me = sessions[allowed]
    unchanged(post(url, me, data), 403, "no CSRF token")
    unchanged(post(url, me, {**data, "csrf_token": "x" * 43}), 403, "bad token")
    other = sessions[next(r for r in Role if r not in case.roles)] if case.roles != ANY else me
    stolen = {**data, "csrf_token": other.csrf}  # another session's token is not this one's
    if other is not me:
        unchanged(post(url, me, stolen), 403, "another session's token")
    for role, session in sessions.items():
        if role not in case.roles:
            refused = post(url, session, {**data, "csrf_token": session.csrf})
            unchanged(refused, 403, f"role {role}")
            assert "角色" in refused.text
    if case.everywhere:
        answer = post(url, scoped, {**data, "csrf_token": scoped.csrf})
        unchanged(answer, 403, "a biller's user on a back-office page")
    if case.other is not None:
        theirs = _url(template, case.other(world))
        answer = post(theirs, scoped, {**data, "csrf_token": scoped.csrf})
        unchanged(answer, 404, "another biller's object")
    before = case.probe(world)
    answer = post(url, me, {**data, "csrf_token": me.csrf})
    assert answer.status_code < 400, answer.text[:400]
    assert case.probe(world) != before, "the valid form changed nothing: fix the case's data"


def test_the_login_form_without_its_token_logs_nobody_in(world: World) -> None:
    world.client.cookies.clear()
    answer = world.client.post("/console/login", data={"username": "admin", "password": PASSWORD})
    assert answer.status_code == 403 and "校验码" in answer.text
    assert "bf_console" not in answer.headers.get("set-cookie", "")
    assert _live_sessions(world.engine) == 0


def test_a_login_never_keeps_the_session_the_browser_came_with(world: World) -> None:
    first = world.login("bursar")
    world.client.cookies.clear()
    form = world.client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    fixed = {
        "Cookie": f"bf_console={first.cookie}; bf_console_login={form.cookies['bf_console_login']}"
    }
    answer = world.client.post(
        "/console/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)},
        headers=fixed,
    )
    assert answer.status_code == 303
    second = answer.cookies["bf_console"]
    assert second != first.cookie
    gone = world.request("GET", "/console/", first)  # the old one ended with the new login
    assert gone.status_code == 303 and gone.headers["location"] == "/console/login"
    planted = world.request("GET", "/console/", type(first)("x", "planted.value", ""))
    assert planted.status_code == 303


def test_every_console_page_carries_a_strict_content_security_policy(world: World) -> None:
    session = world.login("admin")
    for path in ("/console/", "/console/login", "/console/admin/keys", "/console/nope/x"):
        answer = world.request("GET", path, session)
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert "form-action 'self'" in policy and "unsafe-inline" not in policy, path
        assert answer.headers["x-frame-options"] == "DENY"
    assert "<script" not in world.request("GET", "/console/admin/keys", session).text
    unknown = world.request("GET", "/console/nope/x", session)
    assert unknown.status_code == 404 and "没有这个页面" in unknown.text


def test_the_console_loads_nothing_from_elsewhere_and_ships_no_script() -> None:
    from billfold.adapters.http import console

    root = Path(console.__file__).parent
    files = [*root.glob("templates/**/*.html"), *root.glob("static/*")]
    assert files and not [p for p in root.glob("static/*") if p.suffix == ".js"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        outside = r'(src|href|action)="(https?:)?//|url\(|@import|<script|\son[a-z]+="'
        assert not re.search(outside, text), path
        assert "style=" not in text, path  # inline style would need 'unsafe-inline'
