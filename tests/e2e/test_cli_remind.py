"""``billfold remind`` as a bursar and an administrator would use it (SQLite, sandbox SMS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine
from billfold.adapters.cli.app import app

runner = CliRunner()


def school(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = Engine.from_url(url, upgrade=True)
    engine.create_biller(Biller(code="s1", name="第一中学", kind=BillerKind.SCHOOL))
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    due = today + timedelta(days=3)
    engine.import_bills(
        "s1",
        f"bill_no,payer_id,amount,payer_phone,due_date\nT1,2024001,4880.00,13812345678,{due}\n"
        f"T2,2024002,10.00,13900001111,{due}\n".encode(),
    )
    engine.close()
    return url


def configure(url: str, *extra: str) -> object:
    return runner.invoke(
        app,
        [
            "remind", "configure", "s1", "--channel", "sms", "--template", "due_soon=SMS_101",
            "--sign-name", "第一中学", "--credential", "access_key_id=LTAI5t",
            "--credential", "access_key_secret_env=S1_SMS_SECRET", "--quiet", "00:00-00:00",
            "--actor", "admin", "--database-url", url, *extra,
        ],
    )  # fmt: skip


def test_configure_send_run_list_and_opt_out(tmp_path: Path) -> None:
    url = school(tmp_path)
    done = configure(url)
    assert done.exit_code == 0, done.stderr  # type: ignore[attr-defined]
    assert done.stdout == "s1: 催缴提醒设置已保存（短信）\n"  # type: ignore[attr-defined]

    opted = runner.invoke(app, ["remind", "opt-out", "s1", "13900001111", "--database-url", url])
    assert opted.stdout == "已退订\n"
    again = runner.invoke(app, ["remind", "opt-out", "s1", "13900001111", "--database-url", url])
    assert again.stdout == "此前已退订\n"

    sent = runner.invoke(
        app, ["remind", "send", "s1", "T1", "T2", "NOPE", "--actor", "clerk", "--database-url", url]
    )
    assert sent.exit_code == 0, sent.stderr
    assert sent.stdout == ("T1\t已加入发送\t到期提醒\nT2\t已加入发送\t到期提醒\nNOPE\t账单不存在\n")

    ran = runner.invoke(
        app, ["remind", "run", "--database-url", url], env={"S1_SMS_SECRET": "sandbox-secret"}
    )
    assert ran.exit_code == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert (summary["sent"], summary["skipped"], summary["due_soon"]) == (1, 1, 0)

    listed = runner.invoke(app, ["remind", "list", "s1", "--database-url", url])
    lines = listed.stdout.splitlines()
    assert lines[0] == "账单号\t类型\t日期\t渠道\t状态\t内容"
    assert any(
        line.startswith("T1\t到期提醒\t")
        and "短信\t已发送\t第一中学提醒：账单T1尚欠4880.00元" in line
        for line in lines
    )
    assert any(line.startswith("T2\t到期提醒\t") and "\t未发送\t" in line for line in lines)
    assert "13812345678" not in listed.stdout

    shown = runner.invoke(app, ["remind", "show", "s1", "--database-url", url])
    assert json.loads(shown.stdout)["credentials"] == {
        "access_key_id": "LTAI5t",
        "access_key_secret_env": "S1_SMS_SECRET",
    }


def test_bad_settings_exit_1_naming_the_option_and_change_nothing(tmp_path: Path) -> None:
    url = school(tmp_path)
    assert configure(url).exit_code == 0  # type: ignore[attr-defined]
    for extra, message in [
        (["--channel", "email"], "error: --channel: 'email' is not sms or wechat\n"),
        (
            ["--credential", "access_key_secret=abc"],
            "error: credentials: 'access_key_secret' — give ids and *references* to secrets "
            "(names ending _id, _env or _file), never a secret itself\n",
        ),
        (["--quiet", "late"], "error: --quiet: 'late' is not START-END such as 21:00-08:00\n"),
        (["--days-before", "90"], "error: days_before: must be 0 to 60 days, got 90\n"),
        (["--template", "due_soon"], "error: --template: 'due_soon' is not NAME=VALUE\n"),
    ]:
        result = configure(url, *extra)
        assert result.exit_code == 1  # type: ignore[attr-defined]
        assert result.stderr == message  # type: ignore[attr-defined]
    shown = runner.invoke(app, ["remind", "show", "s1", "--database-url", url])
    assert json.loads(shown.stdout)["days_before"] == 3
    assert "abc" not in shown.stdout


def test_remind_for_a_biller_without_settings_exits_1_saying_what_to_do(tmp_path: Path) -> None:
    url = school(tmp_path)
    result = runner.invoke(
        app, ["remind", "send", "s1", "T1", "--actor", "clerk", "--database-url", url]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "error: biller s1 has no active reminder settings; set them with "
        "`billfold remind configure` first\n"
    )
