"""``billfold remind``: payer reminders — configure a biller's, remind bills, opt-outs, run.

Reminders (bill issued, due in N days, overdue, paid receipt) go through the outbox to the
biller's channel (SMS or WeChat subscription messages); see docs/reminders.md. Errors print
``error: <message>`` on stderr and exit 1.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from billfold.adapters.cli.common import DbUrl, fail, open_engine
from billfold.errors import BillfoldError
from billfold.labels import label

if TYPE_CHECKING:
    from billfold.adapters.outbox.reminders.message import HttpxPoster, ReminderSender
    from billfold.collection.reminder import ReminderChannel

__all__ = ["app"]

app = typer.Typer(
    help="Payer reminders by SMS or WeChat: settings, remind bills, opt-outs, send.",
    no_args_is_help=True,
)

Actor = Annotated[str, typer.Option("--actor", help="Who does this, for the audit log.")]
Reason = Annotated[str, typer.Option("--reason", help="Why, for the audit log.")]


def _pairs(values: list[str], what: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            fail(f"{what}: {item!r} is not NAME=VALUE")
        text = value.strip()
        if text.startswith("{"):
            try:
                found[name.strip()] = json.loads(text)
            except ValueError as exc:
                fail(f"{what}: {name.strip()} is not valid JSON: {exc}")
        else:
            found[name.strip()] = text
    return found


@app.command("configure")
def configure(
    biller: Annotated[str, typer.Argument(help="The biller's code.")],
    channel: Annotated[str, typer.Option("--channel", help="sms or wechat.")],
    template: Annotated[
        list[str],
        typer.Option(
            "--template",
            help="KIND=TEMPLATE for each kind to send (issued, due_soon, overdue, paid): an SMS "
            "template code, or for WeChat a JSON object with template_id and fields.",
        ),
    ],
    actor: Actor,
    days_before: Annotated[int, typer.Option(help="Due-soon reminders this many days ahead.")] = 3,
    overdue_every: Annotated[
        int, typer.Option(help="Overdue reminders on day 1, then every N days.")
    ] = 7,
    quiet: Annotated[str, typer.Option(help="Quiet hours, biller's timezone.")] = "21:00-08:00",
    sign_name: Annotated[str, typer.Option(help="The approved SMS signature (签名).")] = "",
    credential: Annotated[
        list[str] | None,
        typer.Option(
            "--credential",
            help="NAME=VALUE: ids and references to secrets only, e.g. access_key_id=LTAI..., "
            "access_key_secret_env=S1_SMS_SECRET, app_id=wx..., app_secret_file=/etc/...",
        ),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Keep the settings, send nothing.")] = False,
    reason: Reason = "",
    database_url: DbUrl = None,
) -> None:
    """Set a biller's reminder settings (replacing any before)."""
    from billfold.adapters.outbox.reminders import api
    from billfold.collection.reminder import ReminderChannel, ReminderSettings

    start, sep, end = quiet.partition("-")
    if not sep:
        fail(f"--quiet: {quiet!r} is not START-END such as 21:00-08:00")
    try:
        settings = ReminderSettings(
            channel=ReminderChannel(channel) if channel in ("sms", "wechat") else _bad(channel),
            templates=_pairs(template, "--template"),
            days_before=days_before,
            overdue_every_days=overdue_every,
            quiet_start=start,
            quiet_end=end,
            sign_name=sign_name,
            credentials={k: str(v) for k, v in _pairs(credential or [], "--credential").items()},
            active=not off,
        )
    except BillfoldError as exc:
        fail(exc.message)
    with open_engine(database_url) as engine:
        api.configure(engine, biller, settings, actor=actor, reason=reason)
    typer.echo(f"{biller}: 催缴提醒设置已保存（{label('reminder_channel', settings.channel)}）")


def _bad(channel: str) -> ReminderChannel:
    fail(f"--channel: {channel!r} is not sms or wechat")


@app.command("show")
def show(
    biller: Annotated[str, typer.Argument(help="The biller's code.")],
    database_url: DbUrl = None,
) -> None:
    """Print a biller's reminder settings as JSON (credentials are references only)."""
    from billfold.adapters.outbox.reminders import api

    with open_engine(database_url) as engine:
        found = api.settings_of(engine, biller)
    if found is None:
        fail(f"biller {biller} has no reminder settings")
    typer.echo(json.dumps(api.settings_view(found), ensure_ascii=False, indent=2, sort_keys=True))


@app.command("send")
def send(
    biller: Annotated[str, typer.Argument(help="The biller's code.")],
    bill_nos: Annotated[list[str], typer.Argument(help="Bill numbers to remind.")],
    actor: Actor,
    reason: Reason = "",
    database_url: DbUrl = None,
) -> None:
    """Remind the payers of the given bills now (sent by the worker, outside quiet hours)."""
    from billfold.adapters.outbox.reminders import api

    with open_engine(database_url) as engine:
        done = api.remind_bills(engine, biller, bill_nos, actor=actor, reason=reason)
    for item in done:
        kind = label("reminder_kind", item.kind) if item.kind else ""
        typer.echo(f"{item.bill_no}\t{label('remind_outcome', item.outcome)}\t{kind}".rstrip())


@app.command("opt-out")
def opt_out(
    biller: Annotated[str, typer.Argument(help="The biller's code.")],
    address: Annotated[str, typer.Argument(help="The payer's phone number or WeChat openid.")],
    source: Annotated[str, typer.Option(help="Where the request came from.")] = "cli",
    database_url: DbUrl = None,
) -> None:
    """Send no more reminders from the biller to this phone number or openid."""
    from billfold.adapters.outbox.reminders import api

    with open_engine(database_url) as engine:
        new = api.opt_out(engine, biller, address, source=source)
    typer.echo("已退订" if new else "此前已退订")


@app.command("opt-in")
def opt_in(
    biller: Annotated[str, typer.Argument(help="The biller's code.")],
    address: Annotated[str, typer.Argument(help="The payer's phone number or WeChat openid.")],
    database_url: DbUrl = None,
) -> None:
    """Undo an opt-out."""
    from billfold.adapters.outbox.reminders import api

    with open_engine(database_url) as engine:
        gone = api.opt_in(engine, biller, address)
    typer.echo("已恢复提醒" if gone else "未曾退订")


@app.command("bind-openid")
def bind_openid(
    biller: Annotated[str, typer.Argument(help="The biller's code.")],
    bill_no: Annotated[str, typer.Argument(help="A bill of the payer.")],
    openid: Annotated[str, typer.Argument(help="The payer's openid in the biller's app.")],
    database_url: DbUrl = None,
) -> None:
    """Remember the WeChat openid of a bill's payer, for WeChat reminders."""
    from billfold.adapters.outbox.reminders import api

    with open_engine(database_url) as engine:
        api.bind_openid(engine, biller, bill_no, openid)
    typer.echo("已绑定")


@app.command("list")
def list_(
    biller: Annotated[str, typer.Argument(help="The biller's code.")],
    status: Annotated[str | None, typer.Option(help="pending, sent, dead or skipped.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    database_url: DbUrl = None,
) -> None:
    """The biller's reminders, newest first, with their Chinese text."""
    from billfold.adapters.outbox.reminders import api

    with open_engine(database_url) as engine:
        found = api.list_reminders(engine, biller, status=status, limit=limit)
    typer.echo("账单号\t类型\t日期\t渠道\t状态\t内容")
    for r in found:
        typer.echo(
            f"{r.bill_no}\t{label('reminder_kind', r.kind)}\t{r.day}\t"
            f"{label('reminder_channel', r.channel)}\t"
            f"{label('reminder_status', r.status)}\t{r.text}"
        )


@app.command("run")
def run(
    live: Annotated[
        bool, typer.Option("--live", help="Send to the real APIs (default: the sandbox).")
    ] = False,
    batch: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    max_attempts: Annotated[int, typer.Option(min=1, max=100)] = 5,
    database_url: DbUrl = None,
) -> None:
    """One pass of the worker's reminders duty: emit what is due today, fan out, send."""
    from billfold.adapters.outbox.reminders import api
    from billfold.adapters.outbox.reminders.message import HttpxPoster
    from billfold.adapters.outbox.retry import RetryPolicy
    from billfold.testing.sandbox.reminders import sandbox_senders

    policy = RetryPolicy(max_attempts=max_attempts)
    with open_engine(database_url) as engine:
        if live:
            with HttpxPoster() as http:
                senders = _live(http, engine.clock)
                summary = api.run_reminders(engine, senders, batch=batch, policy=policy)
        else:
            senders = sandbox_senders(engine.clock)[0]
            summary = api.run_reminders(engine, senders, batch=batch, policy=policy)
    typer.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True))


def _live(http: HttpxPoster, clock: Any) -> dict[str, ReminderSender]:
    from billfold.adapters.outbox.reminders.aliyun_sms import AliyunSms
    from billfold.adapters.outbox.reminders.wechat_subscribe import StableTokens, WechatSubscribe
    from billfold.channels.secrets import EnvSecrets

    secrets = EnvSecrets()
    return {
        "sms": AliyunSms(http, secrets, clock),
        "wechat": WechatSubscribe(http, StableTokens(http, secrets, clock)),
    }
