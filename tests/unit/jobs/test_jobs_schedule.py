"""Schedules in their text form, as cron lines for procrastinate, and as the loop's next run."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.errors import ConfigurationError
from billfold.jobs.config import load_config, parse_config
from billfold.jobs.schedule import (
    DEFAULTS,
    DUTIES,
    After,
    Daily,
    Every,
    Off,
    cron,
    next_run,
    parse_schedule,
)

NOW = datetime(2026, 9, 1, 2, 3, 4, tzinfo=UTC)  # 10:03:04 in Shanghai


@pytest.mark.parametrize(
    ("duty", "text", "schedule"),
    [
        ("outbox", "continuous", Every(5)),
        ("expiry", "every 1m", Every(60)),
        ("requery", "Every  5M", Every(300)),
        ("nonces", "every 1h", Every(3600)),
        ("expiry", "every 30s", Every(30)),
        ("reconcile", "daily 10:00", Daily(time(10, 0))),
        ("settle", "after reconcile", After("reconcile")),
        ("bureau", "off", Off()),
    ],
)
def test_schedules_are_read_from_their_text(duty: str, text: str, schedule: object) -> None:
    assert parse_schedule(duty, text) == schedule


@pytest.mark.parametrize(
    ("duty", "text", "message"),
    [
        ("expiry", "continuous", "schedule.expiry: 'continuous' is for the outbox only"),
        ("requery", "after reconcile", "schedule.requery: only settle may run 'after reconcile'"),
        ("expiry", "every 7m", "schedule.expiry: every 420 s does not divide a minute, an hour "
         "or a day evenly (1-30 s, 1-30 m, 1-24 h dividing 60 or 24)"),
        ("expiry", "every 0s", "schedule.expiry: every 0 s does not divide a minute, an hour "
         "or a day evenly (1-30 s, 1-30 m, 1-24 h dividing 60 or 24)"),
        ("reconcile", "daily 25:00", "schedule.reconcile: 'daily 25:00' is not a time of day"),
        ("nonces", "hourly", "schedule.nonces: 'hourly' is not a schedule; write 'every 5m', "
         "'daily 10:00', 'off'"),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_refused_naming_the_duty(duty: str, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_schedule(duty, text)
    assert caught.value.message == message


def test_cron_lines_are_in_utc_and_count_seconds_when_they_must() -> None:
    assert cron(Every(5), "Asia/Shanghai", NOW) == "* * * * * */5"
    assert cron(Every(300), "Asia/Shanghai", NOW) == "*/5 * * * *"
    assert cron(Every(3600), "Asia/Shanghai", NOW) == "0 */1 * * *"
    assert cron(Every(86400), "Asia/Shanghai", NOW) == "0 0 * * *"
    assert cron(Daily(time(10, 0)), "Asia/Shanghai", NOW) == "0 2 * * *"
    assert cron(Daily(time(3, 30)), "Asia/Shanghai", NOW) == "30 19 * * *"


def test_the_next_daily_run_is_today_or_tomorrow_in_the_billers_zone() -> None:
    ten = Daily(time(10, 0))
    assert next_run(ten, "Asia/Shanghai", NOW) == datetime(2026, 9, 2, 2, 0, tzinfo=UTC)
    early = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert next_run(ten, "Asia/Shanghai", early) == datetime(2026, 9, 1, 2, 0, tzinfo=UTC)


@given(
    seconds=st.sampled_from([1, 2, 5, 10, 15, 30, 60, 300, 600, 900, 3600, 7200, 86400]),
    offset=st.integers(min_value=0, max_value=10**8),
)
def test_periodic_runs_land_on_the_cron_grid_strictly_after_now(seconds: int, offset: int) -> None:
    after = datetime.fromtimestamp(1_700_000_000 + offset, UTC)
    upcoming = next_run(Every(seconds), "Asia/Shanghai", after)
    assert after < upcoming <= after + timedelta(seconds=seconds)
    assert int(upcoming.timestamp()) % seconds == 0


def test_the_defaults_schedule_every_duty() -> None:
    config = parse_config({})
    assert set(DEFAULTS) == set(DUTIES) == set(config.schedules)
    assert config.schedule("outbox") == Every(5)
    assert config.schedule("reconcile") == Daily(time(10, 0))
    assert config.get("outbox.lease_seconds") == 300


def test_a_toml_file_overrides_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "worker.toml"
    path.write_text(
        'timezone = "Asia/Urumqi"\ncontinuous_seconds = 2\n[schedule]\nnonces = "off"\n'
        'reconcile = "daily 09:30"\n[outbox]\nlease_seconds = 20\ntimeout = 3\n'
        '[reconcile]\nfolder = "/srv/statements"\n'
    )
    config = load_config(path)
    assert (config.timezone, config.schedule("outbox"), config.schedule("nonces")) == (
        "Asia/Urumqi", Every(2), Off(),
    )  # fmt: skip
    assert config.schedule("reconcile") == Daily(time(9, 30))
    assert (config.get("outbox.lease_seconds"), config.get("outbox.timeout")) == (20, 3.0)
    assert config.get("reconcile.folder") == "/srv/statements"
    assert config.get("outbox.batch") == 100


def test_a_json_file_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "worker.json"
    path.write_text('{"schedule": {"expiry": "every 2m"}}')
    assert load_config(path).schedule("expiry") == Every(120)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"shedule": {}}, "config: unknown key 'shedule'; known: "),
        ({"schedule": {"reminder": "every 1h"}}, "schedule.reminder: no such duty; known: "
         "outbox, expiry, requery, refunds, autodebit, bureau, reminders, nonces, reconcile, settle"),
        ({"schedule": {"expiry": 5}}, "schedule.expiry: must be text such as 'every 5m'"),
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not a known time zone"),
        ({"outbox": {"batsh": 1}}, "outbox.batsh: unknown setting; known: batch, timeout, "
         "lease_seconds, max_attempts"),
        ({"outbox": {"batch": "10"}}, "outbox.batch: must be int, got '10'"),
        ({"outbox": {"batch": True}}, "outbox.batch: must be int, got True"),
        ({"outbox": {"batch": 0}}, "outbox.batch: must be between 1 and 10000, got 0"),
        ({"nonces": {"older_than_minutes": 5}}, "nonces.older_than_minutes: must be between "
         "10 and 10080, got 5"),
        ({"continuous_seconds": 7}, "schedule.outbox: every 7 s does not divide a minute, an "
         "hour or a day evenly (1-30 s, 1-30 m, 1-24 h dividing 60 or 24)"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_by_name(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_config(data)
    assert caught.value.message.startswith(message)


def test_an_unreadable_or_broken_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(tmp_path / "missing.toml")
    assert caught.value.message.startswith("--config: cannot read ")
    broken = tmp_path / "w.toml"
    broken.write_text("[schedule\n")
    with pytest.raises(ConfigurationError) as caught:
        load_config(broken)
    assert caught.value.message.startswith("--config: w.toml is not valid: ")
