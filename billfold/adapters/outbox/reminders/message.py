"""What the reminder sender hands a provider, what it hands back, and how it is sent.

Each provider (:mod:`.aliyun_sms`, :mod:`.wechat_subscribe`) turns an :class:`Outgoing`
into its own request, signed its own way, and posts it through a :class:`HttpPoster`; the
vendor formats never leave those modules. ``billfold.testing.sandbox.reminders`` answers
like the providers do, for the demo and tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from billfold.adapters.outbox.httpx_owner import HttpxClientOwner
from billfold.collection.reminder import ReminderChannel, ReminderKind
from billfold.masking import mask_account, mask_phone, scrub_text

__all__ = [
    "HttpAnswer",
    "HttpPoster",
    "HttpxPoster",
    "Outgoing",
    "ReminderSender",
    "Sent",
    "mask_address",
    "safe_error",
]

_PHONE = re.compile(r"\+?\d{7,15}")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One reminder to send: to ``address`` (a phone number or an openid)."""

    reminder_id: int
    kind: ReminderKind
    address: str = field(repr=False)
    template: Any
    params: dict[str, str]
    sign_name: str
    credentials: dict[str, str]


@dataclass(frozen=True, slots=True)
class Sent:
    """The provider's answer: accepted (with its id for the message), or why not.
    ``permanent`` failures (a bad number, a refused subscription) are never retried."""

    ok: bool
    ref: str | None = None
    error: str | None = None
    permanent: bool = False


class ReminderSender(Protocol):
    channel: ReminderChannel

    def send(self, message: Outgoing) -> Sent:
        """Send one reminder; a transport fault is a failed :class:`Sent`, not an exception."""
        ...


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: bytes = b""


class HttpPoster(Protocol):
    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> HttpAnswer:
        """POST and return the answer; raise when none came (refused, timed out)."""
        ...


class HttpxPoster(HttpxClientOwner):
    """Providers' APIs over httpx, with bounded waits and no redirects followed."""

    def __init__(self, timeout: float = 10.0) -> None:
        super().__init__(
            httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False
            )
        )

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> HttpAnswer:
        response = self._client.post(url, headers=dict(headers), content=body)
        return HttpAnswer(response.status_code, response.content[:65536])


def mask_address(address: str | None) -> str:
    """A phone number as ``138****5678``, an openid by its last four characters."""
    if not address:
        return ""
    return mask_phone(address) if _PHONE.fullmatch(address) else mask_account(address)


def safe_error(exc: BaseException, *secrets: str) -> str:
    """An exception as one short line without secrets or personal data."""
    text = f"{type(exc).__name__}: {exc}"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(scrub_text(text).split())[:300]
