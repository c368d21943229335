"""Reminders as WeChat subscription messages (订阅消息, ``subscribe/send``).

``POST https://api.weixin.qq.com/cgi-bin/message/subscribe/send?access_token=TOKEN`` with the
JSON body ``{"touser": openid, "template_id": ..., "data": {"thing1": {"value": ...}, ...},
"miniprogram_state": "formal", "lang": "zh_CN"}``; the answer ``{"errcode": 0, "errmsg": "ok",
"msgid": ...}`` means accepted. The biller's template names which parameter fills each field
(``{"thing1": "biller", "amount2": "amount"}``); ``thing`` fields are cut to 20 characters and
``amount`` fields carry ``元``, as the template field types require.

The access token comes from an :class:`AccessTokens` provider. :class:`StableTokens` asks
WeChat's ``stable_token`` endpoint with the app id and secret (a *reference* in the settings:
``app_secret_env`` or ``app_secret_file``) and keeps each token until shortly before it
expires; a deployment whose tokens are kept by a central service plugs that in instead.
Tokens and secrets never reach a log or a stored error.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Protocol

from billfold.adapters.outbox.reminders.message import (
    HttpPoster,
    Outgoing,
    Sent,
    safe_error,
)
from billfold.channels.secrets import Secrets, secret, text_setting
from billfold.clock import Clock
from billfold.collection.reminder import ReminderChannel
from billfold.errors import BillfoldError, ConfigurationError

__all__ = ["SEND_URL", "TOKEN_URL", "AccessTokens", "StableTokens", "WechatSubscribe", "fields"]

SEND_URL = "https://api.weixin.qq.com/cgi-bin/message/subscribe/send"
TOKEN_URL = "https://api.weixin.qq.com/cgi-bin/stable_token"
#: the token was refused: forget it and fetch another next time
STALE_TOKEN = frozenset({40001, 40014, 42001})
#: the payer did not (or no longer) accept this template, or the openid is not the app's
PERMANENT = frozenset({43101, 40003, 40037, 47003})
_JSON = {"Content-Type": "application/json"}


class AccessTokens(Protocol):
    def token(self, app_id: str, credentials: dict[str, str]) -> str:
        """A valid access token for ``app_id``; raise ConfigurationError when none can be had."""
        ...

    def forget(self, app_id: str) -> None:
        """Drop a token WeChat refused."""
        ...


class StableTokens:
    """Access tokens from WeChat's ``stable_token`` endpoint, kept until 5 minutes before
    they expire."""

    def __init__(self, http: HttpPoster, secrets: Secrets, clock: Clock) -> None:
        self.http = http
        self.secrets = secrets
        self.clock = clock
        self._kept: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def token(self, app_id: str, credentials: dict[str, str]) -> str:
        now = self.clock.now()
        with self._lock:
            kept = self._kept.get(app_id)
            if kept is not None and kept[1] > now:
                return kept[0]
        app_secret = secret(
            self.secrets, credentials, "app_secret", where="reminder settings (wechat)"
        ).decode("utf-8")
        body = json.dumps(
            {"grant_type": "client_credential", "appid": app_id, "secret": app_secret}
        ).encode()
        try:
            answer = self.http.post(TOKEN_URL, _JSON, body)
            found = json.loads(answer.body.decode("utf-8"))
            token, expires = str(found["access_token"]), int(found.get("expires_in", 7200))
        except Exception as exc:
            raise ConfigurationError(
                f"wechat access token for {app_id}: {safe_error(exc, app_secret)}"
            ) from None
        with self._lock:
            self._kept[app_id] = (token, now + timedelta(seconds=max(60, expires - 300)))
        return token

    def forget(self, app_id: str) -> None:
        with self._lock:
            self._kept.pop(app_id, None)


def fields(template: dict[str, object], params: dict[str, str]) -> dict[str, dict[str, str]]:
    """The ``data`` of a subscription message: each field filled from its parameter."""
    data: dict[str, dict[str, str]] = {}
    sources = template.get("fields")
    if not isinstance(sources, dict):
        return data
    for key, source in sources.items():
        value = params.get(str(source)) or "-"
        if key.startswith("thing"):
            value = value[:20]
        elif key.startswith("amount"):
            value = f"{value}元"
        elif key.startswith("character_string"):
            value = value[:32]
        data[str(key)] = {"value": value}
    return data


class WechatSubscribe:
    """Sends reminders with ``subscribe/send``; ``http`` posts (HTTPS, or a sandbox)."""

    channel = ReminderChannel.WECHAT

    def __init__(
        self, http: HttpPoster, tokens: AccessTokens, *, state: str = "formal", page: str = ""
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.state = state
        self.page = page

    def request(self, message: Outgoing) -> dict[str, object]:
        template = message.template if isinstance(message.template, dict) else {}
        body: dict[str, object] = {
            "touser": message.address,
            "template_id": str(template.get("template_id", "")),
            "data": fields(template, message.params),
            "miniprogram_state": self.state,
            "lang": "zh_CN",
        }
        if self.page:
            body["page"] = self.page
        return body

    def send(self, message: Outgoing) -> Sent:
        where = "reminder settings (wechat)"
        try:
            app_id = text_setting(message.credentials, "app_id", where)
            token = self.tokens.token(app_id, message.credentials)
        except BillfoldError as exc:
            return Sent(False, error=exc.message)
        body = json.dumps(self.request(message), ensure_ascii=False).encode("utf-8")
        try:
            answer = self.http.post(f"{SEND_URL}?access_token={token}", _JSON, body)
            found = json.loads(answer.body.decode("utf-8"))
            code, text = int(found.get("errcode", -1)), str(found.get("errmsg", ""))[:200]
        except Exception as exc:
            return Sent(False, error=safe_error(exc, token))
        if code == 0:
            return Sent(True, ref=str(found.get("msgid", ""))[:64] or None)
        if code in STALE_TOKEN:
            self.tokens.forget(app_id)
        return Sent(
            False,
            error=f"errcode {code}: {text.replace(token, '***')}",
            permanent=code in PERMANENT,
        )
