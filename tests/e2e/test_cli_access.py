"""Who may do what, from the command line: keys with roles (created, rotated, revoked),
back-office users (created, password from stdin, roles, disabled), billers' maker-checker
policies and proposals (listed, rejected), webhook secrets rotated; each audited with the
actor and reason given; bad input exits 1 with one line and changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine
from billfold.adapters.cli.app import app
from billfold.adapters.db import schema as t
from billfold.adapters.db.schema.access import backoffice_users, pending_approvals
from billfold.adapters.http.keys import authenticate
from billfold.adapters.outbox.endpoints import add_endpoint
from billfold.maker_checker import MakerChecker

runner = CliRunner()


def cli(db_url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database-url", db_url], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def count(engine: Engine, table: object) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_keys_carry_roles_and_rotate_with_a_grace_period(db_url: str, engine: Engine) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    code, out, err = cli(
        db_url, "serve", "keys", "create", "s1", "--roles", "bursar,viewer",
        "--actor", "李管理员", "--reason", "收费系统",
    )  # fmt: skip
    assert code == 0, err
    header, secret = out.strip().splitlines()
    key_id = header.split()[1]
    assert header == f"key {key_id} (s1, bursar,viewer)"
    code, out, err = cli(
        db_url, "serve", "keys", "rotate", key_id, "--grace-hours", "1",
        "--actor", "李管理员", "--reason", "定期轮换",
    )  # fmt: skip
    assert code == 0, err
    new_secret = out.strip().splitlines()[1]
    assert "the old secret works until" in err
    assert authenticate(engine, secret) is not None and authenticate(engine, new_secret) is not None
    code, out, _ = cli(db_url, "serve", "keys", "list")
    assert "rotated, old until" in out and secret not in out
    code, out, _ = cli(db_url, "serve", "keys", "revoke", key_id, "--reason", "下线")
    assert code == 0 and authenticate(engine, new_secret) is None
    actions = [(e["action"], e["reason"]) for e in engine.audit_log("api_key", key_id)]
    assert actions == [
        ("api_key.create", "收费系统"), ("api_key.rotate", "定期轮换"), ("api_key.revoke", "下线"),
    ]  # fmt: skip


def test_bad_key_commands_say_why_and_change_nothing(db_url: str, engine: Engine) -> None:
    before = count(engine, t.audit_log)
    code, _, err = cli(db_url, "serve", "keys", "create", "--back-office", "--roles", "boss")
    assert code == 1 and "--roles: 'boss' is not a role; known: bursar" in err
    code, _, err = cli(
        db_url, "serve", "keys", "create", "--back-office", "--roles", "admin", "--scope", "read"
    )
    assert code == 1 and "give --roles or --scope, not both" in err
    code, _, err = cli(db_url, "serve", "keys", "rotate", "nope")
    assert code == 1 and "API key 'nope' does not exist" in err
    assert count(engine, t.audit_log) == before


def test_a_user_is_created_given_a_password_and_disabled(db_url: str, engine: Engine) -> None:
    code, out, err = cli(
        db_url, "users", "create", "wang", "王会计", "--roles", "reconciler",
        "--actor", "admin", "--reason", "入职",
    )  # fmt: skip
    assert code == 0 and out.strip() == "user wang created (reconciler)", err
    code, out, err = cli(
        db_url, "users", "password", "wang", "--password-stdin", "--actor", "admin",
        "--reason", "首次", stdin="a long enough secret\n",
    )  # fmt: skip
    assert code == 0 and "password set for wang" in out, err
    code, out, _ = cli(db_url, "users", "list")
    assert "王会计" in out and "已设密码" in out and "全部商户" in out
    code, out, _ = cli(
        db_url, "users", "roles", "wang", "reconciler,supervisor", "--actor", "admin",
        "--reason", "升职",
    )  # fmt: skip
    assert out.strip() == "user wang now has reconciler,supervisor"
    code, _, _ = cli(db_url, "users", "disable", "wang", "--actor", "admin", "--reason", "离职")
    assert code == 0
    code, out, _ = cli(db_url, "users", "list")
    assert "王会计" not in out
    code, _, err = cli(
        db_url, "users", "create", "wang", "又一个", "--roles", "admin", "--actor", "a",
        "--reason", "r",
    )  # fmt: skip
    assert code == 1 and "user 'wang' exists already" in err
    assert count(engine, backoffice_users) == 1
    assert [e["action"] for e in engine.audit_log("user", "wang")] == [
        "user.create", "user.password", "user.roles", "user.disable",
    ]  # fmt: skip


def test_policies_and_proposals_from_the_command_line(db_url: str, engine: Engine) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    code, out, _ = cli(db_url, "approvals", "policy", "s1")
    assert "s1 settlement.approve     需复核" in out and "s1 refund                 无需复核" in out
    code, _, err = cli(db_url, "approvals", "policy", "s1", "refund", "--on")
    assert code == 1 and "threshold: refund needs the amount above which it is checked" in err
    code, _, err = cli(db_url, "approvals", "policy", "s1", "payment.reverse", "--off")
    assert code == 1 and "actor and reason: say who changes the policy and why" in err
    code, out, err = cli(
        db_url, "approvals", "policy", "s1", "refund", "--on", "--threshold", "500",
        "--actor", "admin", "--reason", "大额退款复核",
    )  # fmt: skip
    assert code == 0 and "需复核 超过 500.00 元" in out, err
    proposal = MakerChecker(engine).propose(
        "biller.limits", {"biller": "s1", "daily_fen": 100000, "reason": "x"},
        maker="cli:zhang", biller_code="s1",
    )  # fmt: skip
    code, out, _ = cli(db_url, "approvals", "list", "--state", "proposed")
    assert "商户限额调整" in out and "cli:zhang" in out and "1 条" in out
    code, _, err = cli(db_url, "approvals", "reject", str(proposal.id), "--by", "zhang",
                       "--reason", "自己否决")  # fmt: skip
    assert code == 1 and "cli:zhang proposed it and may not decide it" in err
    code, out, _ = cli(db_url, "approvals", "reject", str(proposal.id), "--by", "li",
                       "--reason", "额度过高")  # fmt: skip
    assert code == 0 and "rejected by cli:li" in out
    assert engine.biller("s1").limits.daily_fen is None
    code, _, err = cli(db_url, "approvals", "list", "--state", "maybe")
    assert code == 1 and "--state: 'maybe'" in err
    assert count(engine, pending_approvals) == 1


def test_a_webhook_secret_is_rotated_and_printed_once(db_url: str, engine: Engine) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    ep = add_endpoint(engine, "s1", "https://s1.example/hook", "x" * 32)
    code, out, err = cli(
        db_url, "outbox", "endpoints", "rotate", str(ep.id), "--reason", "泄露", "--actor", "ops"
    )
    assert code == 0, err
    secret = out.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert secret != "x" * 32 and len(secret) >= 16
    (last,) = engine.audit_log("webhook_endpoint", str(ep.id))[-1:]
    assert (last["action"], last["actor"], last["reason"]) == (
        "webhook_endpoint.secret_rotated", "ops", "泄露",
    )  # fmt: skip


def test_a_limit_change_waits_for_a_second_person(db_url: str, engine: Engine) -> None:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    code, out, err = cli(
        db_url, "billers", "limits", "s1", "--daily", "1000", "--by", "zhang", "--reason", "旺季"
    )
    assert code == 0 and out.startswith("proposed approval 1 (biller.limits)"), err
    assert engine.biller("s1").limits.daily_fen is None
    code, _, err = cli(db_url, "billers", "limits", "s1", "--daily", "-5", "--by", "z",
                       "--reason", "r")  # fmt: skip
    assert code == 1 and "--daily: '-5' is negative" in err
    code, _, err = cli(db_url, "billers", "limits", "s1", "--daily", "0", "--by", "z",
                       "--reason", "r")  # fmt: skip
    assert code == 1 and "daily_fen: a limit must be a positive amount, got 0" in err
    code, out, err = cli(db_url, "approvals", "approve", "1", "--by", "li")
    assert code == 0, err
    assert engine.biller("s1").limits.daily_fen == 100000
    (changed,) = [e for e in engine.audit_log("biller", "s1") if e["action"] != "approval.policy"][
        -1:
    ]
    assert changed["actor"] == "zhang, checked by cli:li" and changed["reason"] == "旺季"
    assert count(engine, pending_approvals) == 1
