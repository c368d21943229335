"""``billfold channel forget-nonces`` prunes the replay-check nonces older than asked, on
SQLite and PostgreSQL, and refuses a window shorter than the notifications' own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from billfold import Engine
from billfold.adapters.db import schema as t
from billfold.clock import FixedClock

runner = CliRunner()


def _seen(engine: Engine) -> set[str]:
    with engine.uow() as uow:
        return set(uow.conn.execute(select(t.channel_nonces.c.nonce)).scalars())


def _remember(url: str, nonce: str, ago: timedelta) -> None:
    # the CLI runs on the system clock, so the nonces are placed relative to now
    engine = Engine.from_url(url, clock=FixedClock(datetime.now(UTC) - ago))
    try:
        assert engine.remember_nonce("wechatpay", nonce) is False
    finally:
        engine.close()


def test_nonces_older_than_the_window_are_forgotten_and_recent_ones_kept(
    db_url: str, engine: Engine
) -> None:
    from billfold.adapters.cli.app import app

    _remember(db_url, "OLD-2H", timedelta(hours=2))
    _remember(db_url, "OLD-61M", timedelta(minutes=61))
    _remember(db_url, "NEW-5M", timedelta(minutes=5))
    result = runner.invoke(app, ["channel", "forget-nonces", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert result.stdout == "forgot 2 nonce(s) seen before the last 60 minutes\n"
    assert _seen(engine) == {"NEW-5M"}
    again = runner.invoke(app, ["channel", "forget-nonces", "--database-url", db_url])
    assert again.stdout == "forgot 0 nonce(s) seen before the last 60 minutes\n"
    assert engine.remember_nonce("wechatpay", "NEW-5M") is True  # still a replay


def test_a_window_shorter_than_ten_minutes_is_refused_and_nothing_is_forgotten(
    db_url: str, engine: Engine
) -> None:
    from billfold.adapters.cli.app import app

    _remember(db_url, "OLD-2H", timedelta(hours=2))
    result = runner.invoke(
        app, ["channel", "forget-nonces", "--older-than", "5", "--database-url", db_url]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --older-than 5: at least 10 minutes, or a replay still inside the "
        "notifications' five-minute timestamp window could pass\n"
    )
    assert _seen(engine) == {"OLD-2H"}
