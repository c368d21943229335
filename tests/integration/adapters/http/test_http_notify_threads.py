"""Notifications are verified and confirmed in at most ``NOTIFY_THREADS`` threads of a worker
at once; the others wait their turn in the event loop and are all answered (issue 16)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping

import httpx

from billfold import Engine
from billfold.adapters.db.connect import make_engine
from billfold.adapters.http import notify
from billfold.adapters.http.app import create_app
from billfold.channels.base import ChannelEvent, EventKind, NotificationReply
from billfold.channels.signed_json import json_reply
from billfold.clock import FixedClock


class CountingChannel:
    """Answers every notification with an event that needs no action, counting how many
    are being parsed at the same moment."""

    name = "counting"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelEvent:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.02)  # a database round trip or two
        with self.lock:
            self.now -= 1
        return ChannelEvent(
            self.name, EventKind.FAILED, body.decode(), "T1", 100, self.engine.clock.now()
        )

    def reply(self, accepted: bool, message: str = "") -> NotificationReply:
        return json_reply(accepted, message)


def test_at_most_notify_threads_notifications_run_at_once(clock: FixedClock) -> None:
    engine = Engine(make_engine("sqlite://"), clock)  # nothing is read or written
    channel = CountingChannel(engine)
    app = create_app(engine, {"counting": channel})  # type: ignore[dict-item]
    many = notify.NOTIFY_THREADS * 3

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *(client.post("/v1/notify/counting", content=f"O{i}") for i in range(many))
            )

    try:
        answers = asyncio.run(send_all())
    finally:
        engine.close()
    assert [a.status_code for a in answers] == [200] * many
    assert 1 <= channel.peak <= notify.NOTIFY_THREADS, channel.peak
