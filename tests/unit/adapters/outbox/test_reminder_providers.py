"""The reminder providers' request formats: Alibaba Cloud SendSms (signature method V2 for
RPC APIs, checked against the worked example in Alibaba Cloud's SMS documentation) and
WeChat subscribe/send with a stable access token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from billfold.adapters.outbox.reminders.aliyun_sms import AliyunSms, percent, sign, string_to_sign
from billfold.adapters.outbox.reminders.message import HttpAnswer, Outgoing, mask_address
from billfold.adapters.outbox.reminders.wechat_subscribe import StableTokens, WechatSubscribe
from billfold.channels.secrets import DictSecrets
from billfold.clock import FixedClock
from billfold.collection.reminder import ReminderKind
from billfold.testing.sandbox.reminders import SandboxReminderApi

#: Alibaba Cloud's published example (SMS "signature method", help.aliyun.com document
#: 101343): AccessKeyId testId, secret testSecret, these parameters, GET.
DOC_PARAMS = {
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "AccessKeyId": "testId",
    "SignatureVersion": "1.0",
    "Timestamp": "2017-07-12T02:42:19Z",
    "Format": "XML",
    "Action": "SendSms",
    "Version": "2017-05-25",
    "RegionId": "cn-hangzhou",
    "PhoneNumbers": "15300000001",
    "SignName": "阿里云短信测试专用",
    "TemplateParam": '{"customer":"test"}',
    "TemplateCode": "SMS_71390007",
    "OutId": "123",
}


def test_the_signature_matches_alibaba_clouds_worked_example() -> None:
    assert sign("testSecret", "GET", DOC_PARAMS) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert percent(sign("testSecret", "GET", DOC_PARAMS)) == "zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D"


def test_the_string_to_sign_is_sorted_and_encoded_as_the_spec_says() -> None:
    signed = string_to_sign("GET", {**DOC_PARAMS, "Signature": "ignored"})
    assert signed.startswith("GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML")
    assert "SignName%3D%25E9%2598%25BF" in signed  # UTF-8, then encoded again
    assert "TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D" in signed
    assert "Signature%3D" not in signed.replace("SignatureMethod", "").replace(
        "SignatureNonce", ""
    ).replace("SignatureVersion", "")
    assert percent("a b*c~") == "a%20b%2Ac~"


class Recorder:
    def __init__(self, answer: dict[str, object]) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, str], bytes]] = []

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> HttpAnswer:
        self.calls.append((url, dict(headers), body))
        return HttpAnswer(200, json.dumps(self.answer).encode())


def message(address: str, template: object, credentials: dict[str, str]) -> Outgoing:
    params = {"biller": "一中", "bill_no": "T1", "amount": "12.34", "due_date": "2026-09-04"}
    return Outgoing(7, ReminderKind.DUE_SOON, address, template, params, "一中", credentials)


def test_send_sms_posts_a_form_signed_with_the_secret_it_names() -> None:
    http = Recorder({"Code": "OK", "Message": "OK", "BizId": "9006197469364984^0"})
    clock = FixedClock(datetime(2026, 9, 1, 2, 0, tzinfo=UTC))
    sms = AliyunSms(http, DictSecrets({"SMS_SECRET": "s3cr3t"}), clock, nonce=lambda: "n-1")
    creds = {"access_key_id": "LTAI5t", "access_key_secret_env": "SMS_SECRET"}

    sent = sms.send(message("13812345678", "SMS_101", creds))

    assert (sent.ok, sent.ref) == (True, "9006197469364984^0")
    [(url, headers, body)] = http.calls
    assert url == "https://dysmsapi.aliyuncs.com/"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(body.decode()))
    assert {k: form[k] for k in ("Action", "Version", "PhoneNumbers", "TemplateCode", "OutId")} == {
        "Action": "SendSms",
        "Version": "2017-05-25",
        "PhoneNumbers": "13812345678",
        "TemplateCode": "SMS_101",
        "OutId": "7",
    }
    assert (form["Timestamp"], form["SignatureNonce"]) == ("2026-09-01T02:00:00Z", "n-1")
    assert json.loads(form["TemplateParam"])["amount"] == "12.34"
    # an independent computation of the same algorithm over the posted form
    canonical = "&".join(
        f"{percent(k)}={percent(v)}" for k, v in sorted(form.items()) if k != "Signature"
    )
    to_sign = "POST&%2F&" + percent(canonical)
    mac = hmac.new(b"s3cr3t&", to_sign.encode(), hashlib.sha1).digest()
    assert form["Signature"] == base64.b64encode(mac).decode()
    assert b"s3cr3t" not in body


def test_sms_refusals_are_permanent_or_retried_as_the_code_says() -> None:
    clock = FixedClock()
    creds = {"access_key_id": "LTAI5t", "access_key_secret_env": "S"}
    secrets = DictSecrets({"S": "x"})
    bad = AliyunSms(
        Recorder({"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法"}), secrets, clock
    )
    busy = AliyunSms(
        Recorder({"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "限流"}), secrets, clock
    )
    assert bad.send(message("1", "SMS_1", creds)).permanent is True
    answer = busy.send(message("1", "SMS_1", creds))
    assert (answer.ok, answer.permanent, answer.error) == (
        False,
        False,
        "HTTP 200 isv.BUSINESS_LIMIT_CONTROL: 限流",
    )


def test_wechat_sends_the_template_fields_with_a_kept_stable_token() -> None:
    api = SandboxReminderApi(wechat_apps={"wx1": "appsecret"})
    clock = FixedClock(datetime(2026, 9, 1, 2, 0, tzinfo=UTC))
    tokens = StableTokens(api, DictSecrets({"WX": "appsecret"}), clock)
    wechat = WechatSubscribe(api, tokens)
    creds = {"app_id": "wx1", "app_secret_env": "WX"}
    template = {"template_id": "T-1", "fields": {"thing1": "biller", "amount2": "amount"}}

    body = wechat.request(message("oABC", template, creds))
    assert body == {
        "touser": "oABC",
        "template_id": "T-1",
        "data": {"thing1": {"value": "一中"}, "amount2": {"value": "12.34元"}},
        "miniprogram_state": "formal",
        "lang": "zh_CN",
    }
    assert wechat.send(message("oABC", template, creds)).ok
    assert wechat.send(message("oABC", template, creds)).ok
    assert api.requests == 3  # one token, two messages
    clock.advance(timedelta(hours=2))
    assert wechat.send(message("oABC", template, creds)).ok
    assert api.requests == 5  # the token expired: fetched again


def test_wechat_refusals_never_carry_the_token_or_secret() -> None:
    api = SandboxReminderApi(wechat_apps={"wx1": "appsecret"})
    clock = FixedClock()
    template = {"template_id": "T-1", "fields": {"thing1": "biller"}}
    wrong = WechatSubscribe(api, StableTokens(api, DictSecrets({"WX": "wrong-secret"}), clock))
    failed = wrong.send(message("oABC", template, {"app_id": "wx1", "app_secret_env": "WX"}))
    assert failed.ok is False and failed.error is not None
    assert "wrong-secret" not in failed.error and "wechat access token for wx1" in failed.error
    api.refuse("oNO")
    right = WechatSubscribe(api, StableTokens(api, DictSecrets({"WX": "appsecret"}), clock))
    refused = right.send(message("oNO", template, {"app_id": "wx1", "app_secret_env": "WX"}))
    assert (refused.permanent, refused.error) == (
        True,
        "errcode 43101: user refuse to accept the msg",
    )


def test_addresses_are_masked_as_phone_numbers_or_by_their_last_four() -> None:
    assert mask_address("13812345678") == "138****5678"
    assert mask_address("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o") == "************************eS6o"
    assert mask_address(None) == ""
