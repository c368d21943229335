"""SMS reminders in the request format of Alibaba Cloud SMS ``SendSms`` (API 2017-05-25).

The request is an RPC call: the common parameters (``AccessKeyId``, ``Action=SendSms``,
``Format=JSON``, ``RegionId``, ``SignatureMethod=HMAC-SHA1``, ``SignatureNonce``,
``SignatureVersion=1.0``, ``Timestamp`` as ``yyyy-MM-ddTHH:mm:ssZ`` in UTC, ``Version``) and
the operation's (``PhoneNumbers``, ``SignName``, ``TemplateCode``, ``TemplateParam`` as JSON,
``OutId``), signed as Alibaba Cloud's signature method V2 for RPC APIs says, step by step:

1. sort the parameters (``Signature`` excluded) by name;
2. percent-encode each name and value as UTF-8, leaving only ``A-Z a-z 0-9 - _ . ~``
   unencoded (a space is ``%20``, ``*`` is ``%2A``, ``~`` stays), and join them as
   ``name=value`` with ``&`` — the canonicalized query string;
3. ``StringToSign = METHOD + "&" + percent("/") + "&" + percent(canonicalized)``;
4. ``Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))``.

It is posted as a form to ``https://dysmsapi.aliyuncs.com/``; the answer is JSON whose
``Code`` is ``"OK"`` when the message was accepted (its ``BizId`` identifies it).

Credentials come from the biller's reminder settings, as references: ``access_key_id`` and
``access_key_secret_env`` (or ``_file``); the secret is read when sending and never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC
from urllib.parse import quote

from billfold.adapters.outbox.reminders.message import (
    HttpPoster,
    Outgoing,
    Sent,
    safe_error,
)
from billfold.channels.secrets import Secrets, secret, text_setting
from billfold.clock import Clock
from billfold.collection.reminder import ReminderChannel
from billfold.errors import BillfoldError

__all__ = ["ENDPOINT", "AliyunSms", "percent", "sign", "string_to_sign"]

ENDPOINT = "https://dysmsapi.aliyuncs.com/"
#: answers that sending again will not change
PERMANENT = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.INVALID_PARAMETERS",
        "isv.BLACK_KEY_CONTROL_LIMIT",
    }
)


def percent(value: str) -> str:
    """Alibaba Cloud's percent-encoding (RFC 3986 unreserved characters left as they are)."""
    return quote(value, safe="-_.~", encoding="utf-8")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )
    return f"{method}&{percent('/')}&{percent(canonical)}"


def sign(access_key_secret: str, method: str, params: Mapping[str, str]) -> str:
    """The ``Signature`` of a request (Base64 HMAC-SHA1 keyed with ``secret + "&"``)."""
    key = (access_key_secret + "&").encode("utf-8")
    digest = hmac.new(key, string_to_sign(method, params).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


class AliyunSms:
    """Sends reminders with ``SendSms``; ``http`` posts (HTTPS, or a sandbox)."""

    channel = ReminderChannel.SMS

    def __init__(
        self,
        http: HttpPoster,
        secrets: Secrets,
        clock: Clock,
        *,
        endpoint: str = ENDPOINT,
        region: str = "cn-hangzhou",
        nonce: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.http = http
        self.secrets = secrets
        self.clock = clock
        self.endpoint = endpoint
        self.region = region
        self.nonce = nonce

    def request(self, message: Outgoing, key_id: str, key_secret: str) -> dict[str, str]:
        """The signed form parameters of a ``SendSms`` call for ``message``."""
        now = self.clock.now().astimezone(UTC)
        params = {
            "AccessKeyId": key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": str(message.reminder_id),
            "PhoneNumbers": message.address,
            "RegionId": self.region,
            "SignName": message.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self.nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": str(message.template),
            "TemplateParam": json.dumps(message.params, ensure_ascii=False, sort_keys=True),
            "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = sign(key_secret, "POST", params)
        return params

    def send(self, message: Outgoing) -> Sent:
        where = "reminder settings (sms)"
        try:
            key_id = text_setting(message.credentials, "access_key_id", where)
            key_secret = secret(self.secrets, message.credentials, "access_key_secret", where=where)
        except BillfoldError as exc:
            return Sent(False, error=exc.message, permanent=False)
        plain = key_secret.decode("utf-8").strip()
        params = self.request(message, key_id, plain)
        body = "&".join(f"{percent(k)}={percent(v)}" for k, v in params.items()).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        try:
            answer = self.http.post(self.endpoint, headers, body)
        except Exception as exc:
            return Sent(False, error=safe_error(exc, plain))
        try:
            found = json.loads(answer.body.decode("utf-8"))
            code, text = str(found.get("Code", "")), str(found.get("Message", ""))[:200]
        except (UnicodeDecodeError, ValueError, AttributeError):
            return Sent(False, error=f"HTTP {answer.status}: not the JSON SendSms answers")
        if answer.status == 200 and code == "OK":
            return Sent(True, ref=str(found.get("BizId") or "")[:64] or None)
        return Sent(
            False, error=f"HTTP {answer.status} {code}: {text}", permanent=code in PERMANENT
        )
