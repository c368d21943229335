"""A fake housing-bureau supervision system, for tests and the demo.

:class:`FakeBureau` is a :class:`~billfold.adapters.outbox.bureau_push.BureauTransport` answering in
memory, and :meth:`FakeBureau.serve` puts the same bureau behind a real HTTP server on
127.0.0.1 (for the httpx transport). Like the real one it verifies the signature, refuses a
push that skips ahead of its project's sequence (409), deduplicates on our push id and
answers a repeat with the receipt number it gave the first time.

It can be told to misbehave (:attr:`mode`):

* ``"ok"`` — take the push and answer with its receipt number;
* ``"fail"`` — answer 503 without taking it;
* ``"timeout"`` — never answer (the transport raises :class:`TimeoutError`); nothing taken;
* ``"answer_twice"`` — take the push, but the answer is lost on the way back (a timeout on
  our side), so billfold sends it again and the bureau answers a second time, with the same
  receipt number.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from billfold.adapters.outbox.bureau_push import BureauAnswer
from billfold.adapters.outbox.signing import WebhookRejected, verify_webhook
from billfold.clock import Clock
from billfold.testing.local_http import BackgroundHttpServer, QuietHandler

__all__ = ["FakeBureau", "FakeBureauServer", "Taken"]

Mode = Literal["ok", "fail", "timeout", "answer_twice"]


@dataclass(frozen=True, slots=True)
class Taken:
    push_id: str
    bureau_code: str
    seq: int
    kind: str
    amount_fen: int
    receipt_no: str


class FakeBureau:
    def __init__(self, secret: str, clock: Clock, mode: Mode = "ok") -> None:
        self.secret = secret
        self.clock = clock
        self.mode: Mode = mode
        self.taken: list[Taken] = []  # each push once, in the order taken
        self.requests = 0  # every request that reached the bureau, repeats included
        self.answers: dict[str, int] = {}  # push id → how many times it was answered 2xx
        self._lock = threading.Lock()

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> BureauAnswer:
        with self._lock:
            self.requests += 1
            if self.mode == "timeout":
                raise TimeoutError("the bureau did not answer within the timeout")
            if self.mode == "fail":
                return BureauAnswer(503, b'{"error": "system maintenance"}')
            try:
                event = verify_webhook(self.secret, headers, body, self.clock.now())
            except WebhookRejected as exc:
                return _json(401, {"error": exc.message})
            answer = self._take(event.event_id, event.body["data"])
            if self.mode == "answer_twice" and self.answers[event.event_id] == 1:
                raise TimeoutError("the bureau's answer was lost on the way back")
            return answer

    def _take(self, ident: str, data: dict[str, Any]) -> BureauAnswer:
        known = next((t for t in self.taken if t.push_id == ident), None)
        if known is None:
            code, seq = str(data["bureau_code"]), int(data["seq"])
            last = max((t.seq for t in self.taken if t.bureau_code == code), default=0)
            if seq != last + 1:
                return _json(409, {"error": f"expected seq {last + 1} of {code}, got {seq}"})
            receipt = f"HZJG{len(self.taken) + 1:08d}"
            known = Taken(ident, code, seq, str(data["kind"]), int(data["amount_fen"]), receipt)
            self.taken.append(known)
        self.answers[ident] = self.answers.get(ident, 0) + 1
        return _json(200, {"receipt_no": known.receipt_no, "push_id": ident})

    def serve(self) -> FakeBureauServer:
        return FakeBureauServer(self)


class FakeBureauServer(BackgroundHttpServer):
    """``with bureau.serve() as server:`` — the bureau at ``server.url`` over real HTTP.
    In ``timeout`` mode the server waits ``hang`` seconds before answering 504."""

    def __init__(self, bureau: FakeBureau, hang: float = 2.0) -> None:
        self.bureau = bureau
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    answer = outer.bureau.post(self.path, dict(self.headers), body)
                except TimeoutError:
                    threading.Event().wait(hang)
                    answer = BureauAnswer(504, b"")
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        super().__init__(Handler)
        self.url = self.base_url + "supervision/push"


def _json(status: int, body: dict[str, Any]) -> BureauAnswer:
    return BureauAnswer(status, json.dumps(body, ensure_ascii=False).encode("utf-8"))
