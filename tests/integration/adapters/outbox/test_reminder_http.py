"""The reminder senders over real HTTP (httpx to a sandbox provider on 127.0.0.1)."""

from __future__ import annotations

from datetime import UTC, datetime

from billfold.adapters.outbox.reminders.aliyun_sms import AliyunSms
from billfold.adapters.outbox.reminders.message import HttpxPoster, Outgoing
from billfold.channels.secrets import DictSecrets
from billfold.clock import FixedClock
from billfold.collection.reminder import ReminderKind
from billfold.testing.local_http import BackgroundHttpServer, QuietHandler
from billfold.testing.sandbox.reminders import SandboxReminderApi

API = SandboxReminderApi(sms_keys={"LTAI5t": "http-secret-value"})


class Provider(QuietHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = API.post("https://dysmsapi.aliyuncs.com/", dict(self.headers), body)
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)


def outgoing(secret_env: str) -> Outgoing:
    params = {"biller": "一中", "bill_no": "T1", "amount": "1.00", "due_date": ""}
    creds = {"access_key_id": "LTAI5t", "access_key_secret_env": secret_env}
    return Outgoing(1, ReminderKind.PAID, "13812345678", "SMS_1", params, "一中", creds)


def test_an_sms_goes_over_http_signed_and_a_wrong_secret_is_refused() -> None:
    clock = FixedClock(datetime(2026, 9, 1, 2, 0, tzinfo=UTC))
    secrets = DictSecrets({"GOOD": "http-secret-value", "BAD": "not-the-secret"})
    with BackgroundHttpServer(Provider) as server, HttpxPoster(5.0) as http:
        sms = AliyunSms(http, secrets, clock, endpoint=server.base_url)
        sent = sms.send(outgoing("GOOD"))
        refused = sms.send(outgoing("BAD"))
    assert sent.ok and sent.ref == API.messages[0].ref
    assert API.messages[0].params["amount"] == "1.00"
    assert (refused.ok, refused.error) == (False, "HTTP 400 SignatureDoesNotMatch: sandbox")
    assert len(API.messages) == 1


def test_no_answer_is_a_failed_attempt_without_the_secret() -> None:
    clock = FixedClock()
    with HttpxPoster(0.5) as http:
        sms = AliyunSms(
            http, DictSecrets({"GOOD": "http-secret-value"}), clock, endpoint="http://127.0.0.1:9/"
        )
        failed = sms.send(outgoing("GOOD"))
    assert failed.ok is False and failed.permanent is False
    assert failed.error is not None and failed.error.startswith("ConnectError")
    assert "http-secret-value" not in failed.error
