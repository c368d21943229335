"""Payer reminders: their kinds, a biller's reminder settings, quiet hours and the texts.

A reminder tells a payer about one bill: it was issued (``issued``), it falls due in N days
(``due_soon``), it is overdue (``overdue``), or it was paid (``paid``, the receipt). Each goes
by the biller's reminder channel — SMS or a WeChat subscription message — at most once of a
kind per bill per business day, never to a payer who opted out, and never in the biller's
quiet hours (it waits until they end).

Pure values and rules: nothing here does I/O. The outbox's reminder sender
(:mod:`billfold.adapters.outbox.reminders`) stores, claims and sends them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from billfold.errors import InvalidInput

__all__ = [
    "TEXTS",
    "ReminderChannel",
    "ReminderKind",
    "ReminderSettings",
    "ReminderStatus",
    "quiet_until",
    "render_text",
]


class ReminderKind(StrEnum):
    ISSUED = "issued"  # 账单已出
    DUE_SOON = "due_soon"  # N 天后到期
    OVERDUE = "overdue"  # 已逾期
    PAID = "paid"  # 缴费回执


class ReminderChannel(StrEnum):
    SMS = "sms"  # Alibaba Cloud SMS (SendSms)
    WECHAT = "wechat"  # WeChat subscription message (subscribe/send)


class ReminderStatus(StrEnum):
    PENDING = "pending"  # waiting for its time (or its quiet hours to end)
    SENT = "sent"  # the provider accepted it
    DEAD = "dead"  # every attempt failed
    SKIPPED = "skipped"  # not sent: opted out, no phone or openid, settings gone


#: The Chinese texts a payer reads, one per kind; ``${name}`` are the template parameters
#: (the same names as the SMS ``TemplateParam`` keys). Register these with the SMS provider.
TEXTS: dict[ReminderKind, str] = {
    ReminderKind.ISSUED: "${biller}账单${bill_no}已出，应缴${amount}元，请于${due_date}前缴纳。",
    ReminderKind.DUE_SOON: (
        "${biller}提醒：账单${bill_no}尚欠${amount}元，将于${due_date}到期（还有${days}天），"
        "请及时缴纳。"
    ),
    ReminderKind.OVERDUE: (
        "${biller}提醒：账单${bill_no}已于${due_date}到期，尚欠${amount}元，已逾期${days}天，"
        "请尽快缴纳。"
    ),
    ReminderKind.PAID: "${biller}已收到账单${bill_no}缴费${amount}元，感谢您的缴纳。",
}

#: What a template parameter may be called (SMS TemplateParam keys, WeChat field sources).
PARAMS = ("biller", "bill_no", "amount", "due_date", "days")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_PARAM = re.compile(r"\$\{(\w+)\}")


def render_text(kind: ReminderKind, params: dict[str, str]) -> str:
    """The Chinese text of a reminder with its parameters filled in (a missing one shows
    as ``-``: a due date the bill does not have)."""
    return _PARAM.sub(lambda m: params.get(m[1]) or "-", TEXTS[kind])


def _clock_time(value: str, name: str) -> time:
    found = _HHMM.fullmatch(value.strip())
    if found is None:
        raise InvalidInput(f"{name}: {value!r} is not a time of day as HH:MM (e.g. 21:00)")
    return time(int(found[1]), int(found[2]))


@dataclass(frozen=True, slots=True)
class ReminderSettings:
    """How one biller reminds its payers.

    ``templates`` maps each kind the biller sends to the provider's template: for SMS the
    template code (``"SMS_123456"``); for WeChat ``{"template_id": "...", "fields":
    {"thing1": "biller", "amount2": "amount", ...}}`` (each field filled from a parameter).
    A kind without a template is not sent. ``credentials`` hold *references* to secrets
    (``access_key_secret_env``/``_file``, ``app_secret_env``/``_file``), never a secret.
    """

    channel: ReminderChannel
    templates: dict[str, Any]
    days_before: int = 3
    overdue_every_days: int = 7
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    sign_name: str = ""
    credentials: dict[str, str] = field(default_factory=dict)
    active: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.days_before <= 60:
            raise InvalidInput(f"days_before: must be 0 to 60 days, got {self.days_before}")
        if not 1 <= self.overdue_every_days <= 60:
            raise InvalidInput(
                f"overdue_every_days: must be 1 to 60 days, got {self.overdue_every_days}"
            )
        start = _clock_time(self.quiet_start, "quiet_start")
        end = _clock_time(self.quiet_end, "quiet_end")
        object.__setattr__(self, "quiet_start", f"{start:%H:%M}")
        object.__setattr__(self, "quiet_end", f"{end:%H:%M}")
        for kind, template in self.templates.items():
            if kind not in {k.value for k in ReminderKind}:
                known = ", ".join(k.value for k in ReminderKind)
                raise InvalidInput(f"templates: {kind!r} is not a reminder kind ({known})")
            self._check_template(kind, template)
        if self.channel is ReminderChannel.SMS and self.templates and not self.sign_name:
            raise InvalidInput("sign_name: SMS reminders need the approved signature (签名)")
        for name, value in self.credentials.items():
            if not (name.endswith("_env") or name.endswith("_file") or name.endswith("_id")):
                raise InvalidInput(
                    f"credentials: {name!r} — give ids and *references* to secrets "
                    "(names ending _id, _env or _file), never a secret itself"
                )
            if not isinstance(value, str) or not value:
                raise InvalidInput(f"credentials: {name} must be non-empty text")

    def _check_template(self, kind: str, template: Any) -> None:
        if self.channel is ReminderChannel.SMS:
            if not isinstance(template, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,64}", template):
                raise InvalidInput(
                    f"templates.{kind}: an SMS template code such as 'SMS_123456', got {template!r}"
                )
            return
        if not isinstance(template, dict) or not isinstance(template.get("template_id"), str):
            raise InvalidInput(f"templates.{kind}: a WeChat template needs a template_id")
        fields = template.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise InvalidInput(f"templates.{kind}: a WeChat template needs fields")
        for key, source in fields.items():
            if source not in PARAMS:
                raise InvalidInput(
                    f"templates.{kind}.fields.{key}: {source!r} is not one of {', '.join(PARAMS)}"
                )

    def template(self, kind: ReminderKind) -> Any:
        return self.templates.get(kind.value)


def quiet_until(now: datetime, zone: str, start: str, end: str) -> datetime | None:
    """When the quiet hours holding ``now`` end (aware UTC), or ``None`` outside them.

    ``start``/``end`` are wall-clock times in ``zone``; ``21:00``-``08:00`` spans midnight.
    Equal times mean no quiet hours."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    begin, finish = _clock_time(start, "quiet_start"), _clock_time(end, "quiet_end")
    if begin == finish:
        return None
    clock = local.time().replace(tzinfo=None)
    if begin < finish:
        inside = begin <= clock < finish
        day = local.date()
    else:  # across midnight: after start tonight, or before end this morning
        inside = clock >= begin or clock < finish
        day = local.date() + timedelta(days=1) if clock >= begin else local.date()
    if not inside:
        return None
    return datetime.combine(day, finish, tz).astimezone(UTC)
