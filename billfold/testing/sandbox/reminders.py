"""Sandbox reminder providers: Alibaba Cloud SMS ``SendSms`` and WeChat ``subscribe/send``.

:class:`SandboxReminderApi` stands where the providers' HTTPS endpoints stand (it is a
:class:`~billfold.adapters.outbox.reminders.message.HttpPoster`), so the real senders build,
sign and post their requests to it. It records what would have been sent and answers in the
providers' success shapes (``{"Code": "OK", "BizId": ...}``, ``{"errcode": 0, "msgid": ...}``).
Given the keys (``sms_keys``: AccessKeyId → secret; ``wechat_apps``: app id → secret) it
checks the SMS signature and the app secret as the providers would, and refuses a wrong
one the way they do. Scripted failures: :meth:`fail_next` and :meth:`refuse`.

:func:`sandbox_senders` wires both senders to one sandbox, for the demo, the worker's
sandbox mode and tests. Thread-safe.
"""

from __future__ import annotations

import hmac
import itertools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from billfold.adapters.outbox.reminders.aliyun_sms import AliyunSms, sign
from billfold.adapters.outbox.reminders.message import HttpAnswer, ReminderSender
from billfold.adapters.outbox.reminders.wechat_subscribe import (
    SEND_URL,
    TOKEN_URL,
    StableTokens,
    WechatSubscribe,
)
from billfold.channels.secrets import DictSecrets, EnvSecrets, Secrets
from billfold.clock import Clock

__all__ = ["SandboxMessage", "SandboxReminderApi", "sandbox_senders"]


@dataclass(frozen=True, slots=True)
class SandboxMessage:
    """A message the sandbox accepted: what the provider would have delivered."""

    channel: str  # "sms" or "wechat"
    address: str  # the phone number or openid
    template: str  # SMS template code or WeChat template id
    params: dict[str, str]
    ref: str  # the BizId or msgid answered
    out_id: str = ""
    sign_name: str = ""
    request: dict[str, str] = field(default_factory=dict, repr=False)


class SandboxReminderApi:
    def __init__(
        self,
        *,
        sms_keys: Mapping[str, str] | None = None,
        wechat_apps: Mapping[str, str] | None = None,
    ) -> None:
        self.sms_keys = dict(sms_keys or {})
        self.wechat_apps = dict(wechat_apps or {})
        self.messages: list[SandboxMessage] = []
        self.requests = 0
        self._tokens: dict[str, str] = {}
        self._failures: list[HttpAnswer] = []
        self._refused: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- scripting --------------------------------------------------------------------------
    def fail_next(self, times: int = 1, status: int = 500) -> None:
        """The next ``times`` sends fail with ``status`` (a provider outage)."""
        with self._lock:
            body = json.dumps({"Code": "ServiceUnavailable", "Message": "sandbox outage"})
            self._failures.extend([HttpAnswer(status, body.encode())] * times)

    def refuse(self, address: str) -> None:
        """Refuse every message to ``address`` for good (a bad number, no subscription)."""
        with self._lock:
            self._refused.add(address)

    def sent_to(self, address: str) -> list[SandboxMessage]:
        with self._lock:
            return [m for m in self.messages if m.address == address]

    # -- the providers' endpoints -----------------------------------------------------------
    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> HttpAnswer:
        with self._lock:
            self.requests += 1
            path = url.split("?", 1)[0]
            if path == TOKEN_URL:
                return self._token(body)
            if self._failures:
                return self._failures.pop(0)
            if path == SEND_URL:
                return self._wechat(url, body)
            return self._sms(body)

    def _sms(self, body: bytes) -> HttpAnswer:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        key = self.sms_keys.get(params.get("AccessKeyId", ""))
        if key is not None:
            expected = sign(key, "POST", params)
            if not hmac.compare_digest(expected, params.get("Signature", "")):
                return _json(400, {"Code": "SignatureDoesNotMatch", "Message": "sandbox"})
        phone = params.get("PhoneNumbers", "")
        if phone in self._refused:
            return _json(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"})
        ref = f"SANDBOX{next(self._ids):012d}"
        self.messages.append(
            SandboxMessage(
                "sms",
                phone,
                params.get("TemplateCode", ""),
                json.loads(params.get("TemplateParam") or "{}"),
                ref,
                params.get("OutId", ""),
                params.get("SignName", ""),
                params,
            )
        )
        return _json(200, {"Code": "OK", "Message": "OK", "BizId": ref, "RequestId": ref})

    def _token(self, body: bytes) -> HttpAnswer:
        asked = json.loads(body.decode("utf-8"))
        app_id, secret = str(asked.get("appid", "")), str(asked.get("secret", ""))
        known = self.wechat_apps.get(app_id)
        if known is not None and not hmac.compare_digest(known, secret):
            return _json(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
        token = self._tokens.setdefault(app_id, f"sandbox-token-{next(self._ids)}")
        return _json(200, {"access_token": token, "expires_in": 7200})

    def _wechat(self, url: str, body: bytes) -> HttpAnswer:
        token = dict(parse_qsl(urlsplit(url).query)).get("access_token", "")
        if token not in self._tokens.values():
            return _json(200, {"errcode": 40001, "errmsg": "invalid credential"})
        asked = json.loads(body.decode("utf-8"))
        openid = str(asked.get("touser", ""))
        if openid in self._refused:
            return _json(200, {"errcode": 43101, "errmsg": "user refuse to accept the msg"})
        data = {k: str(v.get("value", "")) for k, v in dict(asked.get("data", {})).items()}
        msgid = next(self._ids)
        self.messages.append(
            SandboxMessage("wechat", openid, str(asked.get("template_id", "")), data, str(msgid))
        )
        return _json(200, {"errcode": 0, "errmsg": "ok", "msgid": msgid})


def _json(status: int, value: object) -> HttpAnswer:
    return HttpAnswer(status, json.dumps(value, ensure_ascii=False).encode("utf-8"))


def sandbox_senders(
    clock: Clock,
    secrets: Secrets | Mapping[str, str] | None = None,
    api: SandboxReminderApi | None = None,
) -> tuple[dict[str, ReminderSender], SandboxReminderApi]:
    """Both reminder senders posting to one sandbox; secrets from ``secrets`` (a mapping of
    variable names or paths to values, or a :class:`Secrets`; default: the environment)."""
    api = api or SandboxReminderApi()
    if secrets is None:
        found: Secrets = EnvSecrets()
    elif isinstance(secrets, Mapping):
        found = DictSecrets(dict(secrets))
    else:
        found = secrets
    senders: dict[str, ReminderSender] = {
        "sms": AliyunSms(api, found, clock),
        "wechat": WechatSubscribe(api, StableTokens(api, found, clock)),
    }
    return senders, api
