"""Reminder settings, quiet hours and texts: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billfold.collection.reminder import (
    ReminderChannel,
    ReminderKind,
    ReminderSettings,
    quiet_until,
    render_text,
)
from billfold.errors import InvalidInput

SH = "Asia/Shanghai"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "start", "end", "until"),
    [
        # 21:00-08:00 in Shanghai (UTC+8) spans midnight
        ("2026-09-01T12:59:59", "21:00", "08:00", None),  # 20:59:59
        ("2026-09-01T13:00:00", "21:00", "08:00", "2026-09-02T00:00:00"),  # 21:00
        ("2026-09-01T16:00:00", "21:00", "08:00", "2026-09-02T00:00:00"),  # 00:00
        ("2026-09-01T23:59:00", "21:00", "08:00", "2026-09-02T00:00:00"),  # 07:59
        ("2026-09-02T00:00:00", "21:00", "08:00", None),  # 08:00: over
        # 12:00-14:00: a lunchtime window on one day
        ("2026-09-01T04:30:00", "12:00", "14:00", "2026-09-01T06:00:00"),
        ("2026-09-01T06:00:00", "12:00", "14:00", None),
        # equal times: no quiet hours
        ("2026-09-01T14:00:00", "22:00", "22:00", None),
    ],
)
def test_quiet_hours_in_the_billers_timezone(
    now: str, start: str, end: str, until: str | None
) -> None:
    assert quiet_until(utc(now), SH, start, end) == (utc(until) if until else None)


def test_quiet_hours_follow_the_zone_given() -> None:
    # 22:30 in London (BST, UTC+1) is quiet there, and 05:30 in Shanghai is quiet there too
    now = utc("2026-09-01T21:30:00")
    assert quiet_until(now, "Europe/London", "21:00", "08:00") == utc("2026-09-02T07:00:00")
    assert quiet_until(now, SH, "21:00", "08:00") == utc("2026-09-02T00:00:00")


def test_every_kind_has_a_chinese_text_with_amounts_in_yuan() -> None:
    params = {"biller": "自来水公司", "bill_no": "W1", "amount": "56.70", "due_date": "2026-09-10"}
    assert render_text(ReminderKind.ISSUED, params) == (
        "自来水公司账单W1已出，应缴56.70元，请于2026-09-10前缴纳。"
    )
    assert (
        render_text(ReminderKind.PAID, params)
        == "自来水公司已收到账单W1缴费56.70元，感谢您的缴纳。"
    )
    assert "还有-天" in render_text(ReminderKind.DUE_SOON, params)  # a missing value shows "-"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days_before": 61}, "days_before: must be 0 to 60 days, got 61"),
        ({"overdue_every_days": 0}, "overdue_every_days: must be 1 to 60 days, got 0"),
        ({"quiet_start": "25:00"}, "quiet_start: '25:00' is not a time of day as HH:MM"),
        ({"quiet_end": "8"}, "quiet_end: '8' is not a time of day as HH:MM"),
        ({"templates": {"late": "SMS_1"}}, "templates: 'late' is not a reminder kind"),
        ({"templates": {"paid": "短信模板"}}, "templates.paid: an SMS template code"),
        ({"sign_name": ""}, "sign_name: SMS reminders need the approved signature"),
        ({"credentials": {"access_key_secret": "x"}}, "never a secret itself"),
        ({"credentials": {"access_key_id": ""}}, "credentials: access_key_id must be non-empty"),
    ],
)
def test_bad_sms_settings_are_refused_by_name(kwargs: dict[str, object], message: str) -> None:
    given: dict[str, object] = {"templates": {"paid": "SMS_1"}, "sign_name": "一中", **kwargs}
    with pytest.raises(InvalidInput, match=message):
        ReminderSettings(ReminderChannel.SMS, **given)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("tmpl", "templates.paid: a WeChat template needs a template_id"),
        ({"template_id": "t"}, "templates.paid: a WeChat template needs fields"),
        ({"template_id": "t", "fields": {"thing1": "name"}}, "'name' is not one of biller"),
    ],
)
def test_bad_wechat_templates_are_refused(template: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        ReminderSettings(ReminderChannel.WECHAT, {"paid": template})


def test_quiet_hours_are_kept_as_hh_mm() -> None:
    settings = ReminderSettings(ReminderChannel.WECHAT, {}, quiet_start=" 09:05 ")
    assert (settings.quiet_start, settings.quiet_end) == ("09:05", "08:00")
